"""SIGKILL at the calls of `create`, then `create` again: exactly one of each resource; then
`delete`: nothing left. Two kill points per call index:
  before: the request never reaches the emulator (a crash between two calls);
  after:  the emulator did the call but the tool dies before it sees the answer
          (a crash between "AWS created it" and "we saved it").
The proxy in front of moto does the killing, so the tool has no test hook. Which call indexes
a run covers: conftest's KillSweep (a seeded sample in `make test`, all in `make test-crash`)."""
import json

import pytest

from conftest import NONE, ONE_OF_EACH, Inventory, KillSweep, fast_env, proxied_calls, run_in


@pytest.mark.crash
@pytest.mark.parametrize("when", ["before", "after"])
def test_sigkill_at_create_calls_then_resume(binary, fresh_moto, proxy, tmp_path, when):
    env = fast_env(proxy.url)
    probe = tmp_path / "probe"
    probe.mkdir()
    sweep = KillSweep(f"create, SIGKILL {when} the call", proxied_calls(binary, proxy, probe, "create", env=env))
    assert sweep.total >= 16
    assert run_in(binary, probe, "delete", env=env).returncode == 0
    inv = Inventory(fresh_moto)
    for at in sweep.points:
        fresh_moto.reset()
        work = tmp_path / f"{when}-{at}"
        work.mkdir()
        sweep.run_killed(binary, proxy, work, "create", env=env, at=at, when=when)
        r = run_in(binary, work, "create", env=env)
        assert r.returncode == 0, f"{sweep.where(at)}: resume: {r.stdout}{r.stderr}"
        domain = json.loads((work / "state.json").read_text())["outputs"]["user_pool_domain"]
        assert inv.counts(domain) == ONE_OF_EACH, sweep.where(at)
        r = run_in(binary, work, "delete", env=env)
        assert r.returncode == 0, f"{sweep.where(at)}: delete: {r.stdout}{r.stderr}"
        assert inv.counts(domain) == NONE, f"{sweep.where(at)}: leak"
    print(f"\n{sweep.summary()}; every resume ended with exactly one of each resource and every delete with none")
