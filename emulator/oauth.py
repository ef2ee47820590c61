"""Cognito's hosted UI and OAuth2 endpoints for each pool domain, path-style on the emulator's own
host:port (LocalStack's `/_aws/cognito-idp` prefix, then the domain prefix), and each pool's
OpenID configuration:

  /_aws/cognito-idp/{domain}/oauth2/authorize   GET: checks the client, then redirects to /login
  /_aws/cognito-idp/{domain}/login              GET: the sign-in form; POST: signs in, redirects
                                                to the callback with ?code=...&state=...
  /_aws/cognito-idp/{domain}/oauth2/token       POST: authorization_code (PKCE S256/plain),
                                                client_credentials, refresh_token
  /_aws/cognito-idp/{domain}/oauth2/userInfo    GET/POST with an access token holding `openid`
  /{pool id}/.well-known/openid-configuration   (moto serves /{pool id}/.well-known/jwks.json)

Tokens are Cognito-shaped and signed with the key moto signs InitiateAuth tokens with, so the
pool's JWKS verifies them. Codes and refresh tokens live on the pool object: moto's reset (or
deleting the pool) forgets them."""
import base64
import hashlib
import hmac
import html
import json
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from moto.cognitoidp.models import cognitoidp_backends
from werkzeug.wrappers import Response

from . import tokens
from .core import Registry, json_response

PREFIX = r"/_aws/cognito-idp/(?P<domain>[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)"
CODE_TTL = 300  # seconds an authorization code stays valid (Cognito: 5 minutes)
STANDARD_SCOPES = ("openid", "email", "phone", "profile", "aws.cognito.signin.user.admin")
UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
# Cognito's defaults: access and ID tokens 1 hour, refresh tokens 30 days.
DEFAULT_VALIDITY = {"AccessToken": ("AccessTokenValidity", 60, "minutes"),
                    "IdToken": ("IdTokenValidity", 60, "minutes"),
                    "RefreshToken": ("RefreshTokenValidity", 30, "days")}


class OAuthError(Exception):
    """An error of the token or userInfo endpoint, as Cognito writes it: `{"error": code}`."""

    def __init__(self, code: str, status: int = 400):
        super().__init__(code)
        self.code, self.status = code, status

    def response(self) -> Response:
        headers = {"WWW-Authenticate": 'Basic realm="cognito"'} if self.code == "invalid_client" else {}
        return Response(json.dumps({"error": self.code}), status=self.status,
                        content_type="application/json;charset=UTF-8", headers=headers)


# --- finding things in moto's backends ---------------------------------------------------------

def _regional_backends():
    for accounts in list(cognitoidp_backends.values()):
        yield from list(dict.values(accounts))


def pool_of_domain(prefix: str):
    for regional in _regional_backends():
        domain = regional.user_pool_domains.get(prefix)
        if domain is not None:
            return regional.user_pools.get(domain.user_pool_id)
    return None


def pool_by_id(pool_id: str):
    for regional in _regional_backends():
        pool = regional.user_pools.get(pool_id)
        if pool is not None:
            return pool
    return None


def _store(pool, name: str) -> dict:
    """A dict of ours kept on moto's pool object (so a reset drops it with the pool)."""
    if not hasattr(pool, name):
        setattr(pool, name, {})
    return getattr(pool, name)


def base_url(call) -> str:
    return f"{call.environ.get('wsgi.url_scheme', 'http')}://{call.headers.get('Host', '127.0.0.1')}"


def domain_url(call, prefix: str) -> str:
    return f"{base_url(call)}/_aws/cognito-idp/{prefix}"


# --- clients, scopes and token validity --------------------------------------------------------

def defined_scopes(pool) -> set:
    return {f"{rs.identifier}/{s.get('ScopeName')}" for rs in pool.resource_servers.values() for s in rs.scopes or []}


