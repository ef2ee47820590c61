"""The execute-api data plane of every HTTP API in moto's apigatewayv2 backend, path-style on the
emulator's host:port as LocalStack names it:

  /_aws/execute-api/{api id}/{stage}/{path}   (a `$default` stage: /_aws/execute-api/{api id}/{path})

Routes are matched as API Gateway does (exact, `{param}`, `{proxy+}`, `ANY`, `$default`), each
route's authorization is enforced (JWT, Lambda REQUEST authorizer with payload 2.0, AWS_IAM with
SigV4), and AWS_PROXY Lambda integrations get API Gateway's payload 2.0 event; the function runs
locally (lambda_runtime) and its answer is mapped to HTTP by API Gateway's rules."""
import base64
import fnmatch
import json
import threading
import time
import traceback
import urllib.request
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from moto.apigatewayv2.models import apigatewayv2_backends
from werkzeug.wrappers import Response

from . import lambda_runtime, oauth, sigv4, tokens
from .core import Registry

EXECUTE = r"/_aws/execute-api/(?P<api>[A-Za-z0-9]+)(?P<rest>/.*)?"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
JWKS_TTL = 300  # seconds an external issuer's JWKS is kept
_jwks_cache: dict[str, tuple[float, dict]] = {}
_jwks_lock = threading.Lock()


