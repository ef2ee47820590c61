"""The CLI over the emulator's data plane and hosted UI (issue 15, items 2-3): the stack's outputs
name the local URLs, `request`, `token --client-credentials` and `login --username` talk HTTP to
them, and `secure-api verify` proves the authorization matrix of all four --auth patterns (and
fails when a route is opened behind the stack's back). Tokens are checked independently
(cryptography against the pool's JWKS) and the stack is read with boto3. One stack per pattern
for the module."""
import json
import time
import urllib.request

import pytest

from conftest import PASSWORD, Moto, run_in, stack_env
from dataplane_http import LocalIssuer, verify_jwt


class Stack:
    def __init__(self, binary, tmp_path_factory, *args, host=None):
        self.server = Moto()
        self.dir = tmp_path_factory.mktemp("stack")
        self.url = self.server.url.replace("127.0.0.1", host) if host else self.server.url
        self.env = stack_env(self.url, XDG_CACHE_HOME=str(self.dir / "cache"))
        self.binary = binary
        self.created = self.run("create", *args)
        assert self.created.returncode == 0, self.created.stderr
        self.out = json.loads((self.dir / "state.json").read_text())["outputs"]

    def run(self, *args, input=None):
        return run_in(self.binary, self.dir, *args, env=self.env, input=input)

    def verify(self, *args):
        r = self.run("verify", "--output", "json", *args)
        return r, json.loads(r.stdout)

    def jwks(self):
        with urllib.request.urlopen(f"{self.server.url}/{self.out['user_pool_id']}/.well-known/jwks.json") as r:
            return json.load(r)

    def secret(self):
        return self.server.boto("cognito-idp").describe_user_pool_client(
            UserPoolId=self.out["user_pool_id"], ClientId=self.out["machine_client_id"])["UserPoolClient"]["ClientSecret"]


def stack_fixture(*args):
    @pytest.fixture(scope="module")
    def fixture(binary, tmp_path_factory):
        s = Stack(binary, tmp_path_factory, *args)
        yield s
        s.server.stop()
    return fixture


cognito = stack_fixture()
lambda_stack = stack_fixture("--auth", "lambda")
iam = stack_fixture("--auth", "iam")


def test_outputs_are_the_emulators_urls_and_create_prints_them(cognito):
    out, url = cognito.out, cognito.server.url
    domain = f"{url}/_aws/cognito-idp/{out['user_pool_domain']}"
    assert out["api_url"] == f"{url}/_aws/execute-api/{out['api_id']}/dev"
    assert out["hello_url"] == out["api_url"] + "/hello"
    assert (out["cognito_domain_url"], out["token_url"]) == (domain, domain + "/oauth2/token")
    # The API's own endpoint stays what API Gateway (moto) reports.
    api = cognito.server.boto("apigatewayv2").get_api(ApiId=out["api_id"])
    assert out["api_endpoint"] == api["ApiEndpoint"]
    for line in (f"API URL: {out['hello_url']}", f"Hosted UI: {domain}/oauth2/authorize", f"Token URL: {domain}/oauth2/token"):
        assert line in cognito.created.stdout + cognito.created.stderr


def test_request_shows_401_403_and_the_lambdas_200(cognito):
    r = cognito.run("request", "--no-token")
    assert r.returncode == 1 and r.stdout.startswith("HTTP 401") and '{"message": "Unauthorized"}' in r.stdout
    r = cognito.run("request", "POST", "--client-credentials", "--scope", "HelloAPI/hello.read", "--no-cache")
    assert r.returncode == 1 and r.stdout.startswith("HTTP 403") and 'error="insufficient_scope"' in r.stdout
    r = cognito.run("request", "GET", "--client-credentials", "--scope", "HelloAPI/hello.read", "--no-cache", "--output", "json")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert (answer["status"], answer["body"], answer["url"]) == (200, '"hello world"', cognito.out["hello_url"])
    assert "simulated" not in answer
    # The 200 came from the function itself: its first invocation made its log group.
    groups = cognito.server.boto("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/EchoFunction")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/aws/lambda/EchoFunction"]


