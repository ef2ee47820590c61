"""The Lambda REQUEST authorizer (lambda/authorizer/authorizer.py): real RSA keys, a real local
JWKS server, API Gateway payload 2.0 events, and the exact response shapes API Gateway accepts."""
import ast
import base64
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

AUTHORIZER_DIR = Path(__file__).resolve().parent.parent / "lambda" / "authorizer"
sys.path.insert(0, str(AUTHORIZER_DIR))
import authorizer  # noqa: E402

POOL = "us-east-1_TestPool"
CLIENT = "3n4b5urk1ft4fl3mg5e62d9ado"
OTHER_CLIENT = "6vq0ltbnnq2u0eu5tqdbf0e6p6"
READ, WRITE = "HelloAPI/hello.read", "HelloAPI/hello.write"
SCOPES = {"GET /hello": [READ, WRITE], "POST /hello": [WRITE]}
ROUTE_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/{method}/hello"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key, kid):
    numbers = key.public_key().public_numbers()
    as_bytes = lambda i: i.to_bytes((i.bit_length() + 7) // 8, "big")  # noqa: E731
    return {"kid": kid, "alg": "RS256", "kty": "RSA", "use": "sig",
            "n": b64url(as_bytes(numbers.n)), "e": b64url(as_bytes(numbers.e))}


@pytest.fixture(scope="module")
def keys():
    return {"k1": new_key(), "other": new_key(), "k2": new_key()}


class JWKSServer:
    """Serves a mutable JWKS at ISSUER/.well-known/jwks.json and counts the requests."""

    def __init__(self):
        self.jwks = {"keys": []}
        self.requests = []
        self.status = 200
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                ok = self.path in (f"/{POOL}/.well-known/jwks.json", "/custom/jwks.json")
                status = server.status if ok else 404
                body = json.dumps(server.jwks).encode() if status == 200 else b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.issuer = f"{self.base}/{POOL}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(keys, monkeypatch):
    srv = JWKSServer()
    srv.jwks["keys"].append(jwk(keys["k1"], "k1"))
    # JWKS_URL unset on purpose: the default ISSUER + "/.well-known/jwks.json" is what is fetched.
    monkeypatch.setenv("ISSUER", srv.issuer)
    monkeypatch.delenv("JWKS_URL", raising=False)
    monkeypatch.setenv("CLIENT_IDS", f"{CLIENT}, someotherclient")
    monkeypatch.setenv("REQUIRED_SCOPES", json.dumps(SCOPES))
    monkeypatch.delenv("RESPONSE_MODE", raising=False)
    authorizer.reset_cache()
    yield srv
    authorizer.reset_cache()
    srv.stop()


def make_token(key, issuer, kid="k1", header=None, **claims):
    now = int(time.time())
    body = {"sub": "9f1c2b3a-0000-4000-8000-000000000001", "iss": issuer, "client_id": CLIENT,
            "token_use": "access", "scope": READ, "auth_time": now, "exp": now + 3600, "iat": now,
            "jti": "2c2f0d49-a1c8-4cbb-9a56-3b9c5f1d3e42", "username": "testuser"}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    head = {"kid": kid, "alg": "RS256", **(header or {})}
    signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(body).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def event(token, method="GET", bearer=True, headers=True):
    value = f"Bearer {token}" if bearer else token
    ev = {"version": "2.0", "type": "REQUEST", "routeArn": ROUTE_ARN.format(method=method),
          "identitySource": [value], "routeKey": f"{method} /hello", "rawPath": "/dev/hello",
          "rawQueryString": "", "cookies": [],
          "headers": {"accept": "*/*", "host": "abcdef1234.execute-api.us-east-1.amazonaws.com"},
          "requestContext": {"accountId": "123456789012", "apiId": "abcdef1234", "stage": "dev",
                             "http": {"method": method, "path": "/dev/hello", "protocol": "HTTP/1.1",
                                      "sourceIp": "203.0.113.7", "userAgent": "curl/8"},
                             "routeKey": f"{method} /hello", "requestId": "abc=", "timeEpoch": 0}}
    if headers:
        ev["headers"]["authorization"] = value
    return ev


def assert_context(ctx):
    assert isinstance(ctx, dict)
    for k, v in ctx.items():  # API Gateway: context values are strings, numbers or booleans only
        assert isinstance(k, str) and isinstance(v, (str, int, float, bool)), (k, v)


def assert_simple(resp, allowed):
    assert set(resp) == {"isAuthorized", "context"}
    assert type(resp["isAuthorized"]) is bool and resp["isAuthorized"] is allowed
    assert_context(resp["context"])
    json.dumps(resp)
    return resp["context"]


def assert_iam(resp, allowed, route_arn):
    assert set(resp) == {"principalId", "policyDocument", "context"}
    assert isinstance(resp["principalId"], str) and resp["principalId"]
    assert resp["policyDocument"] == {"Version": "2012-10-17", "Statement": [{
        "Action": "execute-api:Invoke", "Effect": "Allow" if allowed else "Deny", "Resource": route_arn}]}
    assert_context(resp["context"])
    json.dumps(resp)
    return resp["context"]


def call(ev):
    return authorizer.handler(ev, None)


# --- allow -------------------------------------------------------------------------------------

def test_allow_good_token_simple(server, keys):
    token = make_token(keys["k1"], server.issuer)
    ctx = assert_simple(call(event(token)), True)
    assert ctx == {"scope": READ, "client_id": CLIENT, "sub": "9f1c2b3a-0000-4000-8000-000000000001",
                   "username": "testuser"}
    assert server.requests == [f"/{POOL}/.well-known/jwks.json"]  # the default JWKS_URL
    assert authorizer.lambda_handler is authorizer.handler


def test_keys_are_cached_across_invocations(server, keys):
    for _ in range(3):
        assert_simple(call(event(make_token(keys["k1"], server.issuer))), True)
    assert len(server.requests) == 1


@pytest.mark.parametrize("how", ["bare", "identity_source_only", "header_case"])
def test_token_sources(server, keys, how):
    token = make_token(keys["k1"], server.issuer)
    if how == "bare":
        ev = event(token, bearer=False)
    elif how == "identity_source_only":
        ev = event(token, headers=False)
    else:
        ev = event(token)
        ev["headers"]["Authorization"] = "bearer " + token  # lenient on case, though 2.0 lower-cases
        del ev["headers"]["authorization"]
        ev["identitySource"] = None
    assert_simple(call(ev), True)


def test_jwks_url_override(server, keys, monkeypatch):
    monkeypatch.setenv("JWKS_URL", server.base + "/custom/jwks.json")
    assert_simple(call(event(make_token(keys["k1"], server.issuer))), True)
    assert server.requests == ["/custom/jwks.json"]


def test_machine_token_without_username(server, keys):
    token = make_token(keys["k1"], server.issuer, username=None, scope=f"{READ} {WRITE}")
    ctx = assert_simple(call(event(token, method="POST")), True)
    assert ctx["username"] == "" and ctx["scope"] == f"{READ} {WRITE}"


# --- scopes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,scope,allowed", [
    ("GET", READ, True), ("GET", WRITE, True), ("GET", f"openid {WRITE}", True),  # OR semantics
    ("POST", READ, False), ("POST", WRITE, True), ("GET", "openid profile", False), ("GET", "", False),
    ("DELETE", "openid", True),  # a route not listed needs no scope
])
def test_scopes_per_route(server, keys, method, scope, allowed):
    assert_simple(call(event(make_token(keys["k1"], server.issuer, scope=scope), method=method)), allowed)


