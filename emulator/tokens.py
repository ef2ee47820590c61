"""JWTs of the emulator's Cognito pools: signing with the key moto signs InitiateAuth tokens with
(so the pool's `/.well-known/jwks.json`, served by moto, verifies them), and RS256 verification
against any JWKS (a pool's or an external issuer's)."""
import base64
import json
import time
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc import jwt
from moto.cognitoidp.models import CognitoIdpUserPool
from moto.utilities.utils import load_resource

KID = "dummy"  # the kid of moto's key, as its jwks-public.json names it


def pool_jwks() -> dict:
    """The JWKS moto serves for every pool."""
    return load_resource(CognitoIdpUserPool.__module__, "resources/jwks-public.json")


def issuer(pool) -> str:
    return f"https://cognito-idp.{pool.region}.amazonaws.com/{pool.id}"


def sign(pool, claims: dict) -> str:
    return jwt.encode({"kid": KID, "alg": "RS256"}, claims, pool.json_web_key)


def new_jti() -> str:
    return str(uuid.uuid4())


def now() -> int:
    return int(time.time())


class TokenError(Exception):
    """Why a token is refused, worded as API Gateway's www-authenticate error_description."""


def _b64(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (ValueError, TypeError):
        raise TokenError("the token is not a valid JWT") from None


def parse(token: str) -> tuple[dict, dict, bytes, bytes]:
    """(header, claims, signing input, signature) of a compact JWS; TokenError when malformed."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("the token is not a valid JWT")
    try:
        header, claims = json.loads(_b64(parts[0])), json.loads(_b64(parts[1]))
    except ValueError:
        raise TokenError("the token is not a valid JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise TokenError("the token is not a valid JWT")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), _b64(parts[2])


def _public_key(jwk: dict):
    try:
        n = int.from_bytes(_b64(jwk["n"]), "big")
        e = int.from_bytes(_b64(jwk["e"]), "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    except (KeyError, TypeError, ValueError):
        raise TokenError("the JWKS key is not a valid RSA key") from None


def verify_signature(token: str, jwks: dict) -> dict:
    """The claims of an RS256 token whose signature a key of the JWKS (chosen by kid) verifies."""
    header, claims, signing_input, signature = parse(token)
    if header.get("alg") != "RS256":
        raise TokenError("the token does not have a valid signature")
    kid = header.get("kid")
    keys = [k for k in (jwks or {}).get("keys", []) if isinstance(k, dict) and k.get("kid") == kid]
    if not kid or not keys:
        raise TokenError("the token does not have a valid signature")
    try:
        _public_key(keys[0]).verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise TokenError("the token does not have a valid signature") from None
    return claims


def check_times(claims: dict, at: int | None = None) -> None:
    at = now() if at is None else at
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, (int, float)) or exp <= at:
        raise TokenError("the token has expired")
    if isinstance(nbf, (int, float)) and nbf > at:
        raise TokenError("the token is not valid yet")
