"""The local AWS emulator: moto's server (pinned in requirements-dev.txt) in a process of ours,
with extensions that answer the calls moto lacks and enforce AWS's rules where moto is lenient.

Each extension module registers handlers on a Registry: control-plane calls (cognito,
apigatewayv2, awslambda) and the data plane moto lacks (oauth: Cognito's hosted UI and OAuth2
endpoints; lambda_runtime: Python functions run locally; dataplane: execute-api with its
authorizers). The WSGI middleware in core.py runs a matching handler against moto's in-memory
backends and passes everything else (and every request a handler lets through) to moto unchanged."""
