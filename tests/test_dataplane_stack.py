"""The stack the project's binary deploys (`secure-api create` on the emulator), called over plain
HTTP through the emulator's data plane and OAuth2 endpoints: 401, 403 and 200 with the Lambda's
own body; the log group made by the first invocation and removed by `delete`."""
import json
import time

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest

from conftest import Moto, run_in, stack_env
from dataplane_http import LocalIssuer, basic, form_post, request


@pytest.fixture
def server():
    s = Moto()
    yield s
    s.stop()


def deploy(binary, server, tmp_path, *args):
    r = run_in(binary, tmp_path, "create", *args, env=stack_env(server.url))
    assert r.returncode == 0, r.stderr
    return json.loads((tmp_path / "state.json").read_text())["outputs"]


def hello_url(server, out):
    return f"{server.url}/_aws/execute-api/{out['api_id']}/{out['stage_name']}/hello"


def test_tutorial_stack_answers_401_403_200_and_delete_removes_the_log_group(binary, server, tmp_path):
    out = deploy(binary, server, tmp_path)
    hello = hello_url(server, out)
    token_url = f"{server.url}/_aws/cognito-idp/{out['user_pool_domain']}/oauth2/token"
    cognito, logs = server.boto("cognito-idp"), server.boto("logs")
    machine = cognito.describe_user_pool_client(UserPoolId=out["user_pool_id"], ClientId=out["machine_client_id"])["UserPoolClient"]
    secret = machine["ClientSecret"]

    def token(scope):
        r = form_post(token_url, {"grant_type": "client_credentials", "scope": scope},
                      {"Authorization": basic(out["machine_client_id"], secret)})
        assert r.status == 200, r
        return r.json()["access_token"]

    assert logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/EchoFunction")["logGroups"] == []
    assert request("GET", hello).status == 401
    assert request("GET", hello, headers={"Authorization": "Bearer garbage"}).status == 401
    read, write = token("HelloAPI/hello.read"), token("HelloAPI/hello.write")
    ok = request("GET", hello, headers={"Authorization": f"Bearer {read}"})
    assert (ok.status, ok.json()) == (200, "hello world")
    denied = request("POST", hello, headers={"Authorization": f"Bearer {read}"})
    assert (denied.status, denied.json()) == (403, {"message": "Forbidden"})
    assert request("POST", hello, headers={"Authorization": f"Bearer {write}"}).status == 200
    assert [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/EchoFunction")["logGroups"]] == \
        ["/aws/lambda/EchoFunction"]

    r = run_in(binary, tmp_path, "delete", env=stack_env(server.url))
    assert r.returncode == 0, r.stderr
    assert logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/EchoFunction")["logGroups"] == []


def test_iam_stack_answers_signed_requests_only(binary, server, tmp_path):
    out = deploy(binary, server, tmp_path, "--auth", "iam")
    hello = hello_url(server, out)

    def signed(secret):
        req = botocore.awsrequest.AWSRequest(method="GET", url=hello, data=b"")
        botocore.auth.SigV4Auth(botocore.credentials.Credentials("testing", secret), "execute-api", "us-east-1").add_auth(req)
        return dict(req.headers.items())

    assert request("GET", hello).status == 403
    assert request("GET", hello, headers=signed("wrong")).status == 403
    ok = request("GET", hello, headers=signed("testing"))
    assert (ok.status, ok.json()) == (200, "hello world")


def test_oidc_stack_with_a_local_issuer(binary, server, tmp_path):
    issuer = LocalIssuer()
    try:
        out = deploy(binary, server, tmp_path, "--auth", "oidc", "--issuer", issuer.url, "--audience", "account")
        hello = hello_url(server, out)
        now = int(time.time())
        claims = {"iss": issuer.url, "aud": "account", "sub": "alice", "iat": now, "exp": now + 300}
        assert request("GET", hello).status == 401
        assert request("GET", hello, headers={"Authorization": "Bearer " + issuer.token(**dict(claims, aud="other"))}).status == 401
        assert request("GET", hello, headers={"Authorization": "Bearer " + issuer.token(**dict(claims, exp=now - 5))}).status == 401
        # The oidc pattern's routes need a valid token for the audience, no scope.
        routes = server.boto("apigatewayv2").get_routes(ApiId=out["api_id"])["Items"]
        assert sorted(r["RouteKey"] for r in routes) == ["GET /hello", "POST /hello"]
        assert all(not r.get("AuthorizationScopes") for r in routes)
        assert request("POST", hello, headers={"Authorization": "Bearer " + issuer.token(**claims)}).status == 200
        ok = request("GET", hello, headers={"Authorization": "Bearer " + issuer.token(**claims)})
        assert (ok.status, ok.json()) == (200, "hello world")
    finally:
        issuer.stop()
