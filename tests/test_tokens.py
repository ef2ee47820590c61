"""Tokens, JWT verification and calling the API (issue 5), through the CLI:
real tokens from moto's Cognito, forged ones made here, and small local HTTP servers standing
in for the parts moto lacks (hosted-UI token endpoint, the API's data plane)."""
import base64
import hashlib
import hmac
import json
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from conftest import PASSWORD, Inventory, clean_env, free_port, run_in, stack_env


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_json(obj):
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class FakeServer:
    """A tiny HTTP server whose answers a test scripts: handler(method, path, headers, body) -> (status, headers, body)."""

    def __init__(self, handler):
        self.requests = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def handle_any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append((self.command, self.path, dict(self.headers), body))
                status, headers, data = handler(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = handle_any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, binary, moto):
    """One real stack on moto for the module; deleted at the end."""
    moto.reset()
    d = tmp_path_factory.mktemp("tokens")
    env = stack_env(moto.url, XDG_CACHE_HOME=str(d / "cache"))
    r = run_in(binary, d, "create", env=env)
    assert r.returncode == 0, r.stderr
    yield d, env, json.loads((d / "state.json").read_text())["outputs"]
    assert run_in(binary, d, "delete", env=env).returncode == 0


def real_token(binary, stack):
    d, env, _ = stack
    r = run_in(binary, d, "token", "--password", "--quiet", env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_password_flow_token_verifies_against_moto_jwks(binary, stack):
    d, env, out = stack
    r = run_in(binary, d, "token", "--password", env=env)
    assert r.returncode == 0, r.stderr
    assert '"token_use": "access"' in r.stdout and '"alg": "RS256"' in r.stdout  # decoded header and claims
    token = real_token(binary, stack)
    r = run_in(binary, d, "jwt", "verify", token, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("valid: token_use=access client_id=" + out["terminal_app_client_id"])
    # the cache: 0600 file under XDG_CACHE_HOME, never state.json
    cache = d / "cache" / "secure-api" / "tokens.json"
    assert oct(cache.stat().st_mode & 0o777) == "0o600"
    assert token in cache.read_text()
    assert token not in (d / "state.json").read_text()


def forged_variants(token, moto_url, pool_id):
    """Forgeries derived from a real moto token, each with the check it must fail."""
    h, p, s = token.split(".")
    header, claims = json.loads(unb64u(h)), json.loads(unb64u(p))
    jwks = json.loads(urllib.request.urlopen(f"{moto_url}/{pool_id}/.well-known/jwks.json").read())
    n = unb64u(jwks["keys"][0]["n"])
    forged = {}
    forged["alg none"] = (b64u_json(dict(header, alg="none")) + "." + p + ".", "unsupported jwt algorithm")
    hs_header = b64u_json(dict(header, alg="HS256"))
    mac = hmac.new(n, f"{hs_header}.{p}".encode(), hashlib.sha256).digest()
    forged["HS256 with the public key"] = (f"{hs_header}.{p}.{b64u(mac)}", "unsupported jwt algorithm")
    forged["unknown kid"] = (b64u_json(dict(header, kid="no-such-key")) + "." + p + "." + s, "unknown key id")
    forged["altered payload"] = (h + "." + b64u_json(dict(claims, username="admin")) + "." + s, "signature")
    return forged


def test_forged_tokens_rejected_each_with_its_reason(binary, stack, moto):
    d, env, out = stack
    token = real_token(binary, stack)
    for name, (forgery, reason) in forged_variants(token, moto.url, out["user_pool_id"]).items():
        r = run_in(binary, d, "jwt", "verify", forgery, env=env)
        assert r.returncode == 1, name
        assert reason in r.stderr.lower(), f"{name}: {r.stderr}"
        assert len(r.stderr.strip().splitlines()) == 1


class OwnIssuer:
    """An RSA key of our own, its JWKS on a local server, and tokens we sign with it."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        nums = self.key.public_key().public_numbers()
        jwk = {"kty": "RSA", "kid": "test-key", "alg": "RS256", "use": "sig",
               "n": b64u(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")), "e": b64u(nums.e.to_bytes(3, "big"))}
        self.server = FakeServer(lambda m, path, h, b: (200, {"Content-Type": "application/json"}, json.dumps({"keys": [jwk]}).encode()))
        self.jwks_url = self.server.url + "/jwks.json"
        self.issuer = "https://issuer.test/pool"

    def sign(self, **claims):
        now = int(time.time())
        body = {"iss": self.issuer, "token_use": "access", "client_id": "client-1", "scope": "HelloAPI/hello.read",
                "iat": now, "exp": now + 600, **claims}
        body = {k: v for k, v in body.items() if v is not None}
        signing_input = f"{b64u_json({'alg': 'RS256', 'kid': 'test-key', 'typ': 'JWT'})}.{b64u_json(body)}"
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64u(sig)}"


def test_claim_checks_with_a_key_of_our_own(binary, tmp_path):
    own = OwnIssuer()
    base = ["jwt", "verify", "--issuer", own.issuer, "--jwks-url", own.jwks_url, "--client-id", "client-1",
            "--state", str(tmp_path / "none.json")]
    env = stack_env("http://127.0.0.1:1")
    now = int(time.time())
    ok = run_in(binary, tmp_path, *base, own.sign(), "--scope", "HelloAPI/hello.read", env=env)
    assert ok.returncode == 0, ok.stderr
    cases = {
        "expired": (own.sign(exp=now - 3600), [], "expired"),
        "not yet valid": (own.sign(nbf=now + 3600), [], "not valid yet"),
        "wrong issuer": (own.sign(iss="https://evil.test/pool"), [], "wrong issuer"),
        "wrong client": (own.sign(client_id="someone-else"), [], "wrong client_id"),
        "id token where access required": (own.sign(token_use="id", client_id=None, aud="client-1"), [], "token_use"),
        "missing scope": (own.sign(), ["--scope", "HelloAPI/hello.write"], "missing scope"),
    }
    reasons = set()
    for name, (token, extra, reason) in cases.items():
        r = run_in(binary, tmp_path, *base, token, *extra, env=env)
        assert r.returncode == 1, name
        assert reason in r.stderr.lower(), f"{name}: {r.stderr}"
        reasons.add(r.stderr.strip())
    assert len(reasons) == len(cases), "each forgery gets its own reason"
    # OR by default (API Gateway), AND with --all-scopes
    both = own.sign(scope="HelloAPI/hello.read")
    scopes = ["--scope", "HelloAPI/hello.read", "--scope", "HelloAPI/hello.write"]
    assert run_in(binary, tmp_path, *base, both, *scopes, env=env).returncode == 0
    assert run_in(binary, tmp_path, *base, both, *scopes, "--all-scopes", env=env).returncode == 1
    own.server.stop()


def test_client_credentials_against_a_local_token_endpoint(binary, stack, moto):
    d, env, out = stack
    secret = Inventory(moto).cognito.describe_user_pool_client(UserPoolId=out["user_pool_id"],
                                                                ClientId=out["machine_client_id"])["UserPoolClient"]["ClientSecret"]

    def token_endpoint(method, path, headers, body):
        expected = "Basic " + base64.b64encode(f"{out['machine_client_id']}:{secret}".encode()).decode()
        if headers.get("Authorization") != expected:
            return 400, {"Content-Type": "application/json"}, b'{"error":"invalid_client"}'
        form = urllib.parse.parse_qs(body.decode())
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"access_token": "header.payload.sig", "token_type": "Bearer", "expires_in": 3600, "scope": form["scope"][0]}).encode()

    server = FakeServer(token_endpoint)
    r = run_in(binary, d, "token", "--client-credentials", "--no-cache", "--token-url", server.url + "/oauth2/token", "-q", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "header.payload.sig"
    method, path, _headers, body = server.requests[-1]
    assert method == "POST" and path == "/oauth2/token"
    form = urllib.parse.parse_qs(body.decode())
    assert form["grant_type"] == ["client_credentials"]
    assert sorted(form["scope"][0].split()) == ["HelloAPI/hello.read", "HelloAPI/hello.write"]
    assert secret not in body.decode()  # only in the Basic header
    # A wrong secret (the server's view): invalid_client, reported clearly.
    server.stop()
    refusing = FakeServer(lambda *a: (400, {"Content-Type": "application/json"},
                                      b'{"error":"invalid_client","error_description":"bad secret"}'))
    r = run_in(binary, d, "token", "--client-credentials", "--no-cache", "--token-url", refusing.url + "/oauth2/token", env=env)
    assert r.returncode == 1 and "invalid_client" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    refusing.stop()


def test_login_pkce_against_a_local_authorization_server(binary, stack, tmp_path):
    _d, env, _out = stack
    tokens = FakeServer(lambda m, p, h, b: (200, {"Content-Type": "application/json"},
                                            b'{"access_token":"a.b.c","id_token":"d.e.f","refresh_token":"r","expires_in":3600,"token_type":"Bearer"}'))

    def login(reply):
        port = free_port()
        redirect = f"http://localhost:{port}/callback"
        p = subprocess.Popen([binary, "login", "--no-browser", "--timeout", "20", "--authorize-url", tokens.url + "/oauth2/authorize",
                              "--token-url", tokens.url + "/oauth2/token", "--client-id", "public-client", "--redirect-uri", redirect,
                              "--state", str(tmp_path / "none.json")],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = ""
        while "oauth2/authorize" not in line:
            line = p.stderr.readline()
            assert line, "login printed no authorize URL"
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(line.strip()).query)
        assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
        assert query["redirect_uri"] == [redirect] and query["client_id"] == ["public-client"]
        params = reply(query)
        try:
            urllib.request.urlopen(f"{redirect}?{urllib.parse.urlencode(params)}", timeout=10).read()
        except urllib.error.HTTPError:
            pass
        out_, err = p.communicate(timeout=30)
        return p.returncode, out_, err, query

    rc, stdout, err, _ = login(lambda q: {"code": "c0de", "state": "not-the-state"})
    assert rc == 1 and "state" in err.lower()
    rc, stdout, err, _ = login(lambda q: {"error": "access_denied", "error_description": "user said no", "state": q["state"][0]})
    assert rc == 1 and "access_denied" in err
    rc, stdout, err, query = login(lambda q: {"code": "c0de", "state": q["state"][0]})
    assert rc == 0, err
    assert "access_token: a.b.c" in stdout
    _method, _path, headers, body = tokens.requests[-1]
    form = urllib.parse.parse_qs(body.decode())
    verifier = form["code_verifier"][0]
    assert b64u(hashlib.sha256(verifier.encode()).digest()) == query["code_challenge"][0]
    assert form["grant_type"] == ["authorization_code"] and form["code"] == ["c0de"]
    assert form["client_id"] == ["public-client"] and form["redirect_uri"] == [query["redirect_uri"][0]]
    assert "Authorization" not in headers and "client_secret" not in form
    tokens.stop()


def test_request_explains_401_and_403_from_the_api(binary, stack):
    d, env, _out = stack

    def api(method, path, headers, body):
        auth = headers.get("Authorization")
        if not auth:
            return 401, {"WWW-Authenticate": 'Bearer'}, b'{"message":"Unauthorized"}'
        if method == "POST":
            return 403, {"WWW-Authenticate": 'Bearer scope="HelloAPI/hello.write" error="insufficient_scope" '
                                             'error_description="expected scopes: [HelloAPI/hello.write]"'}, b'{"message":"Forbidden"}'
        return 200, {"Content-Type": "application/json"}, b'"hello world"'

    server = FakeServer(api)
    r = run_in(binary, d, "request", "--no-token", "--url", server.url + "/dev/hello", env=env)
    assert r.returncode == 1 and "HTTP 401" in r.stdout and "401 Unauthorized" in r.stderr
    r = run_in(binary, d, "request", "POST", "--token", "abc.def.ghi", "--url", server.url + "/dev/hello", env=env)
    assert r.returncode == 1 and "HTTP 403" in r.stdout
    assert "insufficient_scope: the route needs one of [HelloAPI/hello.write]" in r.stderr
    r = run_in(binary, d, "request", "--token", "abc.def.ghi", "--url", server.url + "/dev/hello", env=env)
    assert r.returncode == 0 and "HTTP 200" in r.stdout and '"hello world"' in r.stdout
    assert server.requests[-1][2]["Authorization"] == "Bearer abc.def.ghi"
    server.stop()


def test_request_on_the_emulator_calls_its_data_plane(binary, stack):
    d, env, out = stack
    assert out["api_url"] == f"{env['AWS_ENDPOINT_URL']}/_aws/execute-api/{out['api_id']}/dev"
    r = run_in(binary, d, "request", "--no-token", env=env)
    assert r.returncode == 1 and r.stdout.startswith("HTTP 401") and '{"message": "Unauthorized"}' in r.stdout
    assert "apigw-requestid" in r.stdout.lower() and "simulated" not in r.stdout + r.stderr
    r = run_in(binary, d, "request", "--password", env=env)
    assert r.returncode == 1 and "HTTP 403" in r.stdout and 'error="insufficient_scope"' in r.stdout


def test_no_secret_in_state_or_verbose_output(binary, stack, moto):
    d, env, out = stack
    secret = Inventory(moto).cognito.describe_user_pool_client(UserPoolId=out["user_pool_id"],
                                                                ClientId=out["machine_client_id"])["UserPoolClient"]["ClientSecret"]
    r = run_in(binary, d, "token", "--password", "--no-cache", "-v", "--quiet", env=env)
    assert r.returncode == 0
    token = r.stdout.strip()
    assert "InitiateAuth" in r.stderr and '"AccessToken":"***"' in r.stderr
    r2 = run_in(binary, d, "request", "--password", "-v", env=env)
    logs = r.stderr + r2.stdout + r2.stderr
    state = (d / "state.json").read_text()
    for s in (PASSWORD, secret, token):
        assert s not in logs
        assert s not in state


def test_jwt_verify_without_any_client_id_to_check_refuses(binary, tmp_path):
    """No state and no --client-id: nothing to check the audience against, so no "valid"."""
    r = run_in(binary, tmp_path, "jwt", "verify", "a.b.c", "--issuer", "https://issuer.example", env=clean_env())
    assert r.returncode == 1 and "no client id to check the token against: pass --client-id" in r.stderr, r.stderr
