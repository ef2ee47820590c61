"""Lambda REQUEST authorizer for an API Gateway HTTP API (payload format 2.0).

Verifies a Cognito access token (RS256) with the Python standard library only, because the
Swift tool ships this single file in an in-memory zip and the Lambda runtime has no third-party
packages. Any failure denies; the token itself is never logged.

Environment:
  ISSUER           https://cognito-idp.<region>.amazonaws.com/<pool id>   (required)
  JWKS_URL         default ISSUER + "/.well-known/jwks.json"
  CLIENT_IDS       comma-separated allowed app client ids                  (required)
  REQUIRED_SCOPES  JSON {"GET /hello": ["HelloAPI/hello.read", ...], ...}; any one scope
                   suffices; a route not listed (or listed with []) needs no scope
  RESPONSE_MODE    "simple" (default) or "iam"
"""
import base64
import hashlib
import hmac
import json
import os
import re
import time
import urllib.request

LEEWAY_SECONDS = 60
REFETCH_MIN_INTERVAL = 30.0  # forged kids must not turn every request into a JWKS fetch
# DER DigestInfo prefix for SHA-256 (RFC 8017, section 9.2, note 1)
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")

_keys = {}  # kid -> (n, e); module level so warm invocations reuse it
_refetched_at = None  # monotonic time of the last refetch caused by an unknown kid


class AuthError(Exception):
    """A token or request that must be denied; str(self) is a loggable reason (no token)."""


def reset_cache():
    global _refetched_at
    _keys.clear()
    _refetched_at = None