def test_scope_config_errors_fail_closed(server, keys, monkeypatch):
    token = make_token(keys["k1"], server.issuer, scope=READ)
    for bad in ["not json", "[1, 2]", json.dumps({"GET /hello": 5})]:
        monkeypatch.setenv("REQUIRED_SCOPES", bad)
        assert_simple(call(event(token)), False)


# --- deny --------------------------------------------------------------------------------------

def test_deny_bad_signature(server, keys):
    token = make_token(keys["other"], server.issuer, kid="k1")  # right kid, wrong key
    assert_simple(call(event(token)), False)
    with pytest.raises(authorizer.AuthError, match="bad signature"):
        authorizer.verify_token(token)


def test_deny_tampered_payload(server, keys):
    head, body, sig = make_token(keys["k1"], server.issuer, scope=READ).split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["scope"] = WRITE  # escalate, keeping the original signature
    token = f"{head}.{b64url(json.dumps(claims).encode())}.{sig}"
    assert_simple(call(event(token, method="POST")), False)
    with pytest.raises(authorizer.AuthError, match="bad signature"):
        authorizer.verify_token(token)


@pytest.mark.parametrize("variant,accepted", [
    ("exact", True), ("short_ff_run", False), ("no_null_param", False), ("bare_digest", False),
    ("block_type_2", False), ("trailing_garbage", False),
])
def test_signature_encoding_must_be_exact(keys, variant, accepted):
    # Raw RSA with the private exponent, so only the padding differs from a real signature.
    import hashlib
    priv = keys["k1"].private_numbers()
    n, d = priv.public_numbers.n, priv.d
    k = (n.bit_length() + 7) // 8
    signing_input = b"header.payload"
    digest = hashlib.sha256(signing_input).digest()
    prefix = bytes.fromhex("3031300d060960864801650304020105000420")
    t = {"no_null_param": bytes.fromhex("302f300b0609608648016503040201") + b"\x04\x20" + digest,
         "bare_digest": digest}.get(variant, prefix + digest)
    ps = b"\xff" * (k - len(t) - 3)
    em = {"short_ff_run": b"\x00\x01" + ps[:-1] + b"\x00\x00" + t,
          "block_type_2": b"\x00\x02" + ps + b"\x00" + t,
          "trailing_garbage": b"\x00\x01" + ps[:-4] + b"\x00" + t + b"\x01\x02\x03\x04"}.get(
        variant, b"\x00\x01" + ps + b"\x00" + t)
    assert len(em) == k
    signature = pow(int.from_bytes(em, "big"), d, n).to_bytes(k, "big")
    if accepted:
        authorizer._rs256_verify(signing_input, signature, n, 65537)
    else:
        with pytest.raises(authorizer.AuthError, match="bad signature"):
            authorizer._rs256_verify(signing_input, signature, n, 65537)


