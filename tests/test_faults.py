"""Reliability under faults (issue 6): a fault-injecting proxy between secure-api and moto."""
import json
import re
import time

import pytest

from conftest import NONE, ONE_OF_EACH, Inventory, KillSweep, proxied_calls, run_in, stack_env
from faultproxy import broken_operation, iam_propagation, random_faults


def env_for(url, **extra):
    # A roomy HTTP timeout: on a loaded 2-core machine moto can be slow, and a timed-out create
    # makes the tool wait out the whole in-flight window before re-creating (correct, but slow).
    settings = dict(SECURE_API_RETRY_BASE_SECONDS="0.05", SECURE_API_HTTP_TIMEOUT_SECONDS="30", AWS_MAX_ATTEMPTS="6")
    settings.update(extra)
    return stack_env(url, **settings)


def retries_in(text):
    m = re.search(r"\((\d+) retries\)", text)
    return int(m.group(1)) if m else 0


@pytest.mark.parametrize("seed", [11, 22, 33, 44])
def test_create_and_delete_succeed_with_20_percent_faults(binary, fresh_moto, proxy, tmp_path, seed):
    proxy.fault = random_faults(seed, 0.2)
    env = env_for(proxy.url)
    inv = Inventory(fresh_moto)
    t0 = time.time()
    r = run_in(binary, tmp_path, "create", env=env)
    create_s = time.time() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    domain = json.loads((tmp_path / "state.json").read_text())["outputs"]["user_pool_domain"]
    assert inv.counts(domain) == ONE_OF_EACH
    t0 = time.time()
    d = run_in(binary, tmp_path, "delete", env=env)
    delete_s = time.time() - t0
    assert d.returncode == 0, d.stdout + d.stderr
    assert inv.counts(domain) == NONE
    print(f"\nseed {seed}: {proxy.count} requests, {proxy.faults_injected} faults injected; create {create_s:.1f}s "
          f"({retries_in(r.stdout)} retries), delete {delete_s:.1f}s ({retries_in(d.stdout)} retries); exactly one of each, then none")


@pytest.mark.crash
@pytest.mark.parametrize("when", ["before", "after"])
def test_sigkill_at_delete_calls_then_delete_again(binary, fresh_moto, proxy, tmp_path, when):
    env = env_for(proxy.url)
    inv = Inventory(fresh_moto)
    probe = tmp_path / "probe"
    probe.mkdir()
    assert run_in(binary, probe, "create", env=env).returncode == 0
    sweep = KillSweep(f"delete, SIGKILL {when} the call", proxied_calls(binary, proxy, probe, "delete", env=env))
    for at in sweep.points:
        fresh_moto.reset()
        work = tmp_path / f"{when}-{at}"
        work.mkdir()
        assert run_in(binary, work, "create", env=env).returncode == 0
        domain = json.loads((work / "state.json").read_text())["outputs"]["user_pool_domain"]
        sweep.run_killed(binary, proxy, work, "delete", env=env, at=at, when=when)
        r = run_in(binary, work, "delete", env=env)
        assert r.returncode == 0, f"{sweep.where(at)}: delete again: {r.stdout}{r.stderr}"
        assert inv.counts(domain) == NONE, f"{sweep.where(at)}: leak"
    print(f"\n{sweep.summary()}; the next delete always ended with nothing left")


def test_iam_propagation_is_waited_out_not_slept(binary, fresh_moto, proxy, tmp_path):
    proxy.fault = iam_propagation(5)
    t0 = time.time()
    r = run_in(binary, tmp_path, "create", env=env_for(proxy.url))
    elapsed = time.time() - t0
    assert r.returncode == 0, r.stderr
    assert "waiting for IAM role APIGatewayLambdaRole to propagate" in r.stdout
    assert 5 <= elapsed < 25, elapsed  # about T (plus the rest of the stack), not the 90 s budget
    print(f"\nIAM propagation T=5 s: create took {elapsed:.1f} s")
    assert run_in(binary, tmp_path, "delete", env=env_for(proxy.url)).returncode == 0