def validity(client, kind: str) -> int:
    attribute, default, default_unit = DEFAULT_VALIDITY[kind]
    value = client.extended_config.get(attribute)
    units = client.extended_config.get("TokenValidityUnits") or {}
    unit = units.get(kind) or ("days" if kind == "RefreshToken" else "hours") if value is not None else default_unit
    return int(value if value is not None else default) * UNIT_SECONDS.get(unit, 3600)


def oauth_flows(client) -> list:
    if not client.extended_config.get("AllowedOAuthFlowsUserPoolClient"):
        return []
    return client.extended_config.get("AllowedOAuthFlows") or []


def authenticate_client(call, form, pool):
    """The app client named by HTTP Basic or the body, its secret checked (invalid_client 401)."""
    client_id, secret = form.get("client_id"), form.get("client_secret")
    auth = call.headers.get("Authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            client_id, _, secret = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", 401) from None
    if not client_id:
        raise OAuthError("invalid_request")
    client = pool.clients.get(client_id)
    if client is None:
        raise OAuthError("invalid_client", 401)
    if client.generate_secret:
        if not secret or not hmac.compare_digest(secret.encode(), client.secret.encode()):
            raise OAuthError("invalid_client", 401)
    return client


# --- token shapes ------------------------------------------------------------------------------

def user_attributes(user) -> dict:
    return {a["Name"]: a["Value"] for a in user.attributes}


def access_token(pool, client, scopes, user=None, origin_jti=None) -> str:
    at = tokens.now()
    claims = {"sub": user.id if user else client.id, "iss": tokens.issuer(pool), "version": 2,
              "client_id": client.id, "token_use": "access", "scope": " ".join(scopes),
              "auth_time": at, "exp": at + validity(client, "AccessToken"), "iat": at, "jti": tokens.new_jti()}
    if user is not None:
        claims["origin_jti"] = origin_jti
        claims["username"] = user.username
        if user.groups:
            claims["cognito:groups"] = sorted(g.group_name for g in user.groups)
    return tokens.sign(pool, claims)


def id_token(pool, client, user, origin_jti, nonce=None) -> str:
    at = tokens.now()
    attributes = user_attributes(user)
    claims = {"sub": user.id, "iss": tokens.issuer(pool), "cognito:username": user.username,
              "origin_jti": origin_jti, "aud": client.id, "token_use": "id", "auth_time": at,
              "exp": at + validity(client, "IdToken"), "iat": at, "jti": tokens.new_jti()}
    for name in ("email", "email_verified", "phone_number", "phone_number_verified", "name"):
        if name in attributes:
            value = attributes[name]
            claims[name] = value == "true" if name.endswith("_verified") else value
    if user.groups:
        claims["cognito:groups"] = sorted(g.group_name for g in user.groups)
    if nonce:
        claims["nonce"] = nonce
    return tokens.sign(pool, claims)


def user_tokens(pool, client, user, scopes, nonce=None, refresh=True) -> dict:
    origin_jti = tokens.new_jti()
    answer = {"access_token": access_token(pool, client, scopes, user, origin_jti),
              "expires_in": validity(client, "AccessToken"), "token_type": "Bearer"}
    if "openid" in scopes:
        answer["id_token"] = id_token(pool, client, user, origin_jti, nonce)
    if refresh:
        token = secrets.token_urlsafe(48)
        # moto's own table too, so InitiateAuth REFRESH_TOKEN_AUTH accepts it as on AWS.
        pool.refresh_tokens[token] = (client.id, user.username, origin_jti)
        _store(pool, "_oauth_refresh")[token] = {"client": client.id, "user": user.username, "scopes": scopes,
                                                 "exp": tokens.now() + validity(client, "RefreshToken")}
        answer["refresh_token"] = token
    return answer


# --- the grants ----------------------------------------------------------------------------------

