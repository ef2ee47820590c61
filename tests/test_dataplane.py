"""The emulator's execute-api data plane and local Lambda runtime, driven with plain HTTP
(http.client) as any client of a deployed API would; boto3 builds the stack (pool, API,
authorizers, functions) and reads CloudWatch Logs back. Each authorization pattern answers
401/403/200 as API Gateway does, and 200 carries the Lambda's own body."""
import base64
import io
import json
import sys
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import Moto
from dataplane_http import LocalIssuer, client_token, forge, make_pool, request, user_tokens

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ACCOUNT = "123456789012"
ECHO = '''
def handler(event, context):
    print("echo called for", event["routeKey"])
    return "hello world"
'''
INSPECT = '''
import json
def handler(event, context):
    return {"statusCode": 201, "headers": {"x-echo": "yes", "content-type": "application/json"},
            "cookies": ["a=1", "b=2"], "body": json.dumps({"event": event, "function": context.function_name})}
'''
FAILING = '''
def handler(event, context):
    raise RuntimeError("boom")
'''
SLOW = '''
import time
def handler(event, context):
    time.sleep(5)
'''
# A Lambda REQUEST authorizer: the header `x-pass` decides; "policy" mode answers an IAM policy.
AUTHORIZER = '''
import os
def handler(event, context):
    ok = event["identitySource"] == ["let-me-in"]
    if os.environ.get("MODE") == "policy":
        return {"principalId": "caller", "context": {"who": "policy"},
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": "Allow" if ok else "Deny", "Resource": event["routeArn"]}]}}
    return {"isAuthorized": ok, "context": {"who": "simple", "route": event["routeArn"]}}
'''


@pytest.fixture(scope="module")
def server():
    s = Moto()
    yield s
    s.stop()


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("app.py", source)
    return buffer.getvalue()


_counter = iter(range(10**6))


def make_function(server, name, source, env=None, timeout=3, runtime="python3.12"):
    iam, lam = server.boto("iam"), server.boto("lambda")
    role_name = f"role-{name}"
    try:
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}))["Role"]
    except iam.exceptions.EntityAlreadyExistsException:
        role = iam.get_role(RoleName=role_name)["Role"]
    return lam.create_function(FunctionName=name, Runtime=runtime, Role=role["Arn"], Handler="app.handler",
                               Code={"ZipFile": zipped(source)}, Timeout=timeout,
                               Environment={"Variables": env or {}})["FunctionArn"]