def test_iam_propagation_beyond_the_bound_fails_clearly_then_resumes(binary, fresh_moto, proxy, tmp_path):
    proxy.fault = iam_propagation(3600)
    env = env_for(proxy.url, SECURE_API_IAM_PROPAGATION_SECONDS="3")
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 1
    (line,) = r.stderr.strip().splitlines()
    assert "IAM propagation" in line and "run create again to resume" in line
    state = json.loads((tmp_path / "state.json").read_text())
    assert {e["key"]: e["status"] for e in state["resources"]}["lambda_function"] == "pending"
    proxy.fault = None  # the role has propagated by now
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stderr
    assert "Resuming stack" in r.stdout
    domain = json.loads((tmp_path / "state.json").read_text())["outputs"]["user_pool_domain"]
    assert Inventory(fresh_moto).counts(domain) == ONE_OF_EACH
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0



@pytest.mark.parametrize("value", ["inf", "1e30", "-1", "3601", "soon"])
def test_a_bad_iam_propagation_budget_is_refused_before_any_call(binary, proxy, tmp_path, value):
    r = run_in(binary, tmp_path, "create", env=env_for(proxy.url, SECURE_API_IAM_PROPAGATION_SECONDS=value))
    assert r.returncode != 0
    (line,) = r.stderr.strip().splitlines()
    assert "SECURE_API_IAM_PROPAGATION_SECONDS must be a number of seconds from 0 to 3600" in line, line
    assert proxy.count == 0
    assert not (tmp_path / "state.json").exists()



