#!/usr/bin/env python3
"""Stack benchmark: wall time and peak RSS of `secure-api create` + `delete` against moto, straight
and through tools/faultproxy.py at 0 ms and BENCH_LATENCY_MS added per request, concurrent
(the default) and serial (--max-concurrency 1), interleaved. Prints the figures as Markdown;
--write puts them into BENCHMARKS.md between its bench_stack markers (the prose around them,
which explains the figures, is written by hand there).

Environment: SECURE_API_BIN (default .build/release/secure-api), BENCH_RUNS (5), BENCH_LATENCY_MS
(50), BENCH_CONCURRENCY (4), BENCH_SOURCE (what the binary was built from; default: from git).
"""
import argparse
import datetime
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests"))
from conftest import stack_env  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from moto_server import MotoServer  # noqa: E402

BIN = os.environ.get("SECURE_API_BIN", str(ROOT / ".build" / "release" / "secure-api"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
LATENCY_MS = float(os.environ.get("BENCH_LATENCY_MS", "50"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
TIMEOUT_S = 300
BEGIN, END = "<!-- bench_stack: begin -->", "<!-- bench_stack: end -->"


def run_measured(args, cwd, env):
    """(wall seconds, peak RSS KiB, stdout) of `secure-api ARGS`; exits the benchmark on failure."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen([BIN, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        timer = threading.Timer(TIMEOUT_S, proc.kill)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)  # reaped here (not by Popen) for the child's rusage
        wall = time.perf_counter() - start
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        sys.exit(f"bench_stack: secure-api {' '.join(args)} exited {proc.returncode} in {cwd}\n{stdout}\n{stderr}")
    return wall, usage.ru_maxrss, stdout


def one_cycle(moto, endpoint, create_args=(), proxy=None):
    """Create then delete from a moto reset in a fresh directory: a dict of figures."""
    moto.reset()
    r = {}
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as cwd:
        env = stack_env(endpoint)
        for command, args in [("create", ["create", *create_args]), ("delete", ["delete"])]:
            if proxy:
                proxy.reset_counters()
            r[command + "_s"], r[command + "_rss"], out = run_measured(args, cwd, env)
            if (Path(cwd) / "state.json").exists() != (command == "create"):
                sys.exit(f"bench_stack: {command} exited 0 but state.json is {'missing' if command == 'create' else 'left'}:\n{out}")
            if proxy:
                log = list(proxy.log)
                r[command + "_calls"] = len(log)
                r[command + "_5xx"] = [c.op for c in log if isinstance(c.status, int) and c.status >= 500]
                r[command + "_upstream"] = {}  # op -> the emulator's own time for it, summed over attempts
                for c in log:
                    r[command + "_upstream"][c.op] = r[command + "_upstream"].get(c.op, 0.0) + (c.end - c.start)
                r[command + "_backoff_s"] = backoff_seconds(log)
        r["delete_failed"] = [line.split("delete failed:")[-1].strip() for line in out.splitlines() if "delete failed" in line]
    return r


def backoff_seconds(log):
    """Time between a 5xx answer and the next attempt at the same operation, less that attempt's
    added latency: what the retry backoff cost."""
    calls = sorted(log, key=lambda c: c.start)
    total = 0.0
    for i, c in enumerate(calls):
        if isinstance(c.status, int) and c.status >= 500:
            retry = next((n for n in calls[i + 1:] if n.op == c.op), None)
            if retry:
                total += max(0.0, retry.start - c.end - LATENCY_MS / 1000)
    return total


def longest_chain(endpoint):
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as cwd:
        p = subprocess.run([BIN, "plan"], cwd=cwd, env=stack_env(endpoint), capture_output=True, text=True, timeout=60)
    m = re.search(r"longest dependency chain: (\d+) resources", p.stdout)
    if p.returncode != 0 or not m:
        sys.exit(f"bench_stack: secure-api plan gave no longest dependency chain (exit {p.returncode}):\n{p.stdout}{p.stderr}")
    return int(m.group(1))


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    """CPU seconds of this script and its reaped children (moto, every secure-api)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def source_state():
    if os.environ.get("BENCH_SOURCE"):
        return os.environ["BENCH_SOURCE"]
    git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()  # noqa: E731
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "Sources", "Package.swift")
    newer = any(f.stat().st_mtime > os.stat(BIN).st_mtime for f in (ROOT / "Sources").rglob("*.swift"))
    return f"built from commit {head}" + (" plus uncommitted changes in Sources/" if dirty else "") + \
        (" (some Sources/ files are newer than the binary)" if newer else "")


def med(rows, key):
    return statistics.median(r[key] for r in rows)


def span(rows, key, scale=1.0, fmt="{:.2f}"):
    vals = [r[key] * scale for r in rows]
    return f"{fmt.format(min(vals))}–{fmt.format(max(vals))}"


def report(plain, runs, chain, setting):
    lat = LATENCY_MS / 1000
    c0, s0, c1, s1 = runs[(0, CONCURRENCY)], runs[(0, 1)], runs[(LATENCY_MS, CONCURRENCY)], runs[(LATENCY_MS, 1)]
    c_added, s_added = med(c1, "create_s") - med(c0, "create_s"), med(s1, "create_s") - med(s0, "create_s")
    d_added = med(c1, "delete_s") - med(c0, "delete_s")
    calls_s = med(s1, "create_calls")
    proxied = c0 + s0 + c1 + s1
    upstream = {op: statistics.median(r["create_upstream"].get(op, 0.0) for r in proxied)
                for op in {op for r in proxied for op in r["create_upstream"]}}
    slowest = sorted(upstream.items(), key=lambda kv: -kv[1])[:3]
    pool = [t for r in proxied for op, t in r["create_upstream"].items() if op == "CreateUserPool"]
    L = [setting, "", "Straight to the emulator:", "",
         "| command | median s | min–max s | peak RSS median MiB | min–max MiB |", "|---|---:|---:|---:|---:|"]
    for key in ("create", "delete"):
        L.append(f"| `{key}` | {med(plain, key + '_s'):.2f} | {span(plain, key + '_s')} | {med(plain, key + '_rss') / 1024:.1f} | "
                 f"{span(plain, key + '_rss', 1 / 1024, '{:.1f}')} |")
    L += ["", f"Through the proxy, 0 ms and {LATENCY_MS:g} ms added to every request:", "",
          "| added latency | create | create median s | min–max s | requests | delete median s | min–max s | "
          "of which retry backoff s | requests |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (ms, conc), rows in sorted(runs.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        label = "serial (`--max-concurrency 1`)" if conc == 1 else f"concurrent (`--max-concurrency {conc}`)"
        L.append(f"| {ms:g} ms | {label} | {med(rows, 'create_s'):.2f} | {span(rows, 'create_s')} | {med(rows, 'create_calls'):.0f} | "
                 f"{med(rows, 'delete_s'):.2f} | {span(rows, 'delete_s')} | {med(rows, 'delete_backoff_s'):.2f} | "
                 f"{med(rows, 'delete_calls'):.0f} |")
    spread = max(r["create_s"] for r in c0) - min(r["create_s"] for r in c0)
    L += ["", f"| at {LATENCY_MS:g} ms per request | value |", "|---|---:|",
          f"| concurrent create / serial create | {med(c1, 'create_s') / med(s1, 'create_s'):.2f} |",
          f"| the same for the added-latency part only ({LATENCY_MS:g} ms − 0 ms): {c_added:.2f} s / {s_added:.2f} s | "
          f"{c_added / s_added:.2f} |",
          f"| longest dependency chain (`secure-api plan`) | {chain} resources |",
          f"| issue 14's create ratio: added-latency part of the concurrent create / (chain × {LATENCY_MS:g} ms = {chain * lat:.2f} s) | "
          f"{c_added / (chain * lat):.2f} |",
          f"| issue 14's delete ratio: added-latency part of the concurrent delete ({d_added:.2f} s) / "
          f"((1 + chain + 1) × {LATENCY_MS:g} ms "
          f"= {(chain + 2) * lat:.2f} s) | {d_added / ((chain + 2) * lat):.2f} |",
          f"| added-latency part of the serial create / (requests × {LATENCY_MS:g} ms = {calls_s * lat:.2f} s) | "
          f"{s_added / (calls_s * lat):.2f} |",
          f"| sequential round trips paid: concurrent create (floor {chain}: STS runs beside the first creates) | {c_added / lat:.1f} |",
          f"| sequential round trips paid: serial create ({calls_s:.0f} requests) | {s_added / lat:.1f} |",
          f"| spread of the 0 ms concurrent creates | {span(c0, 'create_s')} s (±{spread / 2 / lat:.0f} round trips) |",
          "", "| emulator's own time per create (median over the proxied runs) | s |", "|---|---:|",
          f"| all requests | {statistics.median(sum(r['create_upstream'].values()) for r in proxied):.2f} |"]
    L += [f"| {op} | {t:.2f} |" for op, t in slowest]
    if pool:
        L.append(f"| CreateUserPool, per call, min–max | {min(pool):.2f}–{max(pool):.2f} |")
    failed = sorted({f for r in plain + proxied for f in r["delete_failed"]})
    ops_5xx = sorted({op for r in proxied for op in r["delete_5xx"]})
    if failed or ops_5xx:
        attempts = statistics.median(len(r["delete_5xx"]) for r in proxied)
        L += ["", f"Delete: HTTP 500 from {', '.join(ops_5xx) or 'no operation'} ({attempts:.0f} attempts per delete); "
              f"reported as: {'; '.join(failed) or 'nothing'}."]
    return "\n".join(L) + "\n"


def write_figures(text, begin=BEGIN, end=END, path=ROOT / "BENCHMARKS.md"):
    """Replace what lies between BEGIN and END in BENCHMARKS.md with TEXT."""
    doc = path.read_text()
    if begin not in doc or end not in doc:
        sys.exit(f"bench: {path.name} has no '{begin}' ... '{end}' block to write into")
    head, rest = doc.split(begin, 1)
    path.write_text(head + begin + "\n" + text + end + rest.split(end, 1)[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="put the figures into BENCHMARKS.md")
    args = ap.parse_args()
    if not os.access(BIN, os.X_OK):
        sys.exit(f"bench_stack: {BIN} is missing: build it with 'swift build -c release' (or set SECURE_API_BIN)")
    load, busy0, own0, t0 = os.getloadavg()[0], busy_cpu_seconds(), own_cpu_seconds(), time.perf_counter()
    moto = MotoServer()
    proxy = FaultProxy(moto.url).start()
    try:
        chain = longest_chain(moto.url)
        one_cycle(moto, moto.url)  # warm-up: moto imports each service backend on its first call
        plain = [one_cycle(moto, moto.url) for _ in range(RUNS)]
        kinds = [(0, CONCURRENCY), (0, 1), (LATENCY_MS, CONCURRENCY), (LATENCY_MS, 1)]
        runs = {k: [] for k in kinds}
        proxy.latency = LATENCY_MS / 1000
        one_cycle(moto, proxy.url, proxy=proxy)  # warm-up through the proxy
        for i in range(RUNS):  # interleaved so drift hits every kind alike
            for ms, conc in kinds:
                proxy.latency = ms / 1000  # read by the proxy per request
                runs[(ms, conc)].append(one_cycle(moto, proxy.url, ["--max-concurrency", str(conc)], proxy))
            print(f"bench_stack: round {i + 1}/{RUNS} done", file=sys.stderr)
    finally:
        proxy.stop()
        moto.stop()
    wall = time.perf_counter() - t0
    other = max(0.0, busy_cpu_seconds() - busy0 - (own_cpu_seconds() - own0))
    share = other / (wall * (os.cpu_count() or 1))
    if share > 0.10:
        print(f"bench_stack: WARNING: other processes used {share:.0%} of the CPU; the figures may be skewed", file=sys.stderr)
    binary = os.path.relpath(BIN, ROOT) if os.path.abspath(BIN).startswith(str(ROOT) + os.sep) else BIN
    setting = (f"Measured {datetime.date.today().isoformat()}: `{binary}` ({source_state()}), {os.cpu_count()} cores, "
               f"load average at start {load:.2f}; other processes used {other:.0f} CPU-s during the {wall:.0f} s run "
               f"({share:.0%} of the machine). {RUNS} runs of each kind after one untimed warm-up cycle. Reproduce: "
               f"`BENCH_RUNS={RUNS} SECURE_API_BIN={binary} .venv/bin/python tools/bench_stack.py`.")
    text = report(plain, runs, chain, setting)
    print(text)
    if args.write:
        write_figures(text)
        print("bench_stack: wrote the figures into BENCHMARKS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