def allow_api(server, function, api_id):
    server.boto("lambda").add_permission(FunctionName=function, StatementId=f"api-{api_id}", Action="lambda:InvokeFunction",
                                         Principal="apigateway.amazonaws.com",
                                         SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*/*")


def make_api(server, routes, authorizer=None, stage="dev", permit=True):
    """An HTTP API with one AWS_PROXY integration per function and the given routes:
    [(route key, function ARN, {route kwargs})]; authorizer kwargs for CreateAuthorizer."""
    gw = server.boto("apigatewayv2")
    api = gw.create_api(Name=f"api{next(_counter)}", ProtocolType="HTTP")["ApiId"]
    authorizer_id = gw.create_authorizer(ApiId=api, **authorizer)["AuthorizerId"] if authorizer else None
    integrations = {}
    for key, function, kwargs in routes:
        if function not in integrations:
            integrations[function] = gw.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=function,
                                                           PayloadFormatVersion="2.0")["IntegrationId"]
            if permit:
                allow_api(server, function, api)
        extra = dict(kwargs)
        if extra.get("AuthorizationType") in ("JWT", "CUSTOM"):
            extra["AuthorizerId"] = authorizer_id
        gw.create_route(ApiId=api, RouteKey=key, Target=f"integrations/{integrations[function]}", **extra)
    gw.create_stage(ApiId=api, StageName=stage, AutoDeploy=True)
    base = f"{server.url}/_aws/execute-api/{api}" + ("" if stage == "$default" else f"/{stage}")
    return api, base


def get(url, token=None, method="GET", headers=None, body=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    return request(method, url, body, h)


def log_events(server, group):
    logs = server.boto("logs")
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    return [e["message"] for s in streams for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]]


def pool_signed(claims):
    """A token signed with the pool's own key: moto's private JWK, the one its JWKS publishes."""
    from joserfc import jwk, jwt
    from moto.cognitoidp.models import CognitoIdpUserPool
    from moto.utilities.utils import load_resource
    key = jwk.RSAKey.import_key(load_resource(CognitoIdpUserPool.__module__, "resources/jwks-private.json"))
    return jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, key)


# --- the tutorial's stack: Cognito + JWT authorizer + Lambda ---------------------------------------

@pytest.fixture(scope="module")
def jwt_stack(server):
    pool = make_pool(server)
    echo = make_function(server, "EchoFunction", ECHO)
    api, base = make_api(server, [
        ("GET /hello", echo, {"AuthorizationType": "JWT", "AuthorizationScopes": ["HelloAPI/hello.read", "HelloAPI/hello.write"]}),
        ("POST /hello", echo, {"AuthorizationType": "JWT", "AuthorizationScopes": ["HelloAPI/hello.write"]}),
        ("GET /open", echo, {}),
    ], authorizer={"AuthorizerType": "JWT", "Name": "cognito", "IdentitySource": ["$request.header.Authorization"],
                   "JwtConfiguration": {"Issuer": pool["issuer"], "Audience": [pool["public"], pool["machine"]]}})
    return {**pool, "api": api, "base": base, "echo": echo}


def test_first_invocation_creates_the_log_group_and_writes_the_output(server, jwt_stack):
    logs = server.boto("logs")
    assert logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/EchoFunction")["logGroups"] == []
    r = get(jwt_stack["base"] + "/hello", client_token(jwt_stack, "HelloAPI/hello.read"))
    assert (r.status, r.body) == (200, "hello world"), r
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/EchoFunction")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/aws/lambda/EchoFunction"]
    messages = log_events(server, "/aws/lambda/EchoFunction")
    assert messages[0].startswith("START RequestId: ") and "echo called for GET /hello" in messages
    assert messages[-2].startswith("END RequestId: ") and messages[-1].startswith("REPORT RequestId: ")
    # The emulator says once that the function's runtime is not the local Python.
    local = f"{sys.version_info.major}.{sys.version_info.minor}"
    if local != "3.12":
        assert server.log_tail(10**6).count(f"lambda runtime python3.12 is run with the local Python {local}") == 1
    # A teardown removes the group; the next invocation makes it again, as on AWS.
    logs.delete_log_group(logGroupName="/aws/lambda/EchoFunction")
    assert get(jwt_stack["base"] + "/hello", client_token(jwt_stack, "HelloAPI/hello.read")).status == 200
    assert "echo called for GET /hello" in log_events(server, "/aws/lambda/EchoFunction")


def test_jwt_route_without_token_is_401(jwt_stack):
    r = get(jwt_stack["base"] + "/hello")
    assert (r.status, r.json()) == (401, {"message": "Unauthorized"})


@pytest.mark.parametrize("case, description", [
    ("garbage", "the token is not a valid JWT"),
    ("another key", "the token does not have a valid signature"),
    ("expired", "the token has expired"),
])
def test_jwt_route_refuses_bad_tokens_with_www_authenticate(jwt_stack, case, description):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"iss": jwt_stack["issuer"], "client_id": jwt_stack["machine"], "token_use": "access",
              "scope": "HelloAPI/hello.read", "iat": now, "exp": now + 600}
    if case == "garbage":
        token = "not-a-jwt"
    elif case == "another key":
        token = forge(claims, key, kid="dummy")  # the pool's kid, a key that is not the pool's
    else:
        token = pool_signed(dict(claims, exp=now - 10))
    r = get(jwt_stack["base"] + "/hello", token)
    assert (r.status, r.json()) == (401, {"message": "Unauthorized"}), case
    header = r.header("www-authenticate")
    assert header == f'Bearer scope="" error="invalid_token" error_description="{description}"'


def test_jwt_route_refuses_a_token_for_another_audience(server, jwt_stack):
    cognito = jwt_stack["cognito"]
    other = cognito.create_user_pool_client(UserPoolId=jwt_stack["pool"], ClientName="Other", GenerateSecret=True,
                                            AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["client_credentials"],
                                            AllowedOAuthScopes=["HelloAPI/hello.read"])["UserPoolClient"]
    stack = dict(jwt_stack, machine=other["ClientId"], secret=other["ClientSecret"])
    r = get(jwt_stack["base"] + "/hello", client_token(stack))
    assert r.status == 401 and "the token does not have a valid audience" in r.header("www-authenticate")


def test_jwt_scopes_decide_403_or_200(jwt_stack):
    read = client_token(jwt_stack, "HelloAPI/hello.read")
    write = client_token(jwt_stack, "HelloAPI/hello.write")
    assert get(jwt_stack["base"] + "/hello", read).status == 200
    denied = get(jwt_stack["base"] + "/hello", read, method="POST")
    assert (denied.status, denied.json()) == (403, {"message": "Forbidden"})
    assert 'error="insufficient_scope"' in denied.header("www-authenticate")
    # The identity source may carry the token without the Bearer prefix.
    assert get(jwt_stack["base"] + "/hello", headers={"Authorization": write}, method="POST").status == 200
    allowed = get(jwt_stack["base"] + "/hello", write, method="POST")
    assert (allowed.status, allowed.body, allowed.header("content-type")) == (200, "hello world", "application/json")


def test_login_tokens_on_jwt_routes(jwt_stack):
    tokens = user_tokens(jwt_stack)
    assert get(jwt_stack["base"] + "/hello", tokens["access_token"]).body == "hello world"
    # The ID token's aud is the app client, so it passes the authorizer, but has no scope.
    assert get(jwt_stack["base"] + "/hello", tokens["id_token"]).status == 403
    # InitiateAuth's token carries only aws.cognito.signin.user.admin.
    auth = jwt_stack["cognito"].admin_initiate_auth(UserPoolId=jwt_stack["pool"], ClientId=jwt_stack["public"],
                                                    AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                                    AuthParameters={"USERNAME": "Testuser", "PASSWORD": "Corr3ct-Horse!"})
    assert get(jwt_stack["base"] + "/hello", auth["AuthenticationResult"]["AccessToken"]).status == 403


def test_unknown_route_stage_or_api_is_404(server, jwt_stack):
    for url in (jwt_stack["base"] + "/nope", jwt_stack["base"].rsplit("/", 1)[0] + "/prod/hello",
                f"{server.url}/_aws/execute-api/doesnotexist/dev/hello"):
        r = get(url)
        assert (r.status, r.json()) == (404, {"message": "Not Found"}), url


def test_route_without_authorization_is_open(jwt_stack):
    r = get(jwt_stack["base"] + "/open")
    assert (r.status, r.body) == (200, "hello world")


# --- event shape, route matching and response mapping -----------------------------------------

@pytest.fixture(scope="module")
def inspect_api(server):
    fn = make_function(server, "Inspect", INSPECT)
    api, base = make_api(server, [(key, fn, {}) for key in (
        "GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default")])
    return api, base


@pytest.mark.parametrize("method, path, route_key, params", [
    ("GET", "/pets/dog/1", "GET /pets/dog/1", None),
    ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
    ("GET", "/pets/cat/1", "GET /pets/{proxy+}", {"proxy": "cat/1"}),
    ("POST", "/pets/dog/1", "ANY /{proxy+}", {"proxy": "pets/dog/1"}),
    ("GET", "/", "$default", None),
])
def test_route_selection_follows_api_gateway(inspect_api, method, path, route_key, params):
    # API Gateway's own example of route precedence (developer guide, "Working with routes").
    _, base = inspect_api
    r = get(base + path, method=method)
    assert r.status == 201, r
    event = r.json()["event"]
    assert event["routeKey"] == route_key and event.get("pathParameters") == params


def test_payload_2_event_and_response_mapping(inspect_api):
    api, base = inspect_api
    r = request("POST", base + "/things/7?b=2&a=1&a=3", '{"x": 1}', {"Content-Type": "application/json", "Cookie": "c1=v1; c2=v2",
                                                                      "X-Multi": "one"})
    assert r.status == 201 and r.header("x-echo") == "yes" and r.header("apigw-requestid")
    body = r.json()
    assert body["function"] == "Inspect"
    event = body["event"]
    assert event["version"] == "2.0" and event["rawPath"] == "/dev/things/7" and event["rawQueryString"] == "b=2&a=1&a=3"
    assert event["queryStringParameters"] == {"a": "1,3", "b": "2"}
    assert event["cookies"] == ["c1=v1", "c2=v2"] and "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "one" and event["body"] == '{"x": 1}' and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert ctx["apiId"] == api and ctx["stage"] == "dev" and ctx["accountId"] == ACCOUNT
    assert ctx["http"]["method"] == "POST" and ctx["http"]["path"] == "/dev/things/7" and "authorizer" not in ctx


@pytest.mark.parametrize("source, status, body", [
    ('def handler(e, c):\n    return {"statusCode": 418, "body": "teapot"}\n', 418, "teapot"),
    ('def handler(e, c):\n    return {"message": "hi"}\n', 200, '{"message": "hi"}'),
    ('import base64\ndef handler(e, c):\n'
     '    return {"statusCode": 200, "isBase64Encoded": True, "body": base64.b64encode(b"raw").decode()}\n', 200, "raw"),
    (FAILING, 500, '{"message": "Internal Server Error"}'),
    ('def handler(e, c):\n    return {"statusCode": "ok"}\n', 500, '{"message": "Internal Server Error"}'),
])
def test_response_mapping_rules(server, source, status, body):
    fn = make_function(server, f"Map{next(_counter)}", source)
    _, base = make_api(server, [("GET /x", fn, {})])
    r = get(base + "/x")
    assert (r.status, r.body) == (status, body)


def test_a_function_without_invoke_permission_is_500(server):
    fn = make_function(server, f"NoPerm{next(_counter)}", ECHO)
    _, base = make_api(server, [("GET /x", fn, {})], permit=False)
    r = get(base + "/x")
    assert (r.status, r.json()) == (500, {"message": "Internal Server Error"})


def test_a_package_that_cannot_be_unpacked_is_500_not_a_trace(server):
    fn = make_function(server, f"Broken{next(_counter)}", ECHO)
    # UpdateFunctionCode accepts any bytes on moto; the data plane must still answer as API Gateway does.
    server.boto("lambda").update_function_code(FunctionName=fn, ZipFile=b"not a zip archive")
    _, base = make_api(server, [("GET /x", fn, {})])
    r = get(base + "/x")
    assert (r.status, r.json()) == (500, {"message": "Internal Server Error"})


def test_default_stage_has_no_prefix(server):
    fn = make_function(server, f"Default{next(_counter)}", ECHO)
    _, base = make_api(server, [("GET /hello", fn, {})], stage="$default")
    assert get(base + "/hello").body == "hello world"


# --- the Lambda Invoke API ---------------------------------------------------------------------------

def test_invoke_api_runs_the_function(server):
    fn = make_function(server, f"Inv{next(_counter)}", 'import os\ndef handler(e, c):\n    print("log line")\n'
                       '    return {"got": e, "env": os.environ["GREETING"], "left": c.get_remaining_time_in_millis() > 0}\n',
                       env={"GREETING": "hi"})
    r = server.boto("lambda").invoke(FunctionName=fn, Payload=json.dumps({"a": 1}), LogType="Tail")
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    assert json.loads(r["Payload"].read()) == {"got": {"a": 1}, "env": "hi", "left": True}
    assert "log line" in base64.b64decode(r["LogResult"]).decode()


def test_invoke_api_reports_errors_and_timeouts(server):
    lam = server.boto("lambda")
    failing = make_function(server, f"Fail{next(_counter)}", FAILING)
    r = lam.invoke(FunctionName=failing, Payload=b"{}")
    assert r["FunctionError"] == "Unhandled"
    error = json.loads(r["Payload"].read())
    assert error["errorMessage"] == "boom" and error["errorType"] == "RuntimeError" and error["stackTrace"]
    slow = make_function(server, f"Slow{next(_counter)}", SLOW, timeout=1)
    r = lam.invoke(FunctionName=slow, Payload=b"{}")
    assert r["FunctionError"] == "Unhandled" and "Task timed out after 1.00 seconds" in json.loads(r["Payload"].read())["errorMessage"]


# --- Lambda REQUEST authorizers ------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["simple", "policy"])
def test_lambda_authorizer(server, mode):
    n = next(_counter)
    auth = make_function(server, f"Auth{n}", AUTHORIZER, env={"MODE": mode})
    fn = make_function(server, f"Protected{n}", INSPECT)
    gw_uri = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{auth}/invocations"
    _, base = make_api(server, [("GET /hello", fn, {"AuthorizationType": "CUSTOM"})], authorizer={
        "AuthorizerType": "REQUEST", "Name": "lambda", "AuthorizerUri": gw_uri, "AuthorizerPayloadFormatVersion": "2.0",
        "IdentitySource": ["$request.header.x-pass"], "EnableSimpleResponses": mode == "simple"})
    missing = get(base + "/hello")
    assert (missing.status, missing.json()) == (401, {"message": "Unauthorized"})
    denied = get(base + "/hello", headers={"x-pass": "wrong"})
    assert (denied.status, denied.json()) == (403, {"message": "Forbidden"})
    ok = get(base + "/hello", headers={"x-pass": "let-me-in"})
    assert ok.status == 201, ok
    context = ok.json()["event"]["requestContext"]["authorizer"]["lambda"]
    assert context["who"] == mode
    if mode == "simple":
        assert context["route"].endswith("/dev/GET/hello")


# --- AWS_IAM ---------------------------------------------------------------------------------------------

def signed(url, key="testing", secret="testing", region=REGION, service="execute-api", method="GET"):
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=b"")
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), service, region).add_auth(req)
    return dict(req.headers.items())


@pytest.fixture(scope="module")
def iam_api(server):
    fn = make_function(server, "IamEcho", INSPECT)
    return make_api(server, [("GET /hello", fn, {"AuthorizationType": "AWS_IAM"})])[1] + "/hello"


def test_iam_signed_with_the_default_pair(iam_api):
    r = get(iam_api, headers=signed(iam_api))
    assert r.status == 201, r
    identity = r.json()["event"]["requestContext"]["authorizer"]["iam"]
    assert identity["accessKey"] == "testing" and identity["accountId"] == ACCOUNT


def test_iam_signed_with_a_key_created_in_the_emulator(server, iam_api):
    iam = server.boto("iam")
    iam.create_user(UserName="caller")
    key = iam.create_access_key(UserName="caller")["AccessKey"]
    r = get(iam_api, headers=signed(iam_api, key["AccessKeyId"], key["SecretAccessKey"]))
    assert r.status == 201, r
    identity = r.json()["event"]["requestContext"]["authorizer"]["iam"]
    assert identity["userArn"] == f"arn:aws:iam::{ACCOUNT}:user/caller" and identity["accessKey"] == key["AccessKeyId"]
    wrong = get(iam_api, headers=signed(iam_api, key["AccessKeyId"], "not-the-secret"))
    assert wrong.status == 403 and wrong.json()["message"].startswith("The request signature we calculated does not match")


def test_lambda_authorizer_that_fails_is_500(server):
    n = next(_counter)
    auth = make_function(server, f"BrokenAuth{n}", FAILING)
    fn = make_function(server, f"Behind{n}", ECHO)
    _, base = make_api(server, [("GET /hello", fn, {"AuthorizationType": "CUSTOM"})], authorizer={
        "AuthorizerType": "REQUEST", "Name": "lambda", "AuthorizerUri": auth, "AuthorizerPayloadFormatVersion": "2.0",
        "IdentitySource": ["$request.header.x-pass"], "EnableSimpleResponses": True})
    r = get(base + "/hello", headers={"x-pass": "anything"})
    assert (r.status, r.json()) == (500, {"message": "Internal Server Error"})


def test_iam_refuses_a_signature_from_ten_minutes_ago(iam_api):
    from unittest import mock
    stale = datetime.now(UTC) - timedelta(minutes=10)
    with mock.patch("botocore.auth.get_current_datetime", return_value=stale):
        headers = signed(iam_api)
    r = get(iam_api, headers=headers)
    assert r.status == 403 and r.json()["message"].startswith("Signature expired: ")


@pytest.mark.parametrize("case, message", [
    ("unsigned", "Forbidden"),
    ("unknown key", "The security token included in the request is invalid."),
    ("wrong region", "Credential should be scoped to a valid region. "),
    ("wrong service", "Credential should be scoped to correct service: 'execute-api'. "),
    ("tampered", "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
                 "Access Key and signing method. Consult the service documentation for details."),
])
def test_iam_refusals(iam_api, case, message):
    headers = {}
    url = iam_api
    if case == "unknown key":
        headers = signed(url, key="AKIDUNKNOWN000000000")
    elif case == "wrong region":
        headers = signed(url, region="eu-west-1")
    elif case == "wrong service":
        headers = signed(url, service="lambda")
    elif case == "tampered":
        headers = signed(url + "?extra=1")
    r = get(url, headers=headers)
    assert (r.status, r.json()) == (403, {"message": message}), case


# --- an external OIDC issuer ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def oidc_issuer():
    issuer = LocalIssuer()
    yield issuer.url, issuer.key
    issuer.stop()


def test_jwt_authorizer_with_an_external_issuer(server, oidc_issuer):
    url, key = oidc_issuer
    fn = make_function(server, f"Oidc{next(_counter)}", INSPECT)
    _, base = make_api(server, [("GET /hello", fn, {"AuthorizationType": "JWT", "AuthorizationScopes": ["api.read"]})],
                       authorizer={"AuthorizerType": "JWT", "Name": "oidc", "IdentitySource": ["$request.header.Authorization"],
                                   "JwtConfiguration": {"Issuer": url, "Audience": ["my-api"]}})
    now = int(time.time())
    claims = {"iss": url, "aud": "my-api", "sub": "alice", "scope": "api.read", "iat": now, "exp": now + 300}
    ok = get(base + "/hello", forge(claims, key, "k1"))
    assert ok.status == 201, ok
    jwt_ctx = ok.json()["event"]["requestContext"]["authorizer"]["jwt"]
    assert jwt_ctx["claims"]["sub"] == "alice" and jwt_ctx["scopes"] == ["api.read"]
    assert get(base + "/hello", forge(dict(claims, iss=url + "/other"), key, "k1")).status == 401
    assert get(base + "/hello", forge(dict(claims, aud="someone-else"), key, "k1")).status == 401
    assert get(base + "/hello", forge(dict(claims, nbf=now + 120), key, "k1")).status == 401
    assert get(base + "/hello", forge(dict(claims, scope="api.write"), key, "k1")).status == 403
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert get(base + "/hello", forge(claims, other, "k1")).status == 401



# --- the project's own Lambda authorizer (--auth lambda) on the data plane ------------------------------

@pytest.mark.parametrize("mode", ["simple", "iam"])
def test_project_lambda_authorizer_with_the_emulators_jwks(server, mode):
    """lambda/authorizer/authorizer.py as `--auth lambda` deploys it: it reaches the pool's keys
    through JWKS_URL (the emulator's), since the Cognito issuer's host is unreachable offline."""
    pool = make_pool(server)
    n = next(_counter)
    source = (ROOT / "lambda" / "authorizer" / "authorizer.py").read_text()
    auth = make_function(server, f"ProjectAuth{n}", source, env={
        "ISSUER": pool["issuer"], "JWKS_URL": f"{server.url}/{pool['pool']}/.well-known/jwks.json",
        "CLIENT_IDS": f"{pool['public']},{pool['machine']}", "RESPONSE_MODE": mode,
        "REQUIRED_SCOPES": json.dumps({"GET /hello": ["HelloAPI/hello.read", "HelloAPI/hello.write"],
                                       "POST /hello": ["HelloAPI/hello.write"]})})
    fn = make_function(server, f"ProjectEcho{n}", ECHO)
    uri = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{auth}/invocations"
    _, base = make_api(server, [("GET /hello", fn, {"AuthorizationType": "CUSTOM"}), ("POST /hello", fn, {"AuthorizationType": "CUSTOM"})],
                       authorizer={"AuthorizerType": "REQUEST", "Name": "lambda", "AuthorizerUri": uri,
                                   "AuthorizerPayloadFormatVersion": "2.0", "IdentitySource": ["$request.header.Authorization"],
                                   "EnableSimpleResponses": mode == "simple"})
    read = client_token(pool, "HelloAPI/hello.read")
    assert get(base + "/hello").status == 401
    assert get(base + "/hello", "garbage").status == 403
    assert (get(base + "/hello", read).status, get(base + "/hello", read).body) == (200, "hello world")
    assert get(base + "/hello", read, method="POST").status == 403
    assert get(base + "/hello", client_token(pool, "HelloAPI/hello.write"), method="POST").status == 200
    assert get(base + "/hello", user_tokens(pool)["access_token"]).status == 200