class Denied(Exception):
    """An answer API Gateway gives instead of calling the integration."""

    def __init__(self, status: int, message: str, headers=None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def not_found():
    return Denied(404, "Not Found")


def unauthorized(description=None):
    headers = {}
    if description:
        headers["www-authenticate"] = f'Bearer scope="" error="invalid_token" error_description="{description}"'
    return Denied(401, "Unauthorized", headers)


def forbidden(message="Forbidden", headers=None):
    return Denied(403, message, headers)


def internal_error():
    return Denied(500, "Internal Server Error")


# --- the request as API Gateway sees it ------------------------------------------------------------

class Request:
    def __init__(self, call, api, account, region, stage, path):
        self.call, self.api, self.account, self.region = call, api, account, region
        self.stage, self.path = stage, path  # path: after the stage, as routes see it
        self.method = call.method
        self.request_id = base64.b64encode(uuid.uuid4().bytes[:10]).decode().rstrip("=")
        raw_uri = call.environ.get("RAW_URI") or call.environ.get("REQUEST_URI") or call.path
        self.raw_target = raw_uri
        raw_path = raw_uri.split("?", 1)[0]
        prefix = f"/_aws/execute-api/{api.api_id}"
        # rawPath as API Gateway writes it: the stage's prefix kept, except for $default.
        self.raw_path = raw_path[len(prefix):] or "/"
        self.raw_query = call.environ.get("QUERY_STRING", "")
        self.headers = {}
        for name, value in call.headers.items():
            key = name.lower()
            self.headers[key] = f"{self.headers[key]},{value}" if key in self.headers else value
        self.cookies = [c.strip() for c in self.headers.pop("cookie", "").split(";") if c.strip()]
        self.query = {}
        for name, value in parse_qsl(self.raw_query, keep_blank_values=True):
            self.query[name] = f"{self.query[name]},{value}" if name in self.query else value

    @property
    def route_arn(self):
        """The ARN of this request as authorizers and SourceArn conditions see it."""
        return f"arn:aws:execute-api:{self.region}:{self.account}:{self.api.api_id}/{self.stage.name}/{self.method}{self.path}"

    def context(self, route_key, authorizer=None):
        now = datetime.now(UTC)
        context = {"accountId": self.account, "apiId": self.api.api_id, "domainName": self.call.headers.get("Host", ""),
                   "domainPrefix": self.api.api_id,
                   "http": {"method": self.method, "path": self.raw_path, "protocol": self.call.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                            "sourceIp": self.call.environ.get("REMOTE_ADDR", ""), "userAgent": self.headers.get("user-agent", "")},
                   "requestId": self.request_id, "routeKey": route_key, "stage": self.stage.name,
                   "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(now.timestamp() * 1000)}
        if authorizer is not None:
            context["authorizer"] = authorizer
        return context

    def event(self, route_key, path_parameters, authorizer=None) -> dict:
        """The payload 2.0 event of an AWS_PROXY integration."""
        event = {"version": "2.0", "routeKey": route_key, "rawPath": self.raw_path, "rawQueryString": self.raw_query}
        if self.cookies:
            event["cookies"] = self.cookies
        event["headers"] = dict(self.headers)
        if self.query:
            event["queryStringParameters"] = dict(self.query)
        event["requestContext"] = self.context(route_key, authorizer)
        if self.call.body:
            try:
                event["body"], event["isBase64Encoded"] = self.call.body.decode("utf-8"), False
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(self.call.body).decode(), True
        else:
            event["isBase64Encoded"] = False
        if path_parameters:
            event["pathParameters"] = path_parameters
        if self.stage.stage_variables:
            event["stageVariables"] = dict(self.stage.stage_variables)
        return event

    def identity_value(self, source: str):
        """The value of an identity source (`$request.header.X`, `$request.querystring.X`,
        `$context.X`, `$stageVariables.X`), or None when missing or empty."""
        if source.startswith("$request.header."):
            value = self.headers.get(source[len("$request.header."):].lower())
        elif source.startswith("$request.querystring."):
            value = self.query.get(source[len("$request.querystring."):])
        elif source.startswith("$stageVariables."):
            value = (self.stage.stage_variables or {}).get(source[len("$stageVariables."):])
        elif source.startswith("$context."):
            value = {"requestId": self.request_id, "stage": self.stage.name,
                     "httpMethod": self.method, "apiId": self.api.api_id}.get(source[len("$context."):])
        else:
            value = None
        return value or None


# --- finding the API, stage and route ------------------------------------------------------------

def find_api(api_id):
    for accounts in list(apigatewayv2_backends.values()):
        for region, backend in list(dict.items(accounts)):
            api = backend.apis.get(api_id)
            if api is not None:
                return api, backend.account_id, region
    return None, None, None


def find_stage(api, rest):
    """(stage, path after it): a stage named by the first segment, else `$default` with it all."""
    segments = rest.split("/", 2)  # ["", first, remainder]
    first = segments[1] if len(segments) > 1 else ""
    if first and first != "$default" and first in api.stages:
        return api.stages[first], "/" + (segments[2] if len(segments) > 2 else "")
    if "$default" in api.stages:
        return api.stages["$default"], rest or "/"
    return None, None


def match_path(template: str, path: str):
    """The path parameters when path matches the route's path template, else None."""
    want = template.strip("/").split("/") if template.strip("/") else []
    have = path.strip("/").split("/") if path.strip("/") else []
    params = {}
    for i, part in enumerate(want):
        if part.startswith("{") and part.endswith("+}"):
            if i != len(want) - 1 or len(have) <= i:
                return None
            params[part[1:-2]] = "/".join(have[i:])
            return params
        if i >= len(have):
            return None
        if part.startswith("{") and part.endswith("}"):
            if not have[i]:
                return None
            params[part[1:-1]] = have[i]
        elif part != have[i]:
            return None
    return params if len(have) == len(want) else None


def specificity(template: str) -> tuple:
    """Literal segments beat {param}, which beats {proxy+}, segment by segment."""
    ranks = []
    for part in template.strip("/").split("/"):
        ranks.append(0 if part.endswith("+}") else 1 if part.startswith("{") else 2)
    return tuple(ranks)


def match_route(api, method, path):
    best = None
    for route in api.routes.values():
        if route.route_key == "$default":
            continue
        route_method, _, template = route.route_key.partition(" ")
        if route_method not in (method, "ANY"):
            continue
        params = match_path(template, path)
        if params is None:
            continue
        rank = (specificity(template), route_method != "ANY")
        if best is None or rank > best[0]:
            best = (rank, route, params)
    if best is not None:
        return best[1], best[2]
    default = next((r for r in api.routes.values() if r.route_key == "$default"), None)
    if default is None:
        raise not_found()
    return default, {}


# --- authorizers ------------------------------------------------------------------------------------

def fetch_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def jwks_of(issuer: str) -> dict:
    """The issuer's JWKS: an emulator pool's key read directly (its https issuer host is
    unreachable offline); any other issuer's through its OpenID configuration over HTTP."""
    prefix = "https://cognito-idp."
    if issuer.startswith(prefix):
        pool = oauth.pool_by_id(issuer.rsplit("/", 1)[-1])
        if pool is not None and tokens.issuer(pool) == issuer:
            return tokens.pool_jwks()
    with _jwks_lock:
        cached = _jwks_cache.get(issuer)
        if cached and cached[0] > time.time():
            return cached[1]
    try:
        config = fetch_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        jwks = fetch_json(config["jwks_uri"])
    except (OSError, ValueError, KeyError, TypeError):
        raise unauthorized("unable to fetch the issuer's JWKS") from None
    with _jwks_lock:
        _jwks_cache[issuer] = (time.time() + JWKS_TTL, jwks)
    return jwks


def bearer(value: str) -> str:
    return value[7:].strip() if value[:7].lower() == "bearer " else value.strip()


def authorize_jwt(req, route, authorizer) -> dict:
    config = authorizer.jwt_config or {}
    sources = authorizer.identity_source or ["$request.header.Authorization"]
    raw = req.identity_value(sources[0]) if sources else None
    if not raw:
        raise unauthorized()
    token = bearer(raw)
    issuer = config.get("issuer") or config.get("Issuer") or ""
    audience = config.get("audience") or config.get("Audience") or []
    try:
        tokens.parse(token)
        claims = tokens.verify_signature(token, jwks_of(issuer))
        tokens.check_times(claims)
    except tokens.TokenError as e:
        raise unauthorized(str(e)) from None
    if claims.get("iss") != issuer:
        raise unauthorized("the token does not have a valid issuer")
    # aud when present, else client_id (API Gateway evaluates aud when both are present).
    aud = claims.get("aud") if "aud" in claims else claims.get("client_id")
    auds = aud if isinstance(aud, list) else [aud]
    if not any(a in audience for a in auds if isinstance(a, str)):
        raise unauthorized("the token does not have a valid audience")
    granted = str(claims.get("scope") or claims.get("scp") or "").split()
    required = route.authorization_scopes or []
    if required and not any(s in granted for s in required):
        raise forbidden(headers={"www-authenticate": f'Bearer scope="{" ".join(required)}" error="insufficient_scope" '
                                                     f'error_description="expected scopes: [{" ".join(required)}]"'})
    stringified = {k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, (list, dict)) else str(v) for k, v in claims.items()}
    return {"jwt": {"claims": stringified, "scopes": granted or None}}


def function_of_uri(uri: str, account, region):
    """The function an integration or authorizer URI names (a function ARN, or API Gateway's
    `arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/ARN/invocations`)."""
    if "/functions/" in uri:
        uri = uri.split("/functions/", 1)[1].rsplit("/invocations", 1)[0]
    return lambda_runtime.find_function(uri, account, region)


def arn_matches(pattern: str, arn: str) -> bool:
    return fnmatch.fnmatchcase(arn, pattern)


def allowed_by_policy(document: dict, route_arn: str) -> bool:
    """An IAM policy response: allowed when an Allow statement matches and no Deny does."""
    allow = False
    statements = document.get("Statement") or []
    for s in statements if isinstance(statements, list) else [statements]:
        actions = s.get("Action") or []
        actions = actions if isinstance(actions, list) else [actions]
        resources = s.get("Resource") or []
        resources = resources if isinstance(resources, list) else [resources]
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        if any(arn_matches(r, route_arn) for r in resources):
            if s.get("Effect") == "Deny":
                return False
            allow = allow or s.get("Effect") == "Allow"
    return allow


def authorize_lambda(req, route, authorizer) -> dict:
    sources = authorizer.identity_source or []
    values = [req.identity_value(s) for s in sources]
    if any(v is None for v in values):
        raise unauthorized()
    if (authorizer.auth_payload_format_version or "2.0") != "2.0":
        raise internal_error()  # payload 1.0 authorizers are not emulated
    event = req.event(route.route_key, None)
    event.update({"type": "REQUEST", "routeArn": req.route_arn, "identitySource": values})
    event.pop("body", None)
    event.pop("isBase64Encoded", None)
    try:
        fn = function_of_uri(authorizer.authorizer_uri or "", req.account, req.region)
    except Exception:
        raise internal_error() from None
    outcome = lambda_runtime.invoke(fn, json.dumps(event).encode())
    try:
        answer = json.loads(outcome.payload)
    except ValueError:
        raise internal_error() from None
    if outcome.error or not isinstance(answer, dict):
        raise internal_error()
    if authorizer.enable_simple_response:
        if not isinstance(answer.get("isAuthorized"), bool):
            raise internal_error()
        if not answer["isAuthorized"]:
            raise forbidden()
    else:
        document = answer.get("policyDocument")
        if not isinstance(document, dict):
            raise internal_error()
        if not allowed_by_policy(document, req.route_arn):
            raise forbidden()
    context = answer.get("context") or {}
    return {"lambda": context if isinstance(context, dict) else {}}


def authorize_iam(req) -> dict:
    try:
        return {"iam": sigv4.verify(req.call, req.raw_target, req.region)}
    except sigv4.SignatureError as e:
        raise forbidden(str(e)) from None


def authorize(req, route) -> dict | None:
    kind = (route.authorization_type or "NONE").upper()
    if kind == "NONE":
        return None
    if kind == "AWS_IAM":
        return authorize_iam(req)
    authorizer = req.api.authorizers.get(route.authorizer_id or "")
    if authorizer is None:
        raise internal_error()
    if kind == "JWT":
        return authorize_jwt(req, route, authorizer)
    if kind == "CUSTOM":
        return authorize_lambda(req, route, authorizer)
    raise internal_error()


# --- the integration ---------------------------------------------------------------------------------

def may_invoke(fn, source_arn: str) -> bool:
    """The function's resource policy lets API Gateway invoke it for this route's ARN."""
    for s in fn.policy.statements:
        principal = s.get("Principal") or {}
        service = principal.get("Service") if isinstance(principal, dict) else principal
        if s.get("Effect") != "Allow" or service != "apigateway.amazonaws.com":
            continue
        condition = (s.get("Condition") or {}).get("ArnLike", {}).get("AWS:SourceArn")
        if condition is None or arn_matches(condition, source_arn):
            return True
    return False


def integrate(req, route, path_parameters, authorizer_context) -> Response:
    target = route.target or ""
    integration = req.api.integrations.get(target.split("/", 1)[1]) if target.startswith("integrations/") else None
    if integration is None:
        raise not_found()
    if integration.integration_type != "AWS_PROXY" or (integration.payload_format_version or "2.0") != "2.0":
        raise internal_error()  # only Lambda proxy integrations with payload 2.0 are emulated
    try:
        fn = function_of_uri(integration.integration_uri or "", req.account, req.region)
    except Exception:
        raise internal_error() from None
    if not may_invoke(fn, req.route_arn):
        raise internal_error()
    event = req.event(route.route_key, path_parameters, authorizer_context)
    outcome = lambda_runtime.invoke(fn, json.dumps(event).encode())
    if outcome.error:
        raise internal_error()
    return map_response(outcome.payload)


def map_response(payload: bytes) -> Response:
    """API Gateway's payload 2.0 response rules: a dict with statusCode is taken apart; any other
    valid JSON is the body of a 200 application/json answer (a string as is)."""
    try:
        value = json.loads(payload)
    except ValueError:
        raise internal_error() from None
    if not (isinstance(value, dict) and "statusCode" in value):
        body = value if isinstance(value, str) else payload.decode()
        return Response(body, status=200, content_type="application/json")
    status = value.get("statusCode")
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise internal_error()
    body = value.get("body") or ""
    if not isinstance(body, str):
        body = json.dumps(body)
    data = base64.b64decode(body) if value.get("isBase64Encoded") else body.encode()
    response = Response(data, status=status)
    response.headers.remove("Content-Type")
    for name, v in (value.get("headers") or {}).items():
        response.headers[name] = str(v)
    for cookie in value.get("cookies") or []:
        response.headers.add("Set-Cookie", str(cookie))
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"
    return response


def answer_denied(e: Denied, request_id: str) -> Response:
    response = Response(json.dumps({"message": e.message}), status=e.status, content_type="application/json")
    for name, value in e.headers.items():
        response.headers[name] = value
    response.headers["apigw-requestid"] = request_id
    return response


def register(reg: Registry):
    def execute(call):
        api, account, region = find_api(call.params["api"])
        request_id = base64.b64encode(uuid.uuid4().bytes[:10]).decode().rstrip("=")
        try:
            if api is None or api.protocol_type != "HTTP":
                raise not_found()
            stage, path = find_stage(api, call.params.get("rest") or "")
            if stage is None:
                raise not_found()
            req = Request(call, api, account, region, stage, path)
            request_id = req.request_id
            route, path_parameters = match_route(api, call.method, path)
            authorizer_context = authorize(req, route)
            response = integrate(req, route, path_parameters, authorizer_context)
        except Denied as e:
            return answer_denied(e, request_id)
        except Exception:  # a fault of ours or of the function's package: API Gateway's 500, the trace in our log
            traceback.print_exc()
            return answer_denied(internal_error(), request_id)
        response.headers["apigw-requestid"] = request_id
        return response

    for method in METHODS:
        reg.http(method, EXECUTE)(execute)
