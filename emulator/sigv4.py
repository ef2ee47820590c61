"""SigV4 verification of a request to an AWS_IAM route: the signature is recomputed with
botocore's signer from the signed headers and the secret of the access key used (moto's default
pair `testing`/`testing`, or a key created through the emulator's IAM), and compared. Failures
carry API Gateway's 403 messages."""
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends

DEFAULT_PAIR = ("testing", "testing")  # moto's default credentials, written into `make api`'s .env
MAX_SKEW = timedelta(minutes=5)
MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS Secret "
            "Access Key and signing method. Consult the service documentation for details.")
INVALID_KEY = "The security token included in the request is invalid."


class SignatureError(Exception):
    """A refused signature; str() is API Gateway's message."""


def parse_authorization(value: str) -> dict:
    if not value.startswith("AWS4-HMAC-SHA256 "):
        raise SignatureError("Forbidden")
    fields = {}
    for part in value[len("AWS4-HMAC-SHA256 "):].split(","):
        name, _, v = part.strip().partition("=")
        fields[name] = v
    scope = fields.get("Credential", "").split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not fields.get("SignedHeaders") or not fields.get("Signature"):
        raise SignatureError("Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.")
    return {"key": scope[0], "date": scope[1], "region": scope[2], "service": scope[3],
            "signed": fields["SignedHeaders"].split(";"), "signature": fields["Signature"]}


def find_key(access_key: str):
    """(secret, account, identity) of an access key the emulator knows, else None."""
    for account, partitions in list(iam_backends.items()):
        for backend in list(dict.values(partitions)):
            key = backend.access_keys.get(access_key)
            if key is not None and key.status == "Active":
                user = backend.users.get(key.user_name) if key.user_name else None
                arn = user.arn if user else f"arn:aws:iam::{account}:root"
                user_id = user.id if user else account
                return key.secret_access_key, account, {"accessKey": access_key, "accountId": account, "callerId": user_id,
                                                        "cognitoIdentity": None, "principalOrgId": None,
                                                        "userArn": arn, "userId": user_id}
    if access_key == DEFAULT_PAIR[0]:
        account = DEFAULT_ACCOUNT_ID
        return DEFAULT_PAIR[1], account, {"accessKey": access_key, "accountId": account, "callerId": account,
                                          "cognitoIdentity": None, "principalOrgId": None,
                                          "userArn": f"arn:aws:iam::{account}:root", "userId": account}
    return None


def verify(call, raw_target: str, region: str, now: datetime | None = None) -> dict:
    """The caller's identity (payload 2.0 `requestContext.authorizer.iam`) of a request whose
    SigV4 signature is valid for execute-api in the API's region; SignatureError otherwise."""
    header = call.headers.get("Authorization")
    if not header:
        raise SignatureError("Forbidden")
    auth = parse_authorization(header)
    amz_date = call.headers.get("X-Amz-Date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.") from None
    now = now or datetime.now(UTC)
    if abs(now - signed_at) > MAX_SKEW:
        earlier = signed_at < now
        raise SignatureError(f"Signature {'expired' if earlier else 'not yet current'}: {amz_date} is now "
                             f"{'earlier' if earlier else 'later'} than {(now - MAX_SKEW if earlier else now + MAX_SKEW):%Y%m%dT%H%M%SZ} "
                             f"({now:%Y%m%dT%H%M%SZ} {'-' if earlier else '+'} 5 min.)")
    known = find_key(auth["key"])
    if known is None:
        raise SignatureError(INVALID_KEY)
    secret, _, identity = known
    if auth["service"] != "execute-api":
        raise SignatureError("Credential should be scoped to correct service: 'execute-api'. ")
    if auth["region"] != region:
        raise SignatureError("Credential should be scoped to a valid region. ")
    if auth["date"] != amz_date[:8]:
        raise SignatureError(f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                             f"'{auth['date']}' != '{amz_date[:8]}', from '{amz_date}'.")
    content_hash = call.headers.get("X-Amz-Content-SHA256")
    if content_hash not in (None, "UNSIGNED-PAYLOAD") and content_hash != hashlib.sha256(call.body).hexdigest():
        raise SignatureError(MISMATCH)
    headers = {}
    for name in auth["signed"]:
        value = call.headers.get(name)
        if value is None:
            raise SignatureError(MISMATCH)
        headers[name] = value
    url = f"http://{call.headers.get('Host', '')}{raw_target}"
    request = AWSRequest(method=call.method, url=url, data=call.body, headers=headers)
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(auth["key"], secret, call.headers.get("X-Amz-Security-Token")), "execute-api", region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, auth["signature"]):
        raise SignatureError(MISMATCH)
    return identity
