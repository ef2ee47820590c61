"""`secure-api sign` against AWS's SigV4 test suite, through the CLI (every artefact)."""
import json

import pytest

from conftest import SUITE, clean_env, run

CASES = sorted(p.parent.name for p in SUITE.glob("*/context.json")) if SUITE.exists() else []


def strip(s):
    return s.rstrip("\n")


@pytest.mark.skipif(not CASES, reason=f"AWS SigV4 test suite not found at {SUITE}")
def test_sign_command_reproduces_suite(binary):
    passed = 0
    failures = []
    failed_variants = set()
    for name in CASES:
        ctx = json.loads((SUITE / name / "context.json").read_text())
        creds = ctx["credentials"]
        env = clean_env(AWS_ACCESS_KEY_ID=creds["access_key_id"], AWS_SECRET_ACCESS_KEY=creds["secret_access_key"])
        if "token" in creds:
            env["AWS_SESSION_TOKEN"] = creds["token"]
        for variant in ("header", "query"):
            args = ["sign", str(SUITE / name / "request.txt"), "--service", ctx["service"], "--region", ctx["region"],
                    "--time", ctx["timestamp"]]
            if not ctx["normalize"]:
                args.append("--no-normalize-path")
            if ctx.get("omit_session_token"):
                args.append("--session-token-after-signing")
            if variant == "query":
                args += ["--presign", "--expires", str(ctx["expiration_in_seconds"])]
            elif ctx["sign_body"]:
                args.append("--content-sha256")
            for show in ("canonical-request", "string-to-sign", "signature", "signed-request"):
                r = run(binary, *args, "--show", show, env=env)
                want = (SUITE / name / f"{variant}-{show}.txt").read_text()
                if r.returncode != 0 or strip(r.stdout) != strip(want):
                    failures.append(f"{name} {variant} {show}: {r.stderr or r.stdout!r}")
                    failed_variants.add((name, variant))
            passed += 1
    print(f"\nsign CLI vs AWS suite: {passed - len(failed_variants)} of {passed} case-variants "
          f"({len(CASES)} cases x header/query) matched on all four artefacts")
    assert not failures, failures[:5]
    assert passed == 2 * len(CASES) == 76
