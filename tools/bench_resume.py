#!/usr/bin/env python3
"""Benchmark: the resume after a hard kill while CreateUserPool is in flight, the worst case of
the in-flight wait (issue 11; before it the resume waited out the 60 s HTTP timeout: 53-61 s).

The proxy SIGKILLs `create` when its CreateUserPool arrives, then either
  lost:  drops the request (AWS never got it: the resume looks, waits the whole in-flight
         window, looks again, and only then creates: the worst case), or
  late:  forwards it 3 s later (AWS finished it after the client died: the second look adopts it),
and the next `create` is timed. Every resume must end with exactly one user pool.
--write puts the report into BENCHMARKS.md (replacing its earlier section of this title)."""
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))
from conftest import stack_env  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from moto_server import MotoServer as Moto  # noqa: E402

BIN = str(Path(os.environ.get("SECURE_API_BIN", ROOT / ".build/release/secure-api")).resolve())
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
LATENCY_MS = 50
TITLE = "## Resume after a hard kill during CreateUserPool (tools/bench_resume.py"


def killer(victim, mode):
    """A proxy fault plan: SIGKILL the client at its first CreateUserPool, then lose or delay it."""
    def plan(index, method, path, headers, body):
        if not headers.get("X-Amz-Target", "").endswith("CreateUserPool") or victim.get("done") or "pid" not in victim:
            return None
        victim["done"] = True
        os.kill(victim["pid"], signal.SIGKILL)
        if mode == "lost":
            return "reset_before"
        time.sleep(3)
        return None
    return plan


def once(proxy, moto, mode):
    moto.reset()
    proxy.reset_counters()
    victim = {}
    proxy.fault = killer(victim, mode)
    env = stack_env(proxy.url)
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.Popen([BIN, "create"], cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        victim["pid"] = p.pid
        if p.wait(timeout=120) != -signal.SIGKILL:
            sys.exit(f"bench_resume: the create was not killed at CreateUserPool ({mode})")
        t = time.perf_counter()
        r = subprocess.run([BIN, "create"], cwd=d, env=env, capture_output=True, text=True)
        took = time.perf_counter() - t
        pools = moto.boto("cognito-idp").list_user_pools(MaxResults=10)["UserPools"]
        subprocess.run([BIN, "delete"], cwd=d, env=env, capture_output=True)
    if r.returncode != 0 or ("looking again in" not in r.stdout):
        sys.exit(f"bench_resume: resume ({mode}) did not go as expected:\n{r.stdout}{r.stderr}")
    return took, len(pools)


def main():
    moto = Moto()
    proxy = FaultProxy(moto.url, latency_ms=LATENCY_MS).start()
    try:
        rows = {mode: [] for mode in ("lost", "late")}
        pools = {}
        for mode in rows:
            for _ in range(RUNS):
                took, n = once(proxy, moto, mode)
                rows[mode].append(took)
                pools[mode] = pools.get(mode, set()) | {n}
    finally:
        proxy.stop()
        moto.stop()
    lines = [f"{TITLE}, {time.strftime('%Y-%m-%d')})", "",
             f"{'Release' if '/release/' in BIN else 'Debug'} binary, moto behind tools/faultproxy.py "
             f"({LATENCY_MS} ms added per request), {RUNS} runs each. "
             "The proxy SIGKILLs `create` when its CreateUserPool arrives; the next `create` is timed (it finishes the "
             "whole stack). Before issue 11 this resume waited out the 60 s HTTP timeout (53-61 s).", "",
             "| CreateUserPool after the kill | median s | max s | user pools after the resume |", "|---|---:|---:|---:|"]
    names = {"lost": "never reached AWS (worst case: full in-flight window, then create)",
             "late": "reached AWS 3 s after the kill (adopted at the second look)"}
    for mode, times in rows.items():
        lines.append(f"| {names[mode]} | {statistics.median(times):.1f} | {max(times):.1f} | {sorted(pools[mode])} |")
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if "--write" in sys.argv:
        path = ROOT / "BENCHMARKS.md"
        doc = path.read_text()
        if TITLE in doc:
            start = doc.index(TITLE)
            nxt = doc.find("\n## ", start + 1)
            doc = doc[:start] + text + ("\n" + doc[nxt + 1:] if nxt != -1 else "")
        else:
            doc = doc.rstrip("\n") + "\n\n" + text
        path.write_text(doc)


if __name__ == "__main__":
    main()
