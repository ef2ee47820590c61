"""The other authorization patterns (issue 7): --auth oidc | lambda | iam.
Each creates exactly what its pattern needs (independent boto3 listing), deletes to nothing,
and survives a SIGKILL at every create call like the default stack."""
import base64
import datetime
import hashlib
import json
import struct
import subprocess
import urllib.request
import zlib
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ROOT, Inventory, KillSweep, fast_env, proxied_calls, run_in, stack_env
from test_tokens import FakeServer, OwnIssuer

ISSUER = "https://keycloak.example.com/realms/demo"


def stored_zip(name, data):
    """The zip secure-api builds: one stored entry, DOS date 1980-01-01, no extras."""
    n = name.encode()
    crc = zlib.crc32(data) & 0xFFFFFFFF
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, crc, len(data), len(data), len(n), 0) + n + data
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0314, 20, 0, 0, 0, 0x21, crc, len(data), len(data), len(n),
                          0, 0, 0, 0, 0o100644 << 16, 0) + n
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + end


COMMON = {"user_pools": 0, "app_clients": 0, "users": 0, "resource_servers": 0, "apis": 1, "routes": 2, "integrations": 1,
          "stages": 1, "roles": 1, "attached_policies": 1, "functions": 1, "permissions": 1, "log_groups": 0}
EXPECTED = {
    "oidc": COMMON,
    "iam": COMMON,
    "lambda": dict(COMMON, user_pools=1, app_clients=2, users=1, resource_servers=1, roles=2, attached_policies=2,
                   functions=2, permissions=2),
}
NONE = {k: 0 for k in COMMON}


def args_for(auth):
    return ["--auth", auth] + (["--issuer", ISSUER, "--audience", "account"] if auth == "oidc" else [])