@pytest.mark.parametrize("offset,allowed", [(-3600, False), (-61 - 5, False), (-30, True)])
def test_expiry_with_leeway(server, keys, offset, allowed):
    token = make_token(keys["k1"], server.issuer, exp=int(time.time()) + offset)
    assert_simple(call(event(token)), allowed)


def test_deny_expired_reason(server, keys):
    token = make_token(keys["k1"], server.issuer, exp=int(time.time()) - 3600)
    with pytest.raises(authorizer.AuthError, match="expired"):
        authorizer.verify_token(token)


@pytest.mark.parametrize("claims,reason", [
    ({"nbf": int(time.time()) + 3600}, "nbf"),
    ({"iat": int(time.time()) + 3600}, "iat"),
    ({"exp": None}, "missing exp"),
    ({"exp": "tomorrow"}, "not a number"),
    ({"token_use": "id"}, "not an access token"),
])
def test_deny_claims(server, keys, claims, reason):
    token = make_token(keys["k1"], server.issuer, **claims)
    assert_simple(call(event(token)), False)
    with pytest.raises(authorizer.AuthError, match=reason):
        authorizer.verify_token(token)


def test_deny_wrong_issuer(server, keys):
    token = make_token(keys["k1"], "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other")
    assert_simple(call(event(token)), False)
    with pytest.raises(authorizer.AuthError, match="wrong issuer"):
        authorizer.verify_token(token)


def test_deny_wrong_client_id(server, keys):
    token = make_token(keys["k1"], server.issuer, client_id=OTHER_CLIENT)
    assert_simple(call(event(token)), False)
    with pytest.raises(authorizer.AuthError, match="client_id"):
        authorizer.verify_token(token)


