"""Interrupts and visibility (issue 11), on moto through the latency/fault proxy:
Ctrl-C / SIGTERM stop gracefully and resume; a hard kill while CreateUserPool is in flight
resumes in seconds with one user pool; closed pipes never stop a run; a killed run's progress
lines are already out; --verbose pairs every response with its request; --output json."""
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from conftest import NONE, ONE_OF_EACH, PASSWORD, Inventory, run_in, stack_env
from faultproxy import iam_propagation

CREATE_MESSAGE = re.compile(r"^interrupted after (\d+) of (\d+) resources; run `secure-api create` again to resume$", re.M)
DELETE_MESSAGE = re.compile(r"^interrupted after (\d+) of (\d+) deletions; run `secure-api delete` again to resume$", re.M)
SIGNALS = [(signal.SIGINT, 130), (signal.SIGTERM, 143)]


def env_for(url, **extra):
    return stack_env(url, SECURE_API_RETRY_BASE_SECONDS="0.05", **extra)


def start(binary, cwd, *args, env, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([binary, *args], cwd=cwd, env=env, text=True, **kw)


def wait_for(predicate, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def domain_of(work):
    return json.loads((work / "state.json").read_text())["outputs"]["user_pool_domain"]


def created_lines(text):
    """Progress lines of resources done: created (+), or recorded as Lambda's to make (·)."""
    return [line for line in text.splitlines() if line.startswith(("  + ", "  · "))]


@pytest.mark.parametrize("sig,code", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_signal_during_create_stops_gracefully_and_create_resumes_promptly(binary, fresh_moto, proxy, tmp_path, sig, code):
    proxy.latency = 0.15
    env = env_for(proxy.url)
    p = start(binary, tmp_path, "create", env=env)
    wait_for(lambda: proxy.count >= 8, what="8 calls of the create")
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == code, out + err
    m = CREATE_MESSAGE.search(err)
    assert m, err
    done, total = int(m.group(1)), int(m.group(2))
    assert 0 < done < total
    assert "received: starting no new calls" in err
    # The journal holds exactly what was finished: no pending entry is left by a graceful stop.
    state = json.loads((tmp_path / "state.json").read_text())
    assert [r["status"] for r in state["resources"]] == ["created"] * done
    assert len(created_lines(out)) == done  # the run's own progress lines, all out

    started = time.time()
    r = run_in(binary, tmp_path, "create", env=env)
    took = time.time() - started
    assert r.returncode == 0, r.stdout + r.stderr
    assert "looking again" not in r.stdout  # nothing was left in flight: no wait at all
    assert took < 30, f"resume took {took:.1f} s"
    assert Inventory(fresh_moto).counts(domain_of(tmp_path)) == ONE_OF_EACH


def test_sigint_while_waiting_for_iam_propagation_ends_the_wait_and_create_resumes(binary, fresh_moto, proxy, tmp_path):
    """Ctrl-C during a kind's own wait (the function waits for IAM, up to 90 s): the wait ends at
    once, no CreateFunction follows the signal, and the next create ends with one of each."""
    proxy.fault = iam_propagation(3600)
    env = env_for(proxy.url)

    def create_function_calls():
        return [c for c in list(proxy.log) if c.method == "POST" and c.path.rstrip("/") == "/2015-03-31/functions"]

    p = start(binary, tmp_path, "create", env=env)
    wait_for(lambda: len(create_function_calls()) >= 2, what="CreateFunction refused twice (the run is waiting for IAM)")
    signalled = time.time()
    refused_before = len(create_function_calls())
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    took = time.time() - signalled
    assert p.returncode == 130, out + err
    assert CREATE_MESSAGE.search(err), err
    assert took < 10, f"the run went on {took:.1f} s after Ctrl-C"  # not the 30 s grace, nor the 90 s budget
    # At most the call in flight when the signal came; none started after it.
    assert len(create_function_calls()) <= refused_before + 1
    state = json.loads((tmp_path / "state.json").read_text())
    assert {e["key"]: e["status"] for e in state["resources"]}["lambda_function"] == "pending"

    proxy.fault = None  # the role has propagated by now
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert Inventory(fresh_moto).counts(domain_of(tmp_path)) == ONE_OF_EACH


@pytest.mark.parametrize("sig,code", SIGNALS, ids=["SIGINT", "SIGTERM"])
def test_signal_during_delete_stops_gracefully_and_delete_resumes(binary, fresh_moto, proxy, tmp_path, sig, code):
    env = env_for(proxy.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    domain = domain_of(tmp_path)
    entries = len(json.loads((tmp_path / "state.json").read_text())["resources"])
    proxy.latency = 0.15
    before = proxy.count
    p = start(binary, tmp_path, "delete", env=env)
    # STS and one round of ownership reads (pool, domain, API, role, function) come first.
    wait_for(lambda: proxy.count >= before + 10, what="10 calls of the delete")
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == code, out + err
    m = DELETE_MESSAGE.search(err)
    assert m, err
    deleted, total = int(m.group(1)), int(m.group(2))
    assert total == entries and 0 < deleted < total
    left = json.loads((tmp_path / "state.json").read_text())["resources"]
    assert len(left) == total - deleted
    counts = Inventory(fresh_moto).counts()
    assert counts != NONE and counts["user_pools"] == 1  # the pool is deleted last: still there

    started = time.time()
    r = run_in(binary, tmp_path, "delete", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert time.time() - started < 30
    assert not (tmp_path / "state.json").exists()
    assert Inventory(fresh_moto).counts(domain) == NONE


def test_second_signal_stops_at_once_and_create_still_resumes(binary, fresh_moto, proxy, tmp_path):
    # One slow call (the user pool) keeps the first interrupt waiting; the second ends the run there.
    proxy.latency = 0.05
    slow = threading.Event()

    def hold_user_pool(index, method, path, headers, body):
        if headers.get("X-Amz-Target", "").endswith("CreateUserPool") and not slow.is_set():
            slow.set()
            time.sleep(4)
        return None
    proxy.fault = hold_user_pool
    env = env_for(proxy.url)
    p = start(binary, tmp_path, "create", env=env)
    wait_for(slow.is_set, what="CreateUserPool in flight")
    p.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert p.poll() is None  # still waiting for the call in flight
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=10)
    assert p.returncode == 130, out + err
    assert "waiting up to 30 s for" in err and "again: stopping at once" in err
    proxy.fault = None
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert Inventory(fresh_moto).counts(domain_of(tmp_path)) == ONE_OF_EACH


def test_sigkill_while_create_user_pool_in_flight_resumes_in_seconds(binary, fresh_moto, proxy, tmp_path):
    """The killed run's CreateUserPool reaches the emulator 3 s after the kill, as a request
    AWS was still working on would. The next create must adopt that pool, not make another,
    and must not wait out the 60 s HTTP timeout to do so."""
    env = env_for(proxy.url)
    victim = {}

    def kill_then_forward(index, method, path, headers, body):
        if headers.get("X-Amz-Target", "").endswith("CreateUserPool") and "pid" in victim and not victim.get("done"):
            victim["done"] = True
            os.kill(victim["pid"], signal.SIGKILL)
            time.sleep(3)  # then the proxy forwards it: the pool appears after the client died
        return None
    proxy.fault = kill_then_forward
    p = start(binary, tmp_path, "create", env=env)
    victim["pid"] = p.pid
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    pending = [r for r in json.loads((tmp_path / "state.json").read_text())["resources"] if r["key"] == "user_pool"]
    assert pending and pending[0]["status"] == "pending"

    started = time.time()
    r = run_in(binary, tmp_path, "create", env=env)
    took = time.time() - started
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"Cognito user pool.*looking again in \d+ s", r.stdout), r.stdout
    assert "(already existed; adopted)" in r.stdout
    counts = Inventory(fresh_moto).counts(domain_of(tmp_path))
    assert counts["user_pools"] == 1
    assert counts == ONE_OF_EACH
    assert took < 30, f"resume took {took:.1f} s"


def test_create_completes_when_stdout_and_stderr_are_closed(binary, fresh_moto, proxy, tmp_path):
    proxy.latency = 0.05
    env = env_for(proxy.url)
    # As `secure-api create 2>&1 | head -1`: one pipe for both, closed after the first line.
    p = start(binary, tmp_path, "create", "--verbose", env=env, stderr=subprocess.STDOUT)
    first = p.stdout.readline()
    assert first
    p.stdout.close()
    assert p.wait(timeout=120) == 0
    r = run_in(binary, tmp_path, "status", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert Inventory(fresh_moto).counts(domain_of(tmp_path)) == ONE_OF_EACH


def test_progress_lines_of_a_killed_run_are_in_its_captured_output(binary, fresh_moto, proxy, tmp_path):
    env = env_for(proxy.url)
    proxy.reset_counters()
    proxy.arm_kill(14, "before")  # armed before the run starts (conftest's run_killed does the same)
    p = start(binary, tmp_path, "create", env=env)
    proxy.kill_target(p.pid)
    try:
        out, _ = p.communicate(timeout=60)
    finally:
        proxy.disarm_kill()
    assert p.returncode == -signal.SIGKILL
    assert [k[:2] for k in proxy.kills] == [(14, "before")]
    created = [r for r in json.loads((tmp_path / "state.json").read_text())["resources"] if r["status"] == "created"]
    assert created
    lines = created_lines(out)
    # Each line is printed after its resource's journal write, so a kill may fall between the two
    # for the calls answered just before it (at most the 4 that run at once); buffered output
    # would lose every line.
    assert len(created) - 4 <= len(lines) <= len(created), (lines, created)
    for line in lines:
        assert any(r.get("id") and r["id"] in line for r in created), line


REQUEST = re.compile(r"^→ #(\d+) (\S+) (\S+)(?: \(attempt \d+\))?: (\S+) (\S+)$")
RESPONSE = re.compile(r"^← #(\d+) (\S+) (\S+): HTTP (\d+) in \d+ ms$")


def test_verbose_output_of_a_concurrent_create_pairs_every_response_with_its_request(binary, fresh_moto, proxy, tmp_path):
    proxy.latency = 0.1
    env = env_for(proxy.url)
    r = run_in(binary, tmp_path, "create", "--verbose", "--max-concurrency", "4", env=env)
    assert r.returncode == 0, r.stderr
    requests, responses, order = {}, {}, []
    for line in r.stderr.splitlines():
        if m := REQUEST.match(line):
            n = int(m.group(1))
            assert n not in requests, f"call #{n} numbered twice"
            requests[n] = (m.group(2), m.group(3))
            order.append(("req", n))
        elif m := RESPONSE.match(line):
            n = int(m.group(1))
            assert n in requests, f"response #{n} before or without its request"
            assert n not in responses, f"two responses for #{n}"
            assert requests[n] == (m.group(2), m.group(3)), f"#{n} answers {requests[n]}, says {m.groups()[1:3]}"
            responses[n] = int(m.group(4))
            order.append(("resp", n))
        else:
            assert not line.startswith(("→", "←")), f"unparsed call line: {line}"
    assert len(requests) == proxy.count  # every call that reached the proxy is in the log, once
    assert set(responses) == set(requests)
    # Concurrency really interleaved them: some request was printed before an earlier call's response.
    pending, interleaved = set(), False
    for kind, n in order:
        if kind == "req":
            interleaved |= bool(pending)
            pending.add(n)
        else:
            pending.discard(n)
    assert interleaved
    # Secrets stay redacted.
    assert PASSWORD not in r.stderr
    assert "Signature=***" in r.stderr
    machine_secret = Inventory(fresh_moto).cognito.describe_user_pool_client(
        UserPoolId=json.loads((tmp_path / "state.json").read_text())["outputs"]["user_pool_id"],
        ClientId=json.loads((tmp_path / "state.json").read_text())["outputs"]["machine_client_id"])["UserPoolClient"]["ClientSecret"]
    assert machine_secret not in r.stderr


def test_output_json_of_create_and_delete(binary, fresh_moto, tmp_path):
    env = env_for(fresh_moto.url)
    r = run_in(binary, tmp_path, "create", "--output", "json", env=env)
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)
    assert c["command"] == "create" and c["interrupted"] is False and c["already_complete"] is False
    assert c["created"] == c["resources_done"] == c["resources_total"] and c["adopted"] == 0
    assert c["outputs"]["user_pool_id"] and c["state"] == "state.json"
    # A first create asks STS beside its first creates; the account still reaches the summary.
    assert c["account"] == fresh_moto.boto("sts").get_caller_identity()["Account"]
    assert "Target:" in r.stderr  # progress on stderr
    r = run_in(binary, tmp_path, "delete", "--output", "json", env=env)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["command"] == "delete" and d["total"] == c["resources_total"] and d["deleted"] > 0
    assert d["remaining"] == [] and d["interrupted"] is False
    r = run_in(binary, tmp_path, "delete", "--output", "json", env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["total"] == 0


def test_output_json_of_token_request_and_doctor(binary, fresh_moto, tmp_path):
    env = env_for(fresh_moto.url, XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    outputs = json.loads((tmp_path / "state.json").read_text())["outputs"]

    r = run_in(binary, tmp_path, "token", "--password", "--no-cache", "--output", "json", env=env)
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)
    assert t["command"] == "token" and t["token_type"] == "Bearer" and t["access_token"].count(".") == 2
    assert t["access_token_claims"]["client_id"] == outputs["terminal_app_client_id"]
    assert time.strptime(t["expires_at"], "%Y-%m-%dT%H:%M:%SZ") and isinstance(t["refresh_token_cached"], bool)
    assert run_in(binary, tmp_path, "token", "-q", "--output", "json", env=env).returncode != 0  # exclusive

    r = run_in(binary, tmp_path, "request", "--no-token", "--output", "json", env=env)
    assert r.returncode == 1
    q = json.loads(r.stdout)
    assert (q["command"], q["method"], q["status"]) == ("request", "GET", 401) and "simulated" not in q
    assert outputs["api_url"].startswith(fresh_moto.url + "/_aws/execute-api/")
    assert q["url"] == outputs["api_url"] + "/hello" and json.loads(q["body"]) == {"message": "Unauthorized"}
    r = run_in(binary, tmp_path, "request", "--password", "--output", "json", env=env)
    assert r.returncode == 1
    q = json.loads(r.stdout)
    assert q["status"] == 403 and 'error="insufficient_scope"' in q["headers"]["www-authenticate"]
    assert q["explanation"].startswith("403 Forbidden: insufficient_scope")

    r = run_in(binary, tmp_path, "doctor", "--output", "json", env=env)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["command"] == "doctor" and d["account"] == "123456789012" and d["region"]["name"] == "us-east-1"
    assert d["credentials"]["source"] and d["credentials"]["access_key_id"] != "testing"
    assert d["endpoints"] and all(e["url"].startswith(fresh_moto.url) for e in d["endpoints"])
    assert {e["service"] for e in d["endpoints"]} >= {"cognito-idp", "apigatewayv2", "iam", "lambda", "sts"}


def test_first_ctrl_c_waits_for_the_account_lookup_as_for_any_call_in_flight(binary, fresh_moto, proxy, tmp_path):
    """On a first create STS runs beside the first creates: a Ctrl-C while it is outstanding
    waits for it with the countdown (bounded), then says how to resume."""
    held = threading.Event()

    def slow_sts(index, method, path, headers, body):
        if b"GetCallerIdentity" in body:
            held.set()
            time.sleep(3)
        return None

    proxy.fault = slow_sts
    p = start(binary, tmp_path, "create", env=env_for(proxy.url))
    assert held.wait(30)
    time.sleep(0.8)  # the roots (pool, role, API) are answered meanwhile; STS is still held
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, out + err
    assert re.search(r"waiting up to 30 s for \d+ in flight", err), err
    assert "waiting for account lookup (STS)" in err, err
    assert "run `secure-api create` again to resume" in err
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["target"]["account"] == fresh_moto.boto("sts").get_caller_identity()["Account"]
    proxy.fault = None
    assert run_in(binary, tmp_path, "create", env=env_for(proxy.url)).returncode == 0
    assert Inventory(fresh_moto).counts(domain_of(tmp_path)) == ONE_OF_EACH
