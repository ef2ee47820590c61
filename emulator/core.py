"""The middleware between the HTTP server and moto, and the registry extensions plug into.

A handler gets a Call (the parsed request: method, path, body, account, region) and either
answers (a werkzeug Response, or an AWSError rendered in its service's protocol) or returns PASS
to let moto answer. Three kinds of registration:
  - json_op(target_prefix, operation): JSON 1.1 services, matched on X-Amz-Target;
  - rest(protocol, method, path_regex): REST-JSON control-plane calls, matched on method + path;
  - http(method, path_regex): plain HTTP endpoints of our own (errors are the handler's business),
    for URLs moto does not serve at all, e.g. `/_aws/...` or `/oauth2/...`.
A handler registered with check_only=True only checks an AWS rule before moto acts: it is
authenticated (when moto verifies signatures) only if it refuses the call, since moto does its
own check for what it lets through."""
import io
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

DEFAULT_REGION = "us-east-1"
PASS = object()  # a handler's "let moto answer"


class AWSError(Exception):
    """An error as the service reports it: its code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status

    @classmethod
    def from_moto(cls, e) -> "AWSError":
        """A moto service exception (JsonRESTError: error_type, message, code; or
        ServiceException: code, message) as ours."""
        if hasattr(e, "error_type"):
            return cls(e.error_type, e.message, int(e.code))
        return cls(str(e.code), e.message, 400)


@dataclass
class Call:
    environ: dict
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    params: dict = field(default_factory=dict)  # named groups of the matched path

    @property
    def credential_scope(self) -> list:
        """['AKID', 'date', 'region', 'service', 'aws4_request'] of a SigV4 Authorization, else []."""
        auth = self.headers.get("Authorization", "")
        m = re.search(r"Credential=([^,\s]+)", auth)
        parts = m.group(1).split("/") if m else []
        return parts if len(parts) == 5 else []

    @property
    def region(self) -> str:
        scope = self.credential_scope
        return scope[2] if scope else DEFAULT_REGION

    @property
    def access_key(self) -> str:
        scope = self.credential_scope
        return scope[0] if scope else ""

    @property
    def account(self) -> str:
        """The account moto itself would use for this request (same precedence as moto's)."""
        from moto.iam.models import get_account_id_from
        if "MOTO_ACCOUNT_ID" in os.environ:
            return os.environ["MOTO_ACCOUNT_ID"]
        if self.headers.get("x-moto-account-id"):
            return self.headers["x-moto-account-id"]
        return get_account_id_from(self.access_key)

    def json(self) -> dict:
        if not self.body:
            return {}
        try:
            value = json.loads(self.body)
        except ValueError:
            raise AWSError("SerializationException", "the request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise AWSError("SerializationException", "the request body is not a JSON object")
        return value

    def query_value(self, name: str, default=None):
        values = self.query.get(name)
        return values[0] if values else default


# --- protocols: how each service writes its errors ------------------------------------------

class Protocol:
    def error(self, e: AWSError) -> Response:
        raise NotImplementedError


class JSON11(Protocol):
    """awsJson1_1 (cognito-idp): `__type` in the body."""

    def error(self, e):
        return Response(json.dumps({"__type": e.code, "message": e.message}), status=e.status,
                        content_type="application/x-amz-json-1.1", headers={"x-amzn-ErrorType": e.code})


class RestJSON(Protocol):
    """restJson1: the code in `x-amzn-ErrorType`, the message in the body (`message`, or
    `Message` with `Type` as Lambda writes it)."""

    def __init__(self, lambda_style=False):
        self.lambda_style = lambda_style

    def error(self, e):
        body = {"Type": "User", "Message": e.message} if self.lambda_style else {"message": e.message}
        return Response(json.dumps(body), status=e.status, content_type="application/json",
                        headers={"x-amzn-ErrorType": e.code})


def json_response(value, status=200, content_type="application/json") -> Response:
    return Response(json.dumps(value, default=str), status=status, content_type=content_type)


# --- the registry ------------------------------------------------------------------------------

@dataclass
class Handler:
    fn: Callable
    protocol: Protocol | None
    check_only: bool
    action: str  # IAM action name for moto's signature/permission check, e.g. "DeleteResourceServer"


class Registry:
    def __init__(self):
        self.json_ops: dict[tuple[str, str], Handler] = {}
        self.routes: list[tuple[str, re.Pattern, Handler]] = []

    def json_op(self, target_prefix: str, operation: str, check_only=False):
        def register(fn):
            self.json_ops[(target_prefix, operation)] = Handler(fn, JSON11(), check_only, operation)
            return fn
        return register

    def rest(self, protocol: Protocol, method: str, pattern: str, action: str, check_only=False):
        def register(fn):
            self.routes.append((method, re.compile(pattern + r"\Z"), Handler(fn, protocol, check_only, action)))
            return fn
        return register

    def http(self, method: str, pattern: str):
        def register(fn):
            self.routes.append((method, re.compile(pattern + r"\Z"), Handler(fn, None, False, "")))
            return fn
        return register

    def find(self, environ) -> tuple[Handler | None, dict]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target and "." in target:
            prefix, op = target.split(".", 1)
            h = self.json_ops.get((prefix, op))
            return (h, {}) if h else (None, {})
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        for m, pattern, h in self.routes:
            if m == method:
                hit = pattern.match(path)
                if hit:
                    return h, hit.groupdict()
        return None, {}


def authenticate(call: Call, action: str) -> Response | None:
    """moto's own SigV4 and IAM check (active when started with INITIAL_NO_AUTH_ACTION_COUNT),
    for a call we answer instead of moto: its error response, or None when the call may go on."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequest
    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return None
    if call.headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
        return None
    path = call.path + (("?" + call.environ["QUERY_STRING"]) if call.environ.get("QUERY_STRING") else "")
    try:
        if "Authorization" not in call.headers:
            from moto.core.exceptions import InvalidClientTokenIdError
            raise InvalidClientTokenIdError()
        request = IAMRequest(account_id=call.account, method=call.method, path=path, data={}, body=call.body,
                             headers=call.headers, action=action)
        request.check_signature()
        request.check_action_permitted("*")
    except HTTPException as e:
        return Response(e.get_body(), status=e.code, headers=e.get_headers())
    return None


class Emulator:
    """WSGI middleware: our handlers first, moto for everything else."""

    def __init__(self, moto_app, registry: Registry):
        self.moto_app = moto_app
        self.registry = registry
        # moto checks a write's If-Match / If-None-Match and then writes, unlocked, while the
        # server answers requests on many threads: two `If-None-Match: *` PUTs of one key could
        # both succeed. S3 decides conditional writes atomically (one wins, the other gets 412),
        # and a lock made that way (Terraform's, ours) depends on it: they go one at a time.
        self.conditional_writes = threading.Lock()

    def __call__(self, environ, start_response):
        handler, params = self.registry.find(environ)
        if handler is None:
            if environ.get("REQUEST_METHOD") in ("PUT", "POST", "DELETE") and (
                    "HTTP_IF_MATCH" in environ or "HTTP_IF_NONE_MATCH" in environ):
                with self.conditional_writes:
                    return self.moto_app(environ, start_response)
            return self.moto_app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > 0:
            body = environ["wsgi.input"].read(length)
        elif environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream
            body = environ["wsgi.input"].read()
        else:
            body = b""
        # moto reads the body again when the call is passed on.
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        call = Call(environ=environ, method=environ.get("REQUEST_METHOD", "GET"), path=environ.get("PATH_INFO", ""),
                    query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
                    headers=EnvironHeaders(environ), body=body, params=params)
        response = self.run(handler, call)
        if response is PASS:
            environ["wsgi.input"] = io.BytesIO(body)
            return self.moto_app(environ, start_response)
        return response(environ, start_response)

    def run(self, handler: Handler, call: Call):
        from moto.core.exceptions import JsonRESTError, ServiceException
        if handler.protocol is not None and not handler.check_only:
            denied = authenticate(call, handler.action)
            if denied is not None:
                return denied
        try:
            return handler.fn(call)
        except (JsonRESTError, ServiceException) as e:  # raised by moto's backends
            error = AWSError.from_moto(e)
        except AWSError as e:
            error = e
        if handler.protocol is None:
            raise error
        if handler.check_only:
            denied = authenticate(call, handler.action)
            if denied is not None:
                return denied
        return handler.protocol.error(error)
