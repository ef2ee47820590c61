"""lambda: AWS's rule moto skips — a statement id is unique in a function's resource policy
(a second AddPermission with it is a 409 ResourceConflictException)."""
from urllib.parse import unquote

from moto.awslambda.models import lambda_backends
from moto.core.exceptions import JsonRESTError

from .core import PASS, AWSError, Registry, RestJSON

PROTOCOL = RestJSON(lambda_style=True)


def register(reg: Registry):
    @reg.rest(PROTOCOL, "POST", r"/2015-03-31/functions/(?P<function>[^/]+)/policy", "AddPermission", check_only=True)
    def add_permission(call):
        sid = call.json().get("StatementId")
        if call.query_value("Qualifier"):
            return PASS  # a version's or alias's policy: moto's answer stands
        try:
            fn = lambda_backends[call.account][call.region].get_function(unquote(call.params["function"]))
        except JsonRESTError:
            return PASS  # moto answers the missing function
        if any(s.get("Sid") == sid for s in fn.policy.statements):
            raise AWSError("ResourceConflictException", f"The statement id ({sid}) provided already exists. "
                           "Please provide a new statement id, or remove the existing statement.", 409)
        return PASS
