"""SIGKILL at every call index of `create`, then `create` again: exactly one of each resource;
then `delete`: nothing left. Two kill points per call index:
  before: the request never reaches the emulator (a crash between two calls);
  after:  the emulator did the call but the tool dies before it sees the answer
          (a crash between "AWS created it" and "we saved it").
The proxy in front of moto does the killing, so the tool has no test hook."""
import json
import subprocess

import pytest

from conftest import NONE, ONE_OF_EACH, Inventory, run_in, stack_env


def fast_env(url):
    # Shorter retry backoff keeps the 30+ runs quick; the retry logic itself is unchanged.
    # (The resume's wait for a killed run's in-flight create is the executor's 10 s in-flight
    # window, not the HTTP timeout: a kill "before" call N may leave call N-1 in flight at moto.)
    return stack_env(url, SECURE_API_RETRY_BASE_SECONDS="0.05", SECURE_API_HTTP_TIMEOUT_SECONDS="4")


def calls_of_a_clean_create(binary, proxy, tmp_path):
    env = fast_env(proxy.url)
    r = run_in(binary, tmp_path / "probe", "create", env=env)
    assert r.returncode == 0, r.stderr
    n = proxy.count
    assert run_in(binary, tmp_path / "probe", "delete", env=env).returncode == 0
    return n


@pytest.mark.parametrize("when", ["before", "after"])
def test_sigkill_at_every_create_call_then_resume(binary, fresh_moto, proxy, tmp_path, when):
    (tmp_path / "probe").mkdir()
    total = calls_of_a_clean_create(binary, proxy, tmp_path)
    assert total >= 16
    inv = Inventory(fresh_moto)
    killed = 0
    for index in range(1, total + 1):
        fresh_moto.reset()
        proxy.reset_counters()
        work = tmp_path / f"{when}-{index}"
        work.mkdir()
        env = fast_env(proxy.url)
        proxy.kill_at = (index, 0, when)
        p = subprocess.Popen([binary, "create"], cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proxy.kill_at = (index, p.pid, when)
        out, err = p.communicate(timeout=120)
        if p.returncode == -9:
            killed += 1
        else:
            assert p.returncode == 0, f"index {index}: {err}"
        state_file = work / "state.json"
        if state_file.exists():
            json.loads(state_file.read_text())  # always parseable
        proxy.kill_at = None
        r = run_in(binary, work, "create", env=env)
        assert r.returncode == 0, f"resume after kill at {when} call {index}: {r.stdout}{r.stderr}"
        domain = json.loads(state_file.read_text())["outputs"]["user_pool_domain"]
        assert inv.counts(domain) == ONE_OF_EACH, f"after kill at {when} call {index}"
        r = run_in(binary, work, "delete", env=env)
        assert r.returncode == 0, f"delete after kill at {when} call {index}: {r.stdout}{r.stderr}"
        assert inv.counts(domain) == NONE, f"leak after kill at {when} call {index}"
    print(f"\ncrash/resume ({when} the call): killed at each of {total} call indexes ({killed} kills landed); "
          f"every resume ended with exactly one of each resource and every delete with none")
    assert killed >= total - 2