def test_deny_missing_authorization(server):
    ev = event("x", headers=False)
    ev["identitySource"] = []
    assert_simple(call(ev), False)
    del ev["headers"], ev["identitySource"]
    assert_simple(call(ev), False)
    assert server.requests == []


@pytest.mark.parametrize("alg", ["none", "HS256", "RS512", None])
def test_deny_other_algorithms(server, keys, alg):
    head = {"kid": "k1", "alg": alg} if alg else {"kid": "k1"}
    body = json.loads(base64.urlsafe_b64decode(make_token(keys["k1"], server.issuer).split(".")[1] + "=="))
    signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(body).encode())}"
    if alg == "HS256":  # classic confusion: HMAC keyed with the public JWK
        import hashlib
        import hmac
        sig = b64url(hmac.new(json.dumps(server.jwks).encode(), signing_input.encode(), hashlib.sha256).digest())
    else:
        sig = ""
    token = f"{signing_input}.{sig}"
    assert_simple(call(event(token)), False)
    with pytest.raises(authorizer.AuthError, match="unsupported alg"):
        authorizer.verify_token(token)
    assert server.requests == []  # rejected before any key lookup


def test_deny_missing_kid(server, keys):
    token = make_token(keys["k1"], server.issuer, header={"kid": None})
    with pytest.raises(authorizer.AuthError, match="missing kid"):
        authorizer.verify_token(token)
    assert_simple(call(event(token)), False)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c", "!!.??.**", "e30.e30.", "W10.W10.AA",
                                   "a.b.c.d", "Bearer"])
def test_garbage_tokens_deny_without_raising(server, token):
    assert_simple(call(event(token)), False)


@pytest.mark.parametrize("ev", [None, {}, [], {"headers": None}, {"headers": {"authorization": 7}},
                                {"headers": ["authorization"]}, {"identitySource": "Bearer x"}])
def test_garbage_events_deny_without_raising(server, ev):
    assert_simple(call(ev), False)


def test_missing_config_fails_closed(server, keys, monkeypatch):
    token = make_token(keys["k1"], server.issuer)
    monkeypatch.setenv("CLIENT_IDS", " , ")
    assert_simple(call(event(token)), False)
    monkeypatch.setenv("CLIENT_IDS", CLIENT)
    monkeypatch.delenv("ISSUER")
    assert_simple(call(event(token)), False)


def test_jwks_unreachable_denies_then_recovers(server, keys):
    token = make_token(keys["k1"], server.issuer)
    server.status = 500
    assert_simple(call(event(token)), False)
    server.status = 200
    assert_simple(call(event(token)), True)  # a failed fetch is not cached
    assert len(server.requests) == 2


# --- JWKS refetch ------------------------------------------------------------------------------

def test_unknown_kid_triggers_exactly_one_refetch(server, keys):
    assert_simple(call(event(make_token(keys["k1"], server.issuer))), True)
    assert len(server.requests) == 1
    # Key rotation: Cognito publishes k2 and signs with it; one refetch picks it up.
    server.jwks["keys"].append(jwk(keys["k2"], "k2"))
    assert_simple(call(event(make_token(keys["k2"], server.issuer, kid="k2"))), True)
    assert len(server.requests) == 2
    # A forged kid right after: denied, and no further fetch (refetches are throttled).
    assert_simple(call(event(make_token(keys["other"], server.issuer, kid="forged"))), False)
    assert len(server.requests) == 2
    # Known keys keep working from the cache.
    assert_simple(call(event(make_token(keys["k1"], server.issuer))), True)
    assert len(server.requests) == 2


def test_unknown_kid_refetches_once_per_invocation(server, keys):
    assert_simple(call(event(make_token(keys["k1"], server.issuer))), True)
    with pytest.raises(authorizer.AuthError, match="unknown kid"):
        authorizer.verify_token(make_token(keys["other"], server.issuer, kid="nope"))
    assert len(server.requests) == 2