@pytest.mark.parametrize("auth", ["oidc", "lambda", "iam"])
def test_pattern_creates_what_it_needs_and_deletes_to_nothing(binary, fresh_moto, tmp_path, auth):
    env = fast_env(fresh_moto.url)
    r = run_in(binary, tmp_path, "create", *args_for(auth), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    state = json.loads((tmp_path / "state.json").read_text())
    out = state["outputs"]
    assert state["config"]["auth"] == auth and out["auth"] == auth
    inv = Inventory(fresh_moto)
    assert inv.counts() == EXPECTED[auth]
    routes = {r["RouteKey"]: r for r in inv.apigw.get_routes(ApiId=out["api_id"])["Items"]}
    assert sorted(routes) == ["GET /hello", "POST /hello"]
    if auth == "oidc":
        authz = inv.apigw.get_authorizer(ApiId=out["api_id"], AuthorizerId=out["authorizer_id"])
        assert authz["AuthorizerType"] == "JWT" and authz["JwtConfiguration"] == {"Issuer": ISSUER, "Audience": ["account"]}
        assert all(r["AuthorizationType"] == "JWT" and r["AuthorizerId"] == out["authorizer_id"] for r in routes.values())
    if auth == "iam":
        assert all(r["AuthorizationType"] == "AWS_IAM" and not r.get("AuthorizerId") for r in routes.values())
        assert out["invoke_arn_pattern"] == f"arn:aws:execute-api:us-east-1:123456789012:{out['api_id']}/dev/*/*"
    if auth == "lambda":
        authz = inv.apigw.get_authorizer(ApiId=out["api_id"], AuthorizerId=out["authorizer_id"])
        assert authz["AuthorizerType"] == "REQUEST"
        assert authz["AuthorizerPayloadFormatVersion"] == "2.0" and authz["EnableSimpleResponses"] is True
        assert out["authorizer_function_arn"] in authz["AuthorizerUri"]
        assert all(r["AuthorizationType"] == "CUSTOM" and r["AuthorizerId"] == out["authorizer_id"] for r in routes.values())
        fn = inv.lam.get_function(FunctionName="CognitoAuthorizerFunction")["Configuration"]
        assert fn["Handler"] == "authorizer.lambda_handler"
        variables = fn["Environment"]["Variables"]
        assert variables["ISSUER"] == out["user_pool_jwt_issuer_url"]
        assert sorted(variables["CLIENT_IDS"].split(",")) == sorted([out["terminal_app_client_id"], out["machine_client_id"]])
        assert json.loads(variables["REQUIRED_SCOPES"]) == {"GET /hello": ["HelloAPI/hello.read", "HelloAPI/hello.write"],
                                                            "POST /hello": ["HelloAPI/hello.write"]}
        (stmt,) = json.loads(inv.lam.get_policy(FunctionName="CognitoAuthorizerFunction")["Policy"])["Statement"]
        assert stmt["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(f"{out['api_id']}/authorizers/{out['authorizer_id']}")
        # The deployed code is the project's authorizer.py byte for byte: the SHA-256 Lambda
        # reports equals that of the one-entry stored zip of the file (moto's Code.Location
        # points at S3, which this machine must not call).
        source = (ROOT / "lambda" / "authorizer" / "authorizer.py").read_bytes()
        assert fn["CodeSha256"] == base64.b64encode(hashlib.sha256(stored_zip("authorizer.py", source)).digest()).decode()
    r = run_in(binary, tmp_path, "status", env=env)
    assert r.returncode == 0, r.stdout
    r = run_in(binary, tmp_path, "delete", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert inv.counts() == NONE
    assert inv.lam.list_functions()["Functions"] == []


@pytest.mark.crash
@pytest.mark.parametrize("auth", ["oidc", "lambda", "iam"])
def test_pattern_survives_sigkill_after_create_calls(binary, fresh_moto, proxy, tmp_path, auth):
    env = fast_env(proxy.url)
    probe = tmp_path / "probe"
    probe.mkdir()
    sweep = KillSweep(f"create --auth {auth}, SIGKILL after the call",
                      proxied_calls(binary, proxy, probe, "create", *args_for(auth), env=env))
    assert run_in(binary, probe, "delete", env=env).returncode == 0
    inv = Inventory(fresh_moto)
    for at in sweep.points:
        fresh_moto.reset()
        work = tmp_path / f"k{at}"
        work.mkdir()
        sweep.run_killed(binary, proxy, work, "create", *args_for(auth), env=env, at=at, when="after")
        r = run_in(binary, work, "create", *args_for(auth), env=env)
        assert r.returncode == 0, f"{sweep.where(at)}: resume: {r.stdout}{r.stderr}"
        assert inv.counts() == EXPECTED[auth], sweep.where(at)
        assert run_in(binary, work, "delete", env=env).returncode == 0, sweep.where(at)
        assert inv.counts() == NONE, f"{sweep.where(at)}: leak"
    print(f"\n{sweep.summary()}; every resume ended with exactly the pattern's resources, every delete with none")


def test_jwt_verify_discovers_the_jwks_of_an_oidc_issuer(binary, tmp_path):
    own = OwnIssuer()
    discovery = {}

    def oidc(method, path, headers, body):
        if path == "/realms/demo/.well-known/openid-configuration":
            return 200, {"Content-Type": "application/json"}, json.dumps(discovery).encode()
        if path == "/realms/demo/protocol/openid-connect/certs":
            return 200, {"Content-Type": "application/json"}, urllib.request.urlopen(own.jwks_url).read()
        return 404, {}, b""

    server = FakeServer(oidc)
    issuer = server.url + "/realms/demo"
    discovery.update(issuer=issuer, jwks_uri=issuer + "/protocol/openid-connect/certs")
    own.issuer = issuer
    token = own.sign(aud="account", token_use=None, client_id=None, azp="cli")
    env = stack_env("http://127.0.0.1:1")
    base = ["jwt", "verify", "--issuer", issuer, "--client-id", "account", "--token-use", "any", "--state", str(tmp_path / "none.json")]
    r = run_in(binary, tmp_path, *base, token, env=env)
    assert r.returncode == 0, r.stderr
    assert "aud=account" in r.stdout
    paths = [req[1] for req in server.requests]
    assert paths == ["/realms/demo/.well-known/openid-configuration", "/realms/demo/protocol/openid-connect/certs"]
    other = ["jwt", "verify", "--issuer", issuer, "--client-id", "other", "--token-use", "any", "--state", str(tmp_path / "none.json")]
    r = run_in(binary, tmp_path, *other, token, env=env)
    assert r.returncode == 1 and "wrong audience" in r.stderr
    server.stop()
    own.server.stop()


def test_generic_client_credentials_takes_the_secret_from_env_or_stdin(binary, tmp_path):
    server = FakeServer(lambda m, p, h, b: (200, {"Content-Type": "application/json"},
                                            json.dumps({"access_token": "kc.token.x", "expires_in": 300, "token_type": "Bearer",
                                                        "auth": h.get("Authorization")}).encode()))
    env = stack_env("http://127.0.0.1:1", CLIENT_SECRET="s3cr3t")
    r = run_in(binary, tmp_path, "token", "--client-credentials", "--token-url", server.url + "/token", "--client-id", "svc", "-q", env=env)
    assert r.returncode == 0 and r.stdout.strip() == "kc.token.x"
    assert server.requests[-1][2]["Authorization"] == "Basic c3ZjOnMzY3IzdA=="
    env.pop("CLIENT_SECRET")
    r = run_in(binary, tmp_path, "token", "--client-credentials", "--token-url", server.url + "/token", "--client-id", "svc",
               "--client-secret-stdin", "-q", env=env, input="fromstdin\n")
    assert r.returncode == 0
    assert server.requests[-1][2]["Authorization"] == "Basic c3ZjOmZyb21zdGRpbg=="
    r = run_in(binary, tmp_path, "token", "--client-credentials", "--token-url", server.url + "/token", "--client-id", "svc", env=env)
    assert r.returncode == 1 and "no client secret" in r.stderr
    server.stop()


def test_request_sigv4_matches_botocore(binary, fresh_moto, tmp_path):
    env = fast_env(fresh_moto.url)
    assert run_in(binary, tmp_path, "create", "--auth", "iam", env=env).returncode == 0
    api = FakeServer(lambda m, p, h, b: (200, {"Content-Type": "application/json"}, b'"hello world"'))
    env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    for method, path, data in [("GET", "/dev/hello", None), ("POST", "/dev/hello?x=1&a=b%20c", '{"k": "v"}')]:
        args = ["request", method, "--sigv4", "--url", api.url + path] + (["--data", data] if data else [])
        r = run_in(binary, tmp_path, *args, env=env)
        assert r.returncode == 0, r.stderr
        _, got_path, headers, body = api.requests[-1]
        amz_date = headers["X-Amz-Date"]
        stamp = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ")
        req = AWSRequest(method=method, url=api.url + got_path, data=body)
        for k in ("Host", "Content-Type"):
            if k in headers:
                req.headers[k] = headers[k]
        with mock.patch("botocore.auth.get_current_datetime", return_value=stamp):
            SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), "execute-api", "us-east-1").add_auth(req)
        assert headers["Authorization"] == req.headers["Authorization"], method
        assert "/execute-api/aws4_request" in headers["Authorization"]
    api.stop()
    env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "testing", "testing"
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0


def test_embedded_authorizer_matches_the_source_file():
    r = subprocess.run(["python3", str(ROOT / "tools" / "embed_authorizer.py"), "--check"])
    assert r.returncode == 0, "Sources/Stack/Generated/AuthorizerSource.swift is stale: run 'make embed'"