def grant_client_credentials(pool, client, form):
    if "client_credentials" not in oauth_flows(client) or not client.generate_secret:
        raise OAuthError("unauthorized_client")
    allowed = client.extended_config.get("AllowedOAuthScopes") or []
    defined = defined_scopes(pool)
    requested = form.get("scope", "").split() if form.get("scope") else [s for s in allowed if s in defined]
    if not requested or any(s not in allowed or s not in defined for s in requested):
        raise OAuthError("invalid_scope")
    return {"access_token": access_token(pool, client, requested), "expires_in": validity(client, "AccessToken"),
            "token_type": "Bearer"}


def pkce_ok(verifier: str, challenge: str, method: str) -> bool:
    if method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        computed = verifier
    return hmac.compare_digest(computed.encode(), challenge.encode())


def grant_authorization_code(pool, client, form):
    code = form.get("code")
    if not code:
        raise OAuthError("invalid_request")
    grant = _store(pool, "_oauth_codes").pop(code, None)  # single use, even when refused below
    if grant is None or grant["client"] != client.id or grant["exp"] <= tokens.now():
        raise OAuthError("invalid_grant")
    if form.get("redirect_uri") != grant["redirect_uri"]:
        raise OAuthError("invalid_grant")
    if grant.get("challenge"):
        verifier = form.get("code_verifier")
        if not verifier or not pkce_ok(verifier, grant["challenge"], grant["method"]):
            raise OAuthError("invalid_grant")
    user = pool.users.get(grant["user"])
    if user is None or not user.enabled:
        raise OAuthError("invalid_grant")
    return user_tokens(pool, client, user, grant["scopes"], nonce=grant.get("nonce"))


def grant_refresh_token(pool, client, form):
    token = form.get("refresh_token")
    if not token:
        raise OAuthError("invalid_request")
    grant = _store(pool, "_oauth_refresh").get(token)
    # moto's table marks a revoked token (GlobalSignOut, RevokeToken) with None.
    if (grant is None or grant["client"] != client.id or grant["exp"] <= tokens.now()
            or pool.refresh_tokens.get(token) is None):
        raise OAuthError("invalid_grant")
    user = pool.users.get(grant["user"])
    if user is None or not user.enabled:
        raise OAuthError("invalid_grant")
    return user_tokens(pool, client, user, grant["scopes"], refresh=False)


GRANTS = {"client_credentials": grant_client_credentials, "authorization_code": grant_authorization_code,
          "refresh_token": grant_refresh_token}


# --- the hosted UI -------------------------------------------------------------------------------

class PageError(Exception):
    """A request the hosted UI refuses without redirecting (bad client or callback URL)."""


def check_authorize(pool, query: dict) -> tuple:
    """(client, redirect_uri, scopes, error) of an /oauth2/authorize or /login request: a PageError
    when the client or callback is wrong (nowhere safe to redirect to); else error is None or the
    (error, description) to send back to the callback."""
    client = pool.clients.get(query.get("client_id", ""))
    if client is None:
        raise PageError("invalid_request: client_id is not a client of this pool")
    redirect_uri = query.get("redirect_uri", "")
    if redirect_uri not in (client.extended_config.get("CallbackURLs") or []):
        raise PageError("redirect_mismatch: redirect_uri is not a callback URL of the client")
    if query.get("response_type") != "code":
        return client, redirect_uri, None, ("unsupported_response_type", None)
    if "code" not in oauth_flows(client):
        return client, redirect_uri, None, ("unauthorized_client", None)
    allowed = client.extended_config.get("AllowedOAuthScopes") or []
    scopes = query["scope"].split() if query.get("scope") else list(allowed)
    if any(s not in allowed for s in scopes):
        return client, redirect_uri, None, ("invalid_scope", None)
    method = query.get("code_challenge_method")
    if query.get("code_challenge") and method not in (None, "S256", "plain"):
        return client, redirect_uri, None, ("invalid_request", "unsupported code_challenge_method")
    return client, redirect_uri, scopes, None


def redirect(uri: str, params: dict) -> Response:
    sep = "&" if urlsplit(uri).query else "?"
    return Response("", status=302, headers={"Location": uri + sep + urlencode({k: v for k, v in params.items() if v is not None})})