def test_fetch_jwks_is_injectable(server, keys, monkeypatch):
    calls = []
    monkeypatch.setattr(authorizer, "fetch_jwks", lambda url: calls.append(url) or {"keys": [jwk(keys["k1"], "k1")]})
    claims = authorizer.verify_token(make_token(keys["k1"], server.issuer), now=time.time())
    assert claims["client_id"] == CLIENT and calls == [server.issuer + "/.well-known/jwks.json"]
    assert server.requests == []


def test_small_and_malformed_jwks_keys_are_not_used(server, keys, monkeypatch):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    server.jwks = {"keys": [jwk(weak, "weak"), {"kid": "k1", "kty": "EC"}, {"kid": "bad", "kty": "RSA", "n": "!"}]}
    assert_simple(call(event(make_token(weak, server.issuer, kid="weak"))), False)
    assert_simple(call(event(make_token(keys["k1"], server.issuer))), False)


# --- IAM policy mode ---------------------------------------------------------------------------

def test_iam_mode_allow(server, keys, monkeypatch):
    monkeypatch.setenv("RESPONSE_MODE", "iam")
    ev = event(make_token(keys["k1"], server.issuer, scope=WRITE), method="POST")
    resp = call(ev)
    ctx = assert_iam(resp, True, ev["routeArn"])
    assert resp["principalId"] == "9f1c2b3a-0000-4000-8000-000000000001"
    assert ctx["scope"] == WRITE and ctx["client_id"] == CLIENT


@pytest.mark.parametrize("case", ["scope", "signature", "missing"])
def test_iam_mode_deny(server, keys, monkeypatch, case):
    monkeypatch.setenv("RESPONSE_MODE", "iam")
    if case == "scope":
        ev = event(make_token(keys["k1"], server.issuer, scope=READ), method="POST")
    elif case == "signature":
        ev = event(make_token(keys["other"], server.issuer), method="POST")
    else:
        ev = event("", method="POST", headers=False)
        ev["identitySource"] = []
    assert_iam(call(ev), False, ev["routeArn"])


def test_iam_mode_without_route_arn_denies(server, keys, monkeypatch):
    monkeypatch.setenv("RESPONSE_MODE", "iam")
    ev = event(make_token(keys["k1"], server.issuer))
    del ev["routeArn"]
    assert_iam(call(ev), False, "*")


def test_unknown_response_mode_denies(server, keys, monkeypatch):
    monkeypatch.setenv("RESPONSE_MODE", "policy")
    assert_simple(call(event(make_token(keys["k1"], server.issuer))), False)


# --- logging and packaging ---------------------------------------------------------------------

def test_token_never_logged(server, keys, capsys, monkeypatch):
    tokens = [make_token(keys["k1"], server.issuer),
              make_token(keys["other"], server.issuer),
              make_token(keys["k1"], server.issuer, exp=1),
              make_token(keys["k1"], server.issuer, scope="openid", username="alice"),
              make_token(keys["k1"], server.issuer, kid="unknown-kid")]
    for token in tokens:
        call(event(token, method="POST"))
    monkeypatch.setenv("RESPONSE_MODE", "iam")
    call(event(tokens[0]))
    out = capsys.readouterr()
    logged = out.out + out.err
    lines = out.out.splitlines()
    assert len(lines) == len(tokens) + 1, lines  # one line per decision
    assert lines[0].startswith("deny") and "missing scope" in lines[0]
    assert any("bad signature" in line for line in lines) and any("expired" in line for line in lines)
    for token in tokens:
        for part in token.split("."):
            assert part not in logged


def test_imports_only_standard_library():
    source = (AUTHORIZER_DIR / "authorizer.py").read_text()
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in a single-file Lambda"
            modules.add(node.module.split(".")[0])
    assert modules and modules <= set(sys.stdlib_module_names), modules - set(sys.stdlib_module_names)
    assert not list(AUTHORIZER_DIR.glob("*.py"))[1:], "the Lambda must be one self-contained file"