def fetch_jwks(url):
    """Return the parsed JWKS document; tests may replace this."""
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _b64url(segment):
    # urlsafe_b64decode silently skips stray characters, so check the alphabet first
    if not re.fullmatch(r"[A-Za-z0-9_-]*", segment):
        raise AuthError("malformed token: bad base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64url_int(value):
    return int.from_bytes(_b64url(value), "big")


def _load_keys(url):
    try:
        document = fetch_jwks(url)
    except Exception as e:
        raise AuthError(f"JWKS fetch failed: {type(e).__name__}") from None
    keys = {}
    for jwk in document.get("keys", []) if isinstance(document, dict) else []:
        if (isinstance(jwk, dict) and jwk.get("kty") == "RSA" and jwk.get("alg", "RS256") == "RS256"
                and jwk.get("use", "sig") == "sig" and isinstance(jwk.get("kid"), str)):
            try:
                keys[jwk["kid"]] = (_b64url_int(jwk["n"]), _b64url_int(jwk["e"]))
            except (KeyError, TypeError, AuthError):
                continue
    return keys


def _key_for(kid, url):
    global _refetched_at
    if kid not in _keys:
        if _keys:  # warm cache without this kid: a key rotation, or a forged kid
            now = time.monotonic()
            if _refetched_at is not None and now - _refetched_at < REFETCH_MIN_INTERVAL:
                raise AuthError(f"unknown kid {kid[:64]!r} (refetch throttled)")
            _refetched_at = now
        fresh = _load_keys(url)  # replace only after a successful fetch
        _keys.clear()
        _keys.update(fresh)
    if kid not in _keys:
        raise AuthError(f"unknown kid {kid[:64]!r}")
    return _keys[kid]


def _rs256_verify(signing_input, signature, n, e):
    """RSASSA-PKCS1-v1_5 verification with SHA-256 (RFC 8017, section 8.2.2)."""
    k = (n.bit_length() + 7) // 8
    if n.bit_length() < 2048:
        raise AuthError("JWKS key too small")
    if len(signature) != k:
        raise AuthError("bad signature length")
    s = int.from_bytes(signature, "big")
    if s >= n:
        raise AuthError("bad signature")
    em = pow(s, e, n).to_bytes(k, "big")
    t = SHA256_DIGEST_INFO + hashlib.sha256(signing_input).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    if not hmac.compare_digest(em, expected):
        raise AuthError("bad signature")


def _number(claims, name):
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AuthError(f"claim {name} is not a number")
    return value


def verify_token(token, now=None):
    """Return the claims of a valid Cognito access token, or raise AuthError."""
    now = time.time() if now is None else now
    issuer = os.environ.get("ISSUER", "").rstrip("/")
    client_ids = {c.strip() for c in os.environ.get("CLIENT_IDS", "").split(",") if c.strip()}
    if not issuer or not client_ids:
        raise AuthError("misconfigured: ISSUER and CLIENT_IDS are required")  # fail closed
    parts = token.split(".")
    if len(parts) != 3:
        raise AuthError("malformed token: expected 3 parts")
    try:
        header = json.loads(_b64url(parts[0]))
        claims = json.loads(_b64url(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise AuthError("malformed token: bad JSON") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise AuthError("malformed token: header and payload must be objects")
    if header.get("alg") != "RS256":  # never let the token choose the algorithm (none, HS256)
        raise AuthError(f"unsupported alg {str(header.get('alg'))[:16]!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise AuthError("missing kid")
    n, e = _key_for(kid, os.environ.get("JWKS_URL") or issuer + "/.well-known/jwks.json")
    _rs256_verify(f"{parts[0]}.{parts[1]}".encode("ascii"), _b64url(parts[2]), n, e)
    # Only signed claims from here on.
    exp, nbf, iat = _number(claims, "exp"), _number(claims, "nbf"), _number(claims, "iat")
    if exp is None:
        raise AuthError("missing exp")
    if now > exp + LEEWAY_SECONDS:
        raise AuthError("token expired")
    if nbf is not None and now + LEEWAY_SECONDS < nbf:
        raise AuthError("token not yet valid (nbf)")
    if iat is not None and now + LEEWAY_SECONDS < iat:
        raise AuthError("token issued in the future (iat)")
    if claims.get("iss") != issuer:
        raise AuthError("wrong issuer")
    if claims.get("token_use") != "access":
        raise AuthError("not an access token")
    if claims.get("client_id") not in client_ids:
        raise AuthError("client_id not allowed")
    return claims


def check_scopes(claims, route_key):
    """API Gateway semantics: any one of the route's scopes suffices."""
    try:
        required = json.loads(os.environ.get("REQUIRED_SCOPES") or "{}")
    except ValueError:
        raise AuthError("misconfigured: REQUIRED_SCOPES is not JSON") from None
    if not isinstance(required, dict):
        raise AuthError("misconfigured: REQUIRED_SCOPES must be a JSON object")
    wanted = required.get(route_key) or []
    if isinstance(wanted, str):
        wanted = [wanted]
    if not isinstance(wanted, list):
        raise AuthError(f"misconfigured: REQUIRED_SCOPES[{route_key[:64]!r}] must be a list")
    granted = str(claims.get("scope", "")).split()
    if wanted and not set(wanted) & set(granted):
        raise AuthError(f"missing scope for {route_key[:64]!r}")


def _token_from(event):
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    value = headers.get("authorization")
    if not value:
        value = next((v for v in event.get("identitySource") or [] if v), None)
    if not isinstance(value, str) or not value.strip():
        raise AuthError("missing Authorization header")
    value = value.strip()
    return value[7:].strip() if value[:7].lower() == "bearer " else value


def _response(mode, allow, claims, event):
    context = {}
    if allow:
        context = {name: str(claims.get(claim) or "") for name, claim in
                   (("scope", "scope"), ("client_id", "client_id"), ("sub", "sub"), ("username", "username"))}
    if mode == "simple":
        return {"isAuthorized": allow, "context": context}
    return {
        "principalId": str(claims.get("sub") or "anonymous"),
        "policyDocument": {"Version": "2012-10-17", "Statement": [{
            "Action": "execute-api:Invoke",
            "Effect": "Allow" if allow else "Deny",
            "Resource": event.get("routeArn") or "*",
        }]},
        "context": context,
    }


def handler(event, context):
    mode = (os.environ.get("RESPONSE_MODE") or "simple").strip().lower()
    claims, route_key = {}, "?"
    event = event if isinstance(event, dict) else {}
    try:
        route_key = str(event.get("routeKey", "?"))
        if mode not in ("simple", "iam"):
            mode = "simple"
            raise AuthError("misconfigured: RESPONSE_MODE must be simple or iam")
        if mode == "iam" and not event.get("routeArn"):
            raise AuthError("missing routeArn")  # an Allow needs a precise resource
        claims = verify_token(_token_from(event))
        check_scopes(claims, route_key)
    except Exception as e:  # anything unexpected denies too: an authorizer must never raise
        reason = str(e) if isinstance(e, AuthError) else f"internal error: {type(e).__name__}"
        print(f"deny route={route_key[:64]!r} reason={reason}")
        return _response(mode, False, claims, event)
    print(f"allow route={route_key[:64]!r} sub={claims.get('sub')!r} client_id={claims.get('client_id')!r}")
    return _response(mode, True, claims, event)


lambda_handler = handler