def page(body: str, status=200, headers=None) -> Response:
    return Response(f"<!doctype html><html><head><meta charset='utf-8'><title>Signin</title></head><body>{body}</body></html>",
                    status=status, content_type="text/html; charset=utf-8", headers=headers or {})


def login_form(query: dict, csrf: str, message: str = "") -> str:
    action = html.escape("?" + urlencode(query))
    note = f"<p class='error' role='alert'>{html.escape(message)}</p>" if message else ""
    return (f"<h1>Sign in with your username and password</h1>{note}"
            f"<form method='post' action='{action}'>"
            f"<input type='hidden' name='_csrf' value='{csrf}'>"
            "<label>Username <input name='username' type='text' autocomplete='username' required></label>"
            "<label>Password <input name='password' type='password' autocomplete='current-password' required></label>"
            "<button type='submit' name='signInSubmitButton'>Sign in</button></form>")


def form_page(call, query: dict, message: str = "") -> Response:
    """The sign-in page with a fresh CSRF token: Cognito's double-submit check wants the form's
    `_csrf` equal to the XSRF-TOKEN cookie."""
    csrf = secrets.token_urlsafe(24)
    cookie = f"XSRF-TOKEN={csrf}; Path=/_aws/cognito-idp/{call.params['domain']}; HttpOnly; SameSite=Lax"
    return page(login_form(query, csrf, message), headers={"Set-Cookie": cookie})


def single(values: dict) -> dict:
    return {k: v[0] for k, v in values.items() if v}


