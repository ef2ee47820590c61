"""The emulator's Cognito hosted UI and OAuth2 endpoints, driven with plain HTTP (urllib /
http.client) as a browser or a machine client would; boto3 only sets the pool up. Tokens are
checked against the pool's JWKS with the `cryptography` package, independently of the emulator."""
import base64
import json
import time
import urllib.request
from urllib.parse import urlencode

import pytest
from cryptography.exceptions import InvalidSignature

from conftest import Moto
from dataplane_http import CALLBACK, PASSWORD, basic, browser_login, callback_params, form_post, make_pool, pkce_pair, request, verify_jwt

REGION = "us-east-1"


@pytest.fixture(scope="module")
def server():
    s = Moto()
    yield s
    s.stop()


@pytest.fixture
def stack(server):
    return make_pool(server)


def issuer(stack):
    return f"https://cognito-idp.{REGION}.amazonaws.com/{stack['pool']}"


def authorize_url(stack, challenge, method="S256", state="st-123", scope="openid email HelloAPI/hello.read", **extra):
    query = {"response_type": "code", "client_id": stack["public"], "redirect_uri": CALLBACK, "state": state,
             "scope": scope, "code_challenge": challenge, "code_challenge_method": method}
    query.update(extra)
    return stack["domain"] + "/oauth2/authorize?" + urlencode(query)


def login(stack, method="S256", **kw):
    verifier, challenge = pkce_pair(method)
    params = callback_params(browser_login(authorize_url(stack, challenge, method, **kw), "Testuser", PASSWORD))
    return verifier, params


def redeem(stack, code, verifier, redirect_uri=CALLBACK):
    return form_post(stack["token_url"], {"grant_type": "authorization_code", "client_id": stack["public"], "code": code,
                                          "redirect_uri": redirect_uri, "code_verifier": verifier})


# --- client credentials ---------------------------------------------------------------------------

def test_client_credentials_basic_auth_token_verifies_against_the_pool_jwks(stack):
    r = form_post(stack["token_url"], {"grant_type": "client_credentials", "scope": "HelloAPI/hello.write"},
                  {"Authorization": basic(stack["machine"], stack["secret"])})
    assert r.status == 200, r
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and set(body) == {"access_token", "expires_in", "token_type"}
    claims = verify_jwt(body["access_token"], stack["jwks"])
    assert claims["iss"] == issuer(stack)
    assert claims["client_id"] == stack["machine"] and claims["sub"] == stack["machine"]
    assert claims["token_use"] == "access" and claims["scope"] == "HelloAPI/hello.write"
    assert claims["exp"] - claims["iat"] == 3600 and abs(claims["iat"] - time.time()) < 60 and claims["jti"]
    assert "username" not in claims


def test_client_credentials_secret_in_body_and_all_allowed_scopes_by_default(stack):
    r = form_post(stack["token_url"], {"grant_type": "client_credentials", "client_id": stack["machine"],
                                       "client_secret": stack["secret"]})
    assert r.status == 200, r
    claims = verify_jwt(r.json()["access_token"], stack["jwks"])
    assert claims["scope"].split() == ["HelloAPI/hello.read", "HelloAPI/hello.write"]


def test_a_token_signed_otherwise_fails_the_independent_check(stack):
    r = form_post(stack["token_url"], {"grant_type": "client_credentials"}, {"Authorization": basic(stack["machine"], stack["secret"])})
    head, payload, sig = r.json()["access_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "HelloAPI/hello.admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidSignature):
        verify_jwt(f"{head}.{forged}.{sig}", stack["jwks"])


