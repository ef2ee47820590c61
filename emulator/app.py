"""The WSGI application: moto's server app wrapped by our extensions."""
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from . import apigatewayv2, awslambda, cognito, oauth
from .core import Emulator, Registry

# One module per service; each registers its handlers. Later extensions (the Cognito OAuth2
# endpoints, the execute-api data plane) are modules of the same shape, added here.
EXTENSIONS = [cognito, apigatewayv2, awslambda, oauth]


def create_app():
    registry = Registry()
    for extension in EXTENSIONS:
        extension.register(registry)
    return Emulator(DomainDispatcherApplication(create_backend_app), registry)