def test_token_client_credentials_on_the_emulator(cognito):
    r = cognito.run("token", "--client-credentials", "--scope", "HelloAPI/hello.write", "--no-cache", "-q", "-v")
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    claims = verify_jwt(token, cognito.jwks())
    assert (claims["client_id"], claims["scope"], claims["token_use"]) == \
        (cognito.out["machine_client_id"], "HelloAPI/hello.write", "access")
    assert cognito.secret() not in r.stdout + r.stderr


def test_login_fills_the_hosted_ui_form(cognito):
    r = cognito.run("login", "--username", "Testuser", "--password-stdin", "-q", input=PASSWORD)
    assert r.returncode == 0, r.stderr
    claims = verify_jwt(r.stdout.strip(), cognito.jwks())
    assert (claims["username"], claims["client_id"]) == ("Testuser", cognito.out["terminal_app_client_id"])
    assert set(claims["scope"].split()) == {"openid", "profile", "email", "HelloAPI/hello.read"}
    assert PASSWORD not in r.stdout + r.stderr

    wrong = cognito.run("login", "--username", "Testuser", "--password-stdin", input="not-the-password")
    assert wrong.returncode == 1 and "incorrect username or password" in wrong.stderr and "not-the-password" not in wrong.stderr
    r = cognito.run("login", "--username", "Testuser")
    assert r.returncode != 0 and "--username and --password-stdin go together" in r.stderr


def check_all_pass(result, doc, total, skipped=0):
    assert result.returncode == 0, [c for c in doc["cases"] if c["result"] != "pass"]
    assert (doc["passed"], doc["failed"], doc["skipped"]) == (total - skipped, 0, skipped)
    assert all(c["status"] == c["expected"] for c in doc["cases"] if c["result"] == "pass")


def test_verify_cognito_all_pass_without_leaking_secrets(cognito):
    r, doc = cognito.verify()
    check_all_pass(r, doc, 22)
    by_case = {(c["route"], c["case"]): c for c in doc["cases"]}
    assert by_case[("GET /hello", "no token")]["status"] == 401
    assert by_case[("POST /hello", "read-scope token")]["status"] == 403
    assert by_case[("GET /hello", "login token")]["status"] == 200
    text = cognito.run("verify", "-v")
    assert text.returncode == 0 and text.stdout.count("✓") == 22 and "22 passed, 0 failed, 0 skipped" in text.stdout
    for secret in (PASSWORD, cognito.secret()):
        assert secret not in text.stdout + text.stderr


def test_verify_fails_when_a_route_is_made_public_behind_its_back(cognito):
    apigw = cognito.server.boto("apigatewayv2")
    route = next(r for r in apigw.get_routes(ApiId=cognito.out["api_id"])["Items"] if r["RouteKey"] == "GET /hello")
    apigw.update_route(ApiId=cognito.out["api_id"], RouteId=route["RouteId"], AuthorizationType="NONE")
    r, doc = cognito.verify()
    assert r.returncode == 1 and doc["failed"] > 0
    failed = {(c["route"], c["case"]) for c in doc["cases"] if c["result"] == "fail"}
    assert ("GET /hello", "no token") in failed and ("GET /hello", "garbage") in failed
    assert not any(route == "POST /hello" for route, _ in failed)
    text = cognito.run("verify")
    assert text.returncode == 1 and "✗ GET /hello   no token             401   200" in text.stdout


def test_request_explains_the_lambda_authorizers_401_and_403(lambda_stack):
    r = lambda_stack.run("request", "--no-token")
    assert r.returncode == 1 and r.stdout.startswith("HTTP 401")
    assert "no Authorization header (the Lambda authorizer's identity source)" in r.stderr and "JWT" not in r.stderr, r.stderr
    r = lambda_stack.run("request", "--token", "not-a-jwt")
    assert r.returncode == 1 and r.stdout.startswith("HTTP 403")
    assert "the Lambda authorizer refused the token" in r.stderr, r.stderr