@pytest.mark.parametrize("case, fields, auth, status, error", [
    ("wrong secret", {"grant_type": "client_credentials"}, ("machine", "nope"), 401, "invalid_client"),
    ("unknown client", {"grant_type": "client_credentials"}, ("ghost", "x"), 401, "invalid_client"),
    ("no secret", {"grant_type": "client_credentials", "client_id": "<machine>"}, None, 401, "invalid_client"),
    ("scope not allowed", {"grant_type": "client_credentials", "scope": "openid"}, ("machine", None), 400, "invalid_scope"),
    ("scope undefined", {"grant_type": "client_credentials", "scope": "HelloAPI/hello.admin"}, ("machine", None), 400, "invalid_scope"),
    ("public client", {"grant_type": "client_credentials", "client_id": "<public>"}, None, 400, "unauthorized_client"),
    ("no grant type", {}, ("machine", None), 400, "invalid_request"),
    ("unknown grant", {"grant_type": "password"}, ("machine", None), 400, "unsupported_grant_type"),
])
def test_token_endpoint_errors_as_cognito_writes_them(stack, case, fields, auth, status, error):
    fields = {k: stack["machine"] if v == "<machine>" else stack["public"] if v == "<public>" else v for k, v in fields.items()}
    headers = {}
    if auth:
        client = stack["machine"] if auth[0] == "machine" else auth[0]
        headers["Authorization"] = basic(client, auth[1] or stack["secret"])
    r = form_post(stack["token_url"], fields, headers)
    assert (r.status, r.json()) == (status, {"error": error}), case


def test_token_endpoint_wants_a_form_body(stack):
    r = request("POST", stack["token_url"], json.dumps({"grant_type": "client_credentials"}),
                {"Content-Type": "application/json", "Authorization": basic(stack["machine"], stack["secret"])})
    assert (r.status, r.json()) == (400, {"error": "invalid_request"})


# --- authorization code with PKCE through the hosted UI -------------------------------------------

@pytest.mark.parametrize("method", ["S256", "plain"])
def test_pkce_login_through_the_form_gives_user_tokens(stack, method):
    verifier, params = login(stack, method)
    assert params["state"] == "st-123" and params["code"]
    r = redeem(stack, params["code"], verifier)
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"access_token", "id_token", "refresh_token", "expires_in", "token_type"}
    access = verify_jwt(body["access_token"], stack["jwks"])
    idt = verify_jwt(body["id_token"], stack["jwks"])
    user = stack["cognito"].admin_get_user(UserPoolId=stack["pool"], Username="Testuser")
    sub = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")
    assert access["iss"] == idt["iss"] == issuer(stack)
    assert access["token_use"] == "access" and access["client_id"] == stack["public"] and "aud" not in access
    assert access["username"] == "Testuser" and access["sub"] == sub
    assert access["scope"].split() == ["openid", "email", "HelloAPI/hello.read"]
    assert idt["token_use"] == "id" and idt["aud"] == stack["public"] and idt["cognito:username"] == "Testuser"
    assert idt["email"] == "testuser@example.com" and idt["email_verified"] is True and idt["sub"] == sub


def test_a_code_is_single_use(stack):
    verifier, params = login(stack)
    assert redeem(stack, params["code"], verifier).status == 200
    again = redeem(stack, params["code"], verifier)
    assert (again.status, again.json()) == (400, {"error": "invalid_grant"})


@pytest.mark.parametrize("case", ["wrong verifier", "no verifier", "other redirect_uri"])
def test_a_code_needs_its_verifier_and_redirect_uri(stack, case):
    verifier, params = login(stack)
    if case == "wrong verifier":
        r = redeem(stack, params["code"], pkce_pair()[0])
    elif case == "no verifier":
        r = form_post(stack["token_url"], {"grant_type": "authorization_code", "client_id": stack["public"],
                                           "code": params["code"], "redirect_uri": CALLBACK})
    else:
        r = redeem(stack, params["code"], verifier, "http://localhost:9999/callback")
    assert (r.status, r.json()) == (400, {"error": "invalid_grant"}), case


def test_wrong_password_shows_the_form_again_and_gives_no_code(stack):
    _, challenge = pkce_pair()
    r = browser_login(authorize_url(stack, challenge), "Testuser", "wrong-Password1!")
    assert r.status == 200 and "Incorrect username or password." in r.body and "location" not in r.headers