def register(reg: Registry):
    def hosted(call):
        return pool_of_domain(call.params["domain"])

    @reg.http("GET", PREFIX + r"/oauth2/authorize")
    def authorize(call):
        pool = hosted(call)
        if pool is None:
            return page("<p>This domain has no user pool.</p>", 404)
        query = single(call.query)
        try:
            _, redirect_uri, _, error = check_authorize(pool, query)
        except PageError as e:
            return page(f"<p>{html.escape(str(e))}</p>", 400)
        if error:
            return redirect(redirect_uri, {"error": error[0], "error_description": error[1], "state": query.get("state")})
        return Response("", status=302, headers={"Location": f"{domain_url(call, call.params['domain'])}/login?{urlencode(query)}"})

    @reg.http("GET", PREFIX + r"/login")
    def login_page(call):
        pool = hosted(call)
        if pool is None:
            return page("<p>This domain has no user pool.</p>", 404)
        query = single(call.query)
        try:
            check_authorize(pool, query)
        except PageError as e:
            return page(f"<p>{html.escape(str(e))}</p>", 400)
        return form_page(call, query)

    @reg.http("POST", PREFIX + r"/login")
    def login_submit(call):
        pool = hosted(call)
        if pool is None:
            return page("<p>This domain has no user pool.</p>", 404)
        query = single(call.query)
        try:
            client, redirect_uri, scopes, error = check_authorize(pool, query)
        except PageError as e:
            return page(f"<p>{html.escape(str(e))}</p>", 400)
        if error:
            return redirect(redirect_uri, {"error": error[0], "error_description": error[1], "state": query.get("state")})
        form = single(parse_qs(call.body.decode("utf-8", "replace"), keep_blank_values=True))
        cookies = dict(part.strip().split("=", 1) for part in call.headers.get("Cookie", "").split(";") if "=" in part)
        if not form.get("_csrf") or not hmac.compare_digest(form["_csrf"].encode(), cookies.get("XSRF-TOKEN", "").encode()):
            return page("<p>invalid_request: the form's CSRF token does not match its cookie</p>", 400)
        user = pool._get_user(form.get("username", ""))
        if user is None or not user.enabled or user.password is None or not hmac.compare_digest(
                (form.get("password") or "").encode(), user.password.encode()):
            return form_page(call, query, "Incorrect username or password.")
        if getattr(user.status, "value", user.status) != "CONFIRMED":
            return page(login_form(query, secrets.token_urlsafe(24),
                                   "The user must change the temporary password first (not offered by the local hosted UI)."), 400)
        code = secrets.token_urlsafe(32)
        _store(pool, "_oauth_codes")[code] = {
            "client": client.id, "user": user.username, "redirect_uri": redirect_uri, "scopes": scopes,
            "challenge": query.get("code_challenge"), "method": query.get("code_challenge_method") or "plain",
            "nonce": query.get("nonce"), "exp": tokens.now() + CODE_TTL}
        return redirect(redirect_uri, {"code": code, "state": query.get("state")})

    @reg.http("POST", PREFIX + r"/oauth2/token")
    def token(call):
        try:
            pool = hosted(call)
            if pool is None:
                raise OAuthError("invalid_request")
            if not call.headers.get("Content-Type", "").lower().startswith("application/x-www-form-urlencoded"):
                raise OAuthError("invalid_request")
            form = single(parse_qs(call.body.decode("utf-8", "replace"), keep_blank_values=True))
            grant_type = form.get("grant_type")
            if not grant_type:
                raise OAuthError("invalid_request")
            client = authenticate_client(call, form, pool)
            grant = GRANTS.get(grant_type)
            if grant is None:
                raise OAuthError("unsupported_grant_type")
            return json_response(grant(pool, client, form), content_type="application/json;charset=UTF-8")
        except OAuthError as e:
            return e.response()

    def user_info(call):
        pool = hosted(call)
        auth = call.headers.get("Authorization", "")
        if pool is None or auth[:7].lower() != "bearer ":
            return invalid_token("Access token is missing")
        try:
            claims = tokens.verify_signature(auth[7:].strip(), tokens.pool_jwks())
            tokens.check_times(claims)
        except tokens.TokenError:
            return invalid_token("Invalid access token")
        if claims.get("iss") != tokens.issuer(pool) or claims.get("token_use") != "access":
            return invalid_token("Invalid access token")
        if "openid" not in str(claims.get("scope", "")).split():
            return invalid_token("Access token does not contain openid scope")
        user = pool.users.get(claims.get("username", ""))
        if user is None or not user.enabled:
            return invalid_token("User does not exist.")
        attributes = user_attributes(user)
        answer = {k: (v == "true" if k.endswith("_verified") else v) for k, v in attributes.items()}
        answer["username"] = user.username
        return json_response(answer, content_type="application/json;charset=UTF-8")

    reg.http("GET", PREFIX + r"/oauth2/userInfo")(user_info)
    reg.http("POST", PREFIX + r"/oauth2/userInfo")(user_info)

    @reg.http("GET", r"/(?P<pool>[\w-]+_[0-9a-zA-Z]+)/\.well-known/openid-configuration")
    def openid_configuration(call):
        pool = pool_by_id(call.params["pool"])
        if pool is None:
            return json_response({"message": f"User pool {call.params['pool']} does not exist."}, 404)
        config = {"issuer": tokens.issuer(pool), "jwks_uri": f"{base_url(call)}/{pool.id}/.well-known/jwks.json",
                  "response_types_supported": ["code", "token"], "subject_types_supported": ["public"],
                  "id_token_signing_alg_values_supported": ["RS256"],
                  "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                  "scopes_supported": list(STANDARD_SCOPES[:4]), "code_challenge_methods_supported": ["S256", "plain"]}
        if pool.domain is not None:
            url = domain_url(call, pool.domain.domain)
            config.update({"authorization_endpoint": f"{url}/oauth2/authorize", "token_endpoint": f"{url}/oauth2/token",
                           "userinfo_endpoint": f"{url}/oauth2/userInfo"})
        return json_response(config)


def invalid_token(description: str) -> Response:
    return Response(json.dumps({"error": "invalid_token", "error_description": description}), status=401,
                    content_type="application/json;charset=UTF-8",
                    headers={"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{description}"'})
