"""Differential test: our signer against botocore's SigV4Auth on generated requests.

Each request is written in the test suite's request.txt form, signed by `secure-api sign`
and by botocore with the same credentials, region, service and time; the Authorization
headers must be identical.
"""
import datetime
import random
from unittest import mock
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import clean_env, run

COUNT = 240
TIME = datetime.datetime(2026, 11, 25, 12, 34, 56, tzinfo=datetime.UTC)
SEGMENT_ALPHABET = ["a", "Z", "0", "-", "_", ".", "~", " ", "é", "ሴ", "😀", "+", "=", "&", "$", "@", "!", "*", "'",
                    "(", ")", ",", ";", ":", "%", "[", "]"]
QUERY_ALPHABET = [*SEGMENT_ALPHABET, "/", "?", "#"]


def random_text(rng, alphabet, lo, hi):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def generate(rng, i):
    method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"])
    segments = [random_text(rng, SEGMENT_ALPHABET, 1, 6).replace("%", "pct") for _ in range(rng.randint(0, 4))]
    # Path as it would appear in a URL: reserved characters escaped once (as an SDK sends them).
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    if rng.random() < 0.3:
        path += "/"
    query_pairs = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
        key = rng.choice(["a", "b", "Key", "key", "x-id", random_text(rng, QUERY_ALPHABET, 1, 5)])
        value = rng.choice(["", "1", "v", random_text(rng, QUERY_ALPHABET, 0, 8)])
        query_pairs.append((key, value))
        if rng.random() < 0.3:  # repeated key
            query_pairs.append((key, random_text(rng, QUERY_ALPHABET, 0, 4)))
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query_pairs)
    headers = [("Host", rng.choice(["example.amazonaws.com", "sts.us-east-1.amazonaws.com", "localhost:4566"]))]
    for _ in range(rng.randint(0, 4)):
        name = rng.choice(["X-Custom", "x-amz-meta-Thing", "Content-Type", "My-Header", "X-MiXeD-CaSe"])
        value = rng.choice(["plain", "  leading", "trailing   ", "runs   of    spaces", "Mixed Case VALUE",
                            "a\tb", "\"quoted  value\"", "semi;colon,comma"])
        headers.append((name, value))
    body = b""
    if method in ("POST", "PUT", "PATCH") and rng.random() < 0.8:
        body = random_text(rng, SEGMENT_ALPHABET, 0, 60).encode()
    return method, path, query, headers, body


def botocore_authorization(method, path, query, headers, body, region, service):
    host = dict(headers)["Host"]
    url = f"https://{host}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        request.headers[name] = value  # HTTPHeaders appends: repeated names are kept
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    with mock.patch("botocore.auth.get_current_datetime", return_value=TIME.replace(tzinfo=None)):
        SigV4Auth(creds, service, region).add_auth(request)
    return request.headers["Authorization"]


def test_botocore_differential(binary):
    rng = random.Random(20261125)
    env = clean_env(AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    mismatches = []
    checked = 0
    for i in range(COUNT):
        method, path, query, headers, body = generate(rng, i)
        region = rng.choice(["us-east-1", "eu-west-1", "ap-southeast-2"])
        service = rng.choice(["sts", "iam", "execute-api", "cognito-idp", "lambda"])
        raw = f"{method} {path}{'?' + query if query else ''} HTTP/1.1\n"
        raw += "".join(f"{n}:{v}\n" for n, v in headers) + "\n"
        result = run(binary, "sign", "--service", service, "--region", region, "--time", TIME.isoformat(),
                     env=env, input=raw.encode() + body)
        assert result.returncode == 0, result.stderr
        ours = [line for line in result.stdout.decode().split("\n") if line.startswith("Authorization:")]
        theirs = botocore_authorization(method, path, query, headers, body, region, service)
        checked += 1
        if ours != [f"Authorization:{theirs}"]:
            mismatches.append((raw, ours, theirs))
    print(f"\nbotocore differential: {checked - len(mismatches)} of {checked} generated requests signed identically")
    assert checked >= 200
    assert not mismatches, mismatches[:3]
