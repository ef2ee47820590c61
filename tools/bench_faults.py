#!/usr/bin/env python3
"""Benchmark: create + delete on moto with 20 % of requests faulted (throttling, 5xx, HTML
502, resets before and after the emulator, truncated bodies), fixed seeds, against the same
runs without faults. Prints medians of wall time, retries made and faults injected; --write puts
them into BENCHMARKS.md between its bench_faults markers (the prose around them is written there)."""
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
from bench_stack import write_figures  # noqa: E402
from conftest import stack_env  # noqa: E402
from faultproxy import FaultProxy, random_faults  # noqa: E402
from moto_server import MotoServer  # noqa: E402

BIN = str(Path(os.environ.get("SECURE_API_BIN", ROOT / ".build/release/secure-api")).resolve())
SEEDS = [int(s) for s in os.environ.get("BENCH_SEEDS", "1,2,3,4,5").split(",")]
BEGIN, END = "<!-- bench_faults: begin -->", "<!-- bench_faults: end -->"


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


def med(rows, key):
    return statistics.median(r[key] for r in rows)


def main():
    moto = MotoServer()
    proxy = FaultProxy(moto.url).start()
    try:
        clean = [cycle(proxy, moto, None) for _ in SEEDS]
        faulty = [cycle(proxy, moto, s) for s in SEEDS]
    finally:
        proxy.stop()
        moto.stop()
    lines = [f"Measured {time.strftime('%Y-%m-%d')}: {len(SEEDS)} runs each, seeds {SEEDS} for the faulted runs.", "",
             "| | create s | delete s | create+delete s | requests | faults injected | retries made |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, rows in [("no faults", clean), ("20 % faults", faulty)]:
        lines.append(f"| {name} | {med(rows, 'create'):.2f} | {med(rows, 'delete'):.2f} | "
                     f"{med(rows, 'create') + med(rows, 'delete'):.2f} | {med(rows, 'requests'):.0f} | {med(rows, 'faults'):.0f} | "
                     f"{med(rows, 'retries'):.0f} |")
    both = (med(faulty, "create") + med(faulty, "delete")) / (med(clean, "create") + med(clean, "delete"))
    lines += ["", f"Median create under faults / without: {med(faulty, 'create') / med(clean, 'create'):.2f}; "
              f"create+delete: {both:.2f}."]
    text = "\n".join(lines) + "\n"
    print(text)
    if "--write" in sys.argv:
        write_figures(text, BEGIN, END)


if __name__ == "__main__":
    main()
