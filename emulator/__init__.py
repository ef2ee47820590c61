"""The local AWS emulator: moto's server (pinned in requirements-dev.txt) in a process of ours,
with extensions that answer the calls moto lacks and enforce AWS's rules where moto is lenient.

Each extension module (cognito, apigatewayv2, awslambda) registers handlers on a Registry; the
WSGI middleware in core.py runs a matching handler against moto's in-memory backends and passes
everything else (and every request a handler lets through) to moto unchanged."""
