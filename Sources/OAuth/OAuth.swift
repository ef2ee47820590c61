// OAuth layer: see DESIGN.md