def test_the_form_refuses_a_post_without_its_csrf_cookie(stack):
    _, challenge = pkce_pair()
    url = authorize_url(stack, challenge).replace("/oauth2/authorize?", "/login?")
    r = form_post(url, {"_csrf": "guess", "username": "Testuser", "password": PASSWORD})
    assert r.status == 400 and "location" not in r.headers


def test_authorize_refuses_a_callback_the_client_does_not_have(stack):
    _, challenge = pkce_pair()
    r = request("GET", authorize_url(stack, challenge, redirect_uri="https://evil.example/cb"))
    assert r.status == 400 and "location" not in r.headers and "redirect_mismatch" in r.body


def test_authorize_sends_scope_errors_back_to_the_callback_with_the_state(stack):
    _, challenge = pkce_pair()
    r = request("GET", authorize_url(stack, challenge, scope="openid HelloAPI/hello.write", state="s-9"))
    assert callback_params(r) == {"error": "invalid_scope", "state": "s-9"}


# --- refresh and userInfo -----------------------------------------------------------------------------

def test_refresh_token_gives_new_tokens_with_the_same_scopes(stack):
    verifier, params = login(stack)
    first = redeem(stack, params["code"], verifier).json()
    r = form_post(stack["token_url"], {"grant_type": "refresh_token", "client_id": stack["public"],
                                       "refresh_token": first["refresh_token"]})
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"access_token", "id_token", "expires_in", "token_type"}
    access = verify_jwt(body["access_token"], stack["jwks"])
    assert access["scope"] == verify_jwt(first["access_token"], stack["jwks"])["scope"]
    assert body["access_token"] != first["access_token"] and access["username"] == "Testuser"
    other = form_post(stack["token_url"], {"grant_type": "refresh_token", "client_id": stack["public"], "refresh_token": "nope"})
    assert (other.status, other.json()) == (400, {"error": "invalid_grant"})


def test_refresh_token_is_dead_after_global_sign_out(stack):
    verifier, params = login(stack)
    tokens = redeem(stack, params["code"], verifier).json()
    stack["cognito"].admin_user_global_sign_out(UserPoolId=stack["pool"], Username="Testuser")
    r = form_post(stack["token_url"], {"grant_type": "refresh_token", "client_id": stack["public"],
                                       "refresh_token": tokens["refresh_token"]})
    assert (r.status, r.json()) == (400, {"error": "invalid_grant"})


def test_user_info_with_an_openid_access_token(stack):
    verifier, params = login(stack)
    tokens = redeem(stack, params["code"], verifier).json()
    r = request("GET", stack["domain"] + "/oauth2/userInfo", headers={"Authorization": "Bearer " + tokens["access_token"]})
    assert r.status == 200, r
    info = r.json()
    assert info["username"] == "Testuser" and info["email"] == "testuser@example.com" and info["email_verified"] is True
    machine = form_post(stack["token_url"], {"grant_type": "client_credentials"},
                        {"Authorization": basic(stack["machine"], stack["secret"])}).json()["access_token"]
    denied = request("GET", stack["domain"] + "/oauth2/userInfo", headers={"Authorization": "Bearer " + machine})
    assert denied.status == 401 and denied.json()["error"] == "invalid_token"


def test_openid_configuration_names_the_local_endpoints(server, stack):
    config = json.load(urllib.request.urlopen(f"{server.url}/{stack['pool']}/.well-known/openid-configuration"))
    assert config["issuer"] == issuer(stack)
    assert config["jwks_uri"] == f"{server.url}/{stack['pool']}/.well-known/jwks.json"
    assert config["token_endpoint"] == stack["token_url"]
    assert config["authorization_endpoint"] == stack["domain"] + "/oauth2/authorize"
    assert json.load(urllib.request.urlopen(config["jwks_uri"])) == stack["jwks"]


def test_the_implicit_flow_is_not_served(stack):
    _, challenge = pkce_pair()
    r = request("GET", authorize_url(stack, challenge, response_type="token", state="s-1"))
    assert callback_params(r) == {"error": "unsupported_response_type", "state": "s-1"}