def test_an_emulator_at_a_non_loopback_address_is_still_where_tokens_and_requests_go(binary, tmp_path_factory):
    """An emulator reached as http://moto:5000 (compose) or a LAN address is not AWS: outputs,
    tokens, secrets and the Lambda authorizer's JWKS stay there, never *.amazonaws.com."""
    stack = Stack(binary, tmp_path_factory, "--auth", "lambda", host="0.0.0.0")
    try:
        base = stack.url
        assert base.startswith("http://0.0.0.0:")
        assert stack.out["api_url"].startswith(f"{base}/_aws/execute-api/")
        assert stack.out["token_url"].startswith(f"{base}/_aws/cognito-idp/")
        assert "amazonaws.com" not in stack.out["api_url"] + stack.out["token_url"] + stack.out["cognito_domain_url"]
        r = stack.run("request", "--no-token")
        assert r.returncode == 1 and r.stdout.startswith("HTTP 401"), r.stdout + r.stderr
        env = stack.server.boto("lambda").get_function_configuration(FunctionName="CognitoAuthorizerFunction")["Environment"]["Variables"]
        assert env["JWKS_URL"] == f"{base}/{stack.out['user_pool_id']}/.well-known/jwks.json"
        # A secret still goes over plain http only to this machine: named, refused, sent nowhere else.
        r = stack.run("token", "--client-credentials", "--scope", "HelloAPI/hello.read", "--no-cache")
        assert r.returncode == 1 and f"refusing to send a client secret to {base}/_aws/cognito-idp/" in r.stderr, r.stderr
    finally:
        stack.server.stop()


def test_verify_lambda_authorizer_with_the_local_jwks(lambda_stack):
    s = lambda_stack
    env = s.server.boto("lambda").get_function_configuration(FunctionName=s.out["authorizer_function_name"])["Environment"]["Variables"]
    assert env["JWKS_URL"] == f"{s.server.url}/{s.out['user_pool_id']}/.well-known/jwks.json"
    r, doc = s.verify()
    check_all_pass(r, doc, 22)
    by_case = {(c["route"], c["case"]): c["status"] for c in doc["cases"]}
    get = [by_case[("GET /hello", case)] for case in ("no token", "garbage", "machine token")]
    assert get == [401, 403, 200]
    r = s.run("request", "--client-credentials", "--no-cache")
    assert r.returncode == 0 and r.stdout.startswith("HTTP 200") and '"hello world"' in r.stdout


def test_verify_iam_signed_unsigned_wrong_secret_wrong_region(iam):
    r, doc = iam.verify()
    check_all_pass(r, doc, 8)
    assert {c["case"] for c in doc["cases"]} == {"signed", "unsigned", "wrong secret", "wrong region"}
    r = iam.run("request", "--sigv4")
    assert r.returncode == 0 and r.stdout.startswith("HTTP 200") and '"hello world"' in r.stdout
    r = iam.run("request", "--no-token")
    assert r.returncode == 1 and r.stdout.startswith("HTTP 403")


def test_verify_oidc_with_a_local_issuer(binary, tmp_path_factory):
    issuer = LocalIssuer()
    s = Stack(binary, tmp_path_factory, "--auth", "oidc", "--issuer", issuer.url, "--audience", "account")
    try:
        now = int(time.time())
        token = issuer.token(iss=issuer.url, aud="account", sub="alice", iat=now, exp=now + 300)
        r, doc = s.verify("--token", token)
        check_all_pass(r, doc, 24, skipped=12)
        skipped = {c["note"] for c in doc["cases"] if c["result"] == "skipped"}
        assert skipped == {"the oidc pattern has no Cognito"}
        assert {c["status"] for c in doc["cases"] if c["case"] == "issuer token"} == {200}
        r, doc = s.verify()
        assert r.returncode == 0 and doc["skipped"] == 14
        assert {c["note"] for c in doc["cases"] if c["case"] == "issuer token"} == {"needs a token of the external issuer: pass --token"}
    finally:
        s.server.stop()
        issuer.stop()
