"""Plain-HTTP helpers for the data-plane tests (urllib/http.client only, never the project's own
client): requests that do not follow redirects, a browser-like sign-in through the hosted UI's
form, and an independent RS256 check of a JWT against a JWKS with the `cryptography` package."""
import base64
import hashlib
import http.client
import json
import secrets
import threading
import urllib.request
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CALLBACK = "http://localhost:8083/callback"
PASSWORD = "Corr3ct-Horse!"


def make_pool(server):
    """A pool with a domain, a resource server, a public PKCE client, a confidential machine
    client and a confirmed user, made with boto3 (a new pool each time)."""
    cognito = server.boto("cognito-idp")
    pool = cognito.create_user_pool(PoolName="HelloUserPool", AutoVerifiedAttributes=["email"])["UserPool"]
    prefix = "dom" + pool["Id"].split("_")[1].lower()
    cognito.create_user_pool_domain(UserPoolId=pool["Id"], Domain=prefix)
    cognito.create_resource_server(UserPoolId=pool["Id"], Identifier="HelloAPI", Name="HelloAPI",
                                   Scopes=[{"ScopeName": s, "ScopeDescription": s} for s in ("hello.read", "hello.write")])
    public = cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="Terminal Application", AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid", "profile", "email", "HelloAPI/hello.read"],
        CallbackURLs=[CALLBACK], SupportedIdentityProviders=["COGNITO"])["UserPoolClient"]
    machine = cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="Machine Client", GenerateSecret=True, AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=["HelloAPI/hello.read", "HelloAPI/hello.write"])["UserPoolClient"]
    cognito.admin_create_user(UserPoolId=pool["Id"], Username="Testuser", MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": "testuser@example.com"},
                                              {"Name": "email_verified", "Value": "true"}])
    cognito.admin_set_user_password(UserPoolId=pool["Id"], Username="Testuser", Password=PASSWORD, Permanent=True)
    domain = f"{server.url}/_aws/cognito-idp/{prefix}"
    with urllib.request.urlopen(f"{server.url}/{pool['Id']}/.well-known/jwks.json") as r:
        jwks = json.load(r)
    return {"pool": pool["Id"], "domain": domain, "token_url": domain + "/oauth2/token", "public": public["ClientId"],
            "machine": machine["ClientId"], "secret": machine["ClientSecret"], "cognito": cognito, "jwks": jwks,
            "issuer": f"https://cognito-idp.us-east-1.amazonaws.com/{pool['Id']}"}


def client_token(stack, scope=None):
    fields = {"grant_type": "client_credentials"}
    if scope:
        fields["scope"] = scope
    r = form_post(stack["token_url"], fields, {"Authorization": basic(stack["machine"], stack["secret"])})
    assert r.status == 200, r
    return r.json()["access_token"]


def user_tokens(stack, scope="openid email HelloAPI/hello.read"):
    """Tokens of the test user, through the hosted UI's form and the code exchange (PKCE S256)."""
    verifier, challenge = pkce_pair()
    query = {"response_type": "code", "client_id": stack["public"], "redirect_uri": CALLBACK, "state": "s",
             "scope": scope, "code_challenge": challenge, "code_challenge_method": "S256"}
    params = callback_params(browser_login(stack["domain"] + "/oauth2/authorize?" + urlencode(query), "Testuser", PASSWORD))
    r = form_post(stack["token_url"], {"grant_type": "authorization_code", "client_id": stack["public"], "code": params["code"],
                                       "redirect_uri": CALLBACK, "code_verifier": verifier})
    assert r.status == 200, r
    return r.json()


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"Answer({self.status}, {self.body[:300]!r})"


def request(method, url, body=None, headers=None) -> Answer:
    """One HTTP exchange, redirects not followed."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    data = body.encode() if isinstance(body, str) else body
    try:
        conn.request(method, path, body=data, headers=headers or {})
        r = conn.getresponse()
        return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode("utf-8", "replace"))
    finally:
        conn.close()


def form_post(url, fields: dict, headers=None) -> Answer:
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    h.update(headers or {})
    return request("POST", url, urlencode(fields), h)


def basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def pkce_pair(method="S256"):
    verifier = secrets.token_urlsafe(48)
    if method == "plain":
        return verifier, verifier
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class FormParser(HTMLParser):
    """The first form of a page: its action and its input fields."""

    def __init__(self):
        super().__init__()
        self.action, self.fields, self.in_form = None, {}, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action, self.in_form = a.get("action", ""), True
        elif tag == "input" and self.in_form and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False


def browser_login(authorize_url, username, password) -> Answer:
    """What a browser does: open the authorize URL, follow its redirect to the sign-in page, fill
    the form (keeping its hidden fields and cookie) and submit it. The answer to the submit."""
    first = request("GET", authorize_url)
    assert first.status == 302, first
    login_url = urljoin(authorize_url, first.header("location"))
    page = request("GET", login_url)
    assert page.status == 200, page
    form = FormParser()
    form.feed(page.body)
    assert form.action is not None, page.body
    cookie = page.header("set-cookie").split(";")[0]
    fields = dict(form.fields)
    fields.update(username=username, password=password)
    return form_post(urljoin(login_url, form.action), fields, {"Cookie": cookie})


def callback_params(answer: Answer) -> dict:
    assert answer.status == 302, answer
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.header("location")).query).items()}


def b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def verify_jwt(token: str, jwks: dict) -> dict:
    """The claims of an RS256 JWT whose signature the JWKS key named by its kid verifies (raises
    cryptography's InvalidSignature otherwise)."""
    head, payload, signature = token.split(".")
    header = json.loads(b64url(head))
    assert header["alg"] == "RS256"
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    public = rsa.RSAPublicNumbers(int.from_bytes(b64url(key["e"]), "big"), int.from_bytes(b64url(key["n"]), "big")).public_key()
    public.verify(b64url(signature), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return json.loads(b64url(payload))


def forge(claims, key, kid="forged"):
    """A JWT signed with an RSA key of the test's own (cryptography), not the pool's."""
    head = base64.urlsafe_b64encode(json.dumps({"alg": "RS256", "kid": kid}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    signature = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def jwk_of(key, kid):
    numbers = key.public_key().public_numbers()
    b = lambda n: base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()  # noqa: E731
    return {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": b(numbers.n), "e": b(numbers.e)}


class LocalIssuer:
    """A local OIDC issuer over HTTP: its openid-configuration and JWKS (one key of its own, kid k1)."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                docs = {"/.well-known/openid-configuration": {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks"},
                        "/jwks": {"keys": [jwk_of(issuer.key, "k1")]}}
                doc = docs.get(self.path)
                self.send_response(200 if doc else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(doc or {}).encode())

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def token(self, **claims):
        return forge(claims, self.key, "k1")

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
