// Stack layer: see DESIGN.md
