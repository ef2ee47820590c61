"""The WSGI application: moto's server app wrapped by our extensions."""
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from . import apigatewayv2, awslambda, cognito, dataplane, lambda_runtime, oauth
from .core import Emulator, Registry

# One module per service or data plane; each registers its handlers: the control-plane calls
# moto lacks, then the Cognito OAuth2 endpoints, Lambda invocation and the execute-api data plane.
EXTENSIONS = [cognito, apigatewayv2, awslambda, oauth, lambda_runtime, dataplane]


def create_app():
    registry = Registry()
    for extension in EXTENSIONS:
        extension.register(registry)
    return Emulator(DomainDispatcherApplication(create_backend_app), registry)