def test_a_bare_404_to_a_delete_is_not_taken_for_already_gone(binary, fresh_moto, proxy, tmp_path):
    """Only the service's own "not found" code means gone: an HTML 404 (a proxy, a wrong path)
    to DeleteRole keeps the role's record, so the role is never stranded outside state."""
    env = env_for(proxy.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    domain = json.loads((tmp_path / "state.json").read_text())["outputs"]["user_pool_domain"]

    def html_404_to_delete_role(index, method, path, headers, body):
        if b"Action=DeleteRole&" in body + b"&":
            return {"kind": "custom", "status": 404, "headers": [("Content-Type", "text/html")],
                    "body": b"<html><body><h1>404 Not Found</h1></body></html>"}
        return None

    proxy.fault = html_404_to_delete_role
    r = run_in(binary, tmp_path, "delete", env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    keys = [e["key"] for e in json.loads((tmp_path / "state.json").read_text())["resources"]]
    assert "lambda_role" in keys, keys
    assert Inventory(fresh_moto).counts(domain)["roles"] == 1

    proxy.fault = None
    r = run_in(binary, tmp_path, "delete", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert Inventory(fresh_moto).counts(domain) == NONE


BROKEN = [
    ("GetCallerIdentity", "html502"), ("GetCallerIdentity", "truncate"), ("GetCallerIdentity", "wrong_types"),
    ("CreateUserPool", "truncate"), ("CreateUserPool", "html502"), ("CreateUserPool", "missing_fields"),
    ("CreateUserPool", "wrong_types"), ("POST /v2/apis", "truncate"), ("POST /v2/apis", "missing_fields"),
    ("POST /v2/apis", "garbage"), ("CreateRole", "truncate"), ("CreateRole", "missing_fields"), ("CreateRole", "wrong_types"),
    ("POST /2015-03-31/functions", "wrong_types"), ("ListUserPools", "wrong_types"), ("DescribeUserPool", "missing_fields"),
]


@pytest.mark.parametrize("operation,kind", BROKEN)
def test_broken_responses_end_clearly_and_keep_every_id(binary, fresh_moto, proxy, tmp_path, operation, kind):
    proxy.fault = broken_operation(operation, kind)
    env = env_for(proxy.url, AWS_MAX_ATTEMPTS="3", SECURE_API_HTTP_TIMEOUT_SECONDS="8")
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode in (0, 1), f"crashed: {r.returncode} {r.stderr}"
    assert "Fatal error" not in r.stderr and "Stack dump" not in r.stderr
    if r.returncode == 1:
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert r.stderr.startswith("secure-api: error: ")
    state_file = tmp_path / "state.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        created = [e for e in state["resources"] if e["status"] == "created"]
        assert all(e.get("id") for e in created)  # every ID already created is kept
    # Whatever happened, a clean create finishes the stack with one of each, and delete clears it.
    proxy.fault = None
    r2 = run_in(binary, tmp_path, "create", env=env)
    assert r2.returncode == 0, r2.stdout + r2.stderr
    domain = json.loads(state_file.read_text())["outputs"]["user_pool_domain"]
    inv = Inventory(fresh_moto)
    assert inv.counts(domain) == ONE_OF_EACH, f"{operation}/{kind}: {r.stderr}"
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0
    assert inv.counts(domain) == NONE


REFUSED = b"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included " \
          b"in the request is invalid.</Message></Error></ErrorResponse>"


def refuse_all(index, method, path, headers, body):
    """Every call refused, as AWS answers a key that does not exist."""
    return {"kind": "custom", "status": 403, "headers": [("Content-Type", "text/xml"), ("x-amzn-ErrorType", "InvalidClientTokenId")],
            "body": REFUSED}


def test_a_first_create_with_refused_credentials_leaves_no_state(binary, fresh_moto, proxy, tmp_path):
    """STS runs beside the first creates, which AWS refuses too: nothing was made, so nothing may
    pin a state to this region and endpoint (a later run with other settings would be refused)."""
    proxy.fault = refuse_all
    r = run_in(binary, tmp_path, "create", env=stack_env(proxy.url))
    assert r.returncode == 1 and "InvalidClientTokenId" in r.stderr, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "state.json").exists(), (tmp_path / "state.json").read_text()
    proxy.fault = None
    assert run_in(binary, tmp_path, "create", env=stack_env(proxy.url)).returncode == 0


def test_sts_refused_after_first_creates_succeeded_says_what_was_made(binary, fresh_moto, proxy, tmp_path):
    """Only STS refuses (an SCP, a wrong AWS_ENDPOINT_URL_STS): the roots made beside it are
    journalled, and the error says so and how to go on."""
    proxy.fault = lambda index, method, path, headers, body: refuse_all(index, method, path, headers, body) \
        if b"GetCallerIdentity" in body else None
    r = run_in(binary, tmp_path, "create", env=stack_env(proxy.url))
    assert r.returncode == 1, r.stdout + r.stderr
    state = json.loads((tmp_path / "state.json").read_text())
    made = [x for x in state["resources"] if x["status"] == "created"]
    assert made, state
    assert f"{len(made)} resource(s) made before it are recorded in state.json" in r.stderr, r.stderr
    proxy.fault = None
    assert run_in(binary, tmp_path, "create", env=stack_env(proxy.url)).returncode == 0
    assert run_in(binary, tmp_path, "delete", env=stack_env(proxy.url)).returncode == 0


def test_a_first_create_whose_sts_never_answered_is_finished_once_sts_is_fixed(binary, fresh_moto, tmp_path):
    """STS pointed nowhere on a first create: the roots made beside it are recorded, and the run
    with STS fixed finishes the stack (an STS that never answered pins no endpoint)."""
    env = stack_env(fresh_moto.url)
    r = run_in(binary, tmp_path, "create", env={**env, "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "2"})
    assert r.returncode == 1 and "cannot reach STS at http://127.0.0.1:9" in r.stderr, r.stderr
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["target"]["account"] == "" and any(x["status"] == "created" for x in state["resources"])
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["target"]["account"] == fresh_moto.boto("sts").get_caller_identity()["Account"]
    assert Inventory(fresh_moto).counts(state["outputs"]["user_pool_domain"]) == ONE_OF_EACH
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0
