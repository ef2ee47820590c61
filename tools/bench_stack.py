#!/usr/bin/env python3
"""Stack benchmark: `secure-api create` + `delete` wall time and peak memory against moto, and the
effect of concurrency when every AWS request takes 50 ms more (tools/faultproxy.py in front of moto).

  1. no added latency: BENCH_RUNS x (create, delete) straight to moto; wall time and peak RSS of
     each secure-api process (os.wait4 on the child: ru_maxrss, KiB on Linux);
  2. through the proxy, 0 ms and 50 ms per request: BENCH_RUNS x create with the default
     concurrency (4) and with --max-concurrency 1 at each latency (interleaved), each followed by a
     delete; proxied requests counted and timed. The concurrent create is compared with the serial
     one and with the critical-path bound (longest dependency chain from `secure-api plan` x 50 ms),
     both as is and for the added-latency part only (50 ms run - 0 ms run), which takes the
     emulator's own time out.

Every run starts from a moto reset and a fresh temporary directory (state.json lives there).
Prints a Markdown report; --write also puts it into BENCHMARKS.md as the section
"## Stack create + delete (tools/bench_stack.py, DATE)", replacing an earlier one.

Environment: SECURE_API_BIN (default .build/release/secure-api), BENCH_RUNS (default 5),
BENCH_LATENCY_MS (default 50), BENCH_CONCURRENCY (default 4), BENCH_SOURCE (what the binary was
built from, for the report; default: worked out from git and file times). Needs moto[server] in the running
Python (the project's .venv).
"""
import argparse
import datetime
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from faultproxy import FaultProxy  # noqa: E402

BIN = os.environ.get("SECURE_API_BIN", str(ROOT / ".build" / "release" / "secure-api"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
LATENCY_MS = float(os.environ.get("BENCH_LATENCY_MS", "50"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
PASSWORD = "Corr3ct-Horse!"
TIMEOUT_S = 300
LOADAVG = (0.0, 0.0, 0.0)
OTHER_CPU = ""  # filled in by main: CPU the rest of the machine used during the run
SECTION_PREFIX = "## Stack create + delete (tools/bench_stack.py"


class BenchError(RuntimeError):
    pass


from moto_server import MotoServer as Moto  # noqa: E402  (tools/ is on sys.path: this file's folder)


# --- running secure-api, measured ---

def cli_env(endpoint):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HOME="/nonexistent-home", NO_COLOR="1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint, PASSWORD=PASSWORD)
    env.pop("DOMAIN_PREFIX", None)
    return env


def run_measured(args, cwd, env):
    """Run secure-api ARGS in CWD; returns (wall seconds, peak RSS KiB, stdout, stderr).
    Raises BenchError with the process's output when it exits non-zero or times out."""
    out_path, err_path = Path(cwd) / ".bench.stdout", Path(cwd) / ".bench.stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([BIN, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        timed_out = threading.Event()

        def kill():
            timed_out.set()
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(TIMEOUT_S, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    stdout, stderr = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    out_path.unlink()
    err_path.unlink()
    if timed_out.is_set():
        raise BenchError(f"secure-api {' '.join(args)} timed out after {TIMEOUT_S} s\n{stdout}\n{stderr}")
    if proc.returncode != 0:
        raise BenchError(f"secure-api {' '.join(args)} exited {proc.returncode} in {cwd}\n"
                         f"--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")
    return wall, usage.ru_maxrss, stdout, stderr


def failed_deletes(stdout):
    """Resources whose delete call failed but which were verified gone (e.g. moto lacks the call)."""
    return [line.strip() for line in stdout.splitlines() if "delete failed" in line]


def one_cycle(moto, endpoint, create_args=(), proxy=None):
    """Reset moto, create then delete in a fresh temp dir. Returns a dict of figures."""
    moto.reset()
    r = {}
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as cwd:
        env = cli_env(endpoint)
        if proxy:
            proxy.reset_counters()
            proxy.timings = []
        r["create_s"], r["create_rss"], out, _ = run_measured(["create", *create_args], cwd, env)
        if not (Path(cwd) / "state.json").exists():
            raise BenchError(f"create succeeded but wrote no state.json in {cwd}:\n{out}")
        if proxy:
            r["create_calls"] = proxy.count
            r["create_5xx"] = sum(1 for e in proxy.log if isinstance(e[4], int) and e[4] >= 500)
            r["create_upstream"] = {}  # op -> the emulator's own time for it (sum over attempts)
            for op, start, end, _ in proxy.timings:
                r["create_upstream"][op] = r["create_upstream"].get(op, 0.0) + (end - start)
            proxy.reset_counters()
            proxy.timings = []
        r["delete_s"], r["delete_rss"], out, _ = run_measured(["delete"], cwd, env)
        if (Path(cwd) / "state.json").exists():
            raise BenchError(f"delete succeeded but left state.json in {cwd}:\n{out}")
        r["delete_failed"] = failed_deletes(out)
        if proxy:
            r["delete_calls"] = proxy.count
            r["delete_5xx"] = sum(1 for e in proxy.log if isinstance(e[4], int) and e[4] >= 500)
            r["delete_5xx_ops"] = sorted({e[3] for e in proxy.log if isinstance(e[4], int) and e[4] >= 500})
            r["delete_backoff_s"] = backoff_seconds(proxy.timings)
    return r


def start_proxy(upstream):
    """The latency proxy, plus a per-request timing record (op, start, end, status) for the
    retry-backoff figure."""
    proxy = FaultProxy(upstream, LATENCY_MS)
    # TCP_NODELAY on the proxy's client sockets: http.server writes the status line + headers and
    # the body in separate send()s, and with Nagle on, the body waits for the client's delayed ACK
    # (~40 ms on Linux) on many responses - an extra, uneven 0-40 ms per request on top of the
    # configured latency. (StreamRequestHandler's own switch; this proxy instance only.)
    proxy.server.RequestHandlerClass.disable_nagle_algorithm = True
    proxy.timings = []
    forward = proxy.forward

    def timed_forward(method, path, headers, body):
        start = time.perf_counter()
        result = forward(method, path, headers, body)
        op = headers.get("X-Amz-Target") or f"{method} {path.split('?')[0]}"
        if b"Action=" in body:
            op = body.decode(errors="replace").split("Action=")[1].split("&")[0]
        with proxy.lock:
            proxy.timings.append((op, start, time.perf_counter(), result[0]))
        return result

    proxy.forward = timed_forward
    return proxy.start()


def backoff_seconds(timings):
    """Time spent waiting between a 5xx answer and the retry of the same operation (minus the
    added latency of the retry itself)."""
    total = 0.0
    ordered = sorted(timings, key=lambda t: t[1])
    for i, (op, _, end, status) in enumerate(ordered):
        if status >= 500:
            nxt = next((t for t in ordered[i + 1:] if t[0] == op), None)
            if nxt:
                total += max(0.0, nxt[1] - end - LATENCY_MS / 1000)
    return total


def longest_chain(endpoint):
    with tempfile.TemporaryDirectory(prefix="bench-stack-") as cwd:
        p = subprocess.run([BIN, "plan"], cwd=cwd, env=cli_env(endpoint), capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise BenchError(f"secure-api plan exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    m = re.search(r"longest dependency chain: (\d+) resources", p.stdout)
    if not m:
        raise BenchError(f"secure-api plan did not print the longest dependency chain:\n{p.stdout}")
    return int(m.group(1))


# --- statistics and the report ---

def med(rows, key):
    return statistics.median(r[key] for r in rows)


def rng(rows, key, fmt="{:.2f}"):
    vals = [r[key] for r in rows]
    return f"{fmt.format(min(vals))}–{fmt.format(max(vals))}"


def mib(kib):
    return kib / 1024


def op_name(op):
    return op.split(".")[-1]


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy (Linux /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    busy = sum(fields[:8]) - fields[3] - fields[4]  # all but idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds():
    """CPU seconds of this script and its reaped children (moto, every secure-api, git)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def source_state():
    """Which source the binary was built from: BENCH_SOURCE if set (e.g. when the binary was built
    from a `git archive` of a commit), else as far as git and file times in this tree can tell."""
    if os.environ.get("BENCH_SOURCE"):
        return os.environ["BENCH_SOURCE"]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", "Sources",
                                 "Package.swift"], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout
        built = os.stat(BIN).st_mtime
    except (OSError, subprocess.SubprocessError):
        return "source commit unknown"
    if not head:
        return "source commit unknown"
    dirty = {line[3:].split(" -> ")[-1] for line in status.splitlines() if line.strip()}
    newer = {str(f.relative_to(ROOT)) for f in [*(ROOT / "Sources").rglob("*"), ROOT / "Package.swift"]
             if f.is_file() and f.stat().st_mtime > built}
    if not newer and not dirty:
        return f"built from commit {head}"
    if not newer:
        return f"built from commit {head} plus uncommitted changes in Sources/"
    if newer == dirty:
        return f"built from commit {head}; later uncommitted edits in Sources/ are not in it"
    return f"HEAD {head}, but the binary is older than some committed Sources/ files"


def report(plain, runs, chain, date):
    """runs: {(latency_ms, concurrency): [cycle figures]} through the proxy."""
    lat = LATENCY_MS / 1000
    c0, s0 = runs[(0, CONCURRENCY)], runs[(0, 1)]
    c1, s1 = runs[(LATENCY_MS, CONCURRENCY)], runs[(LATENCY_MS, 1)]
    c_create, s_create = med(c1, "create_s"), med(s1, "create_s")
    c_added, s_added = c_create - med(c0, "create_s"), s_create - med(s0, "create_s")
    bound = chain * lat
    bound_sts = (chain + 1) * lat
    calls_c, calls_s = med(c1, "create_calls"), med(s1, "create_calls")
    all_proxied = c0 + s0 + c1 + s1
    ops = {op for r in all_proxied for op in r["create_upstream"]}
    upstream = sorted(((statistics.median(r["create_upstream"].get(op, 0.0) for r in all_proxied), op) for op in ops),
                      reverse=True)
    total_upstream = statistics.median(sum(r["create_upstream"].values()) for r in all_proxied)
    slow = [(t, op) for t, op in upstream if t >= 0.02][:3]
    pool_times = [t for r in all_proxied for op, t in r["create_upstream"].items() if op.endswith("CreateUserPool")]
    pool_range = f"{min(pool_times):.2f}–{max(pool_times):.2f}" if pool_times else "?"
    failed = sorted({f.split("delete failed:")[-1].strip() for r in plain + all_proxied for f in r["delete_failed"]})
    ops_5xx = sorted({op_name(op) for r in all_proxied for op in r["delete_5xx_ops"]})
    binary = os.path.relpath(BIN, ROOT) if os.path.abspath(BIN).startswith(str(ROOT) + os.sep) else BIN
    L = []
    L.append(f"{SECTION_PREFIX}, {date})")
    L.append("")
    L.append(f"Release binary (`{binary}`, {source_state()}), {os.cpu_count()} cores, moto server "
             f"(`python -m moto.server`, MOTO_IAM_LOAD_MANAGED_POLICIES=true) on localhost; load average at start "
             f"{LOADAVG[0]:.2f}{OTHER_CPU}. {RUNS} runs of each kind after one untimed warm-up cycle; every run starts from a moto "
             f"reset and an empty directory. Wall time is spawn to exit of the `secure-api` process; peak RSS is its "
             f"`ru_maxrss` (os.wait4 on the child). Medians, with min–max. "
             f"Reproduce: `BENCH_RUNS={RUNS} SECURE_API_BIN={binary} .venv/bin/python tools/bench_stack.py`.")
    L.append("")
    L.append("### Straight to the emulator (no proxy, no added latency)")
    L.append("")
    L.append("| command | median s | min–max s | peak RSS median MiB | min–max MiB |")
    L.append("|---|---:|---:|---:|---:|")
    for key in ("create", "delete"):
        L.append(f"| `{key}` | {med(plain, key + '_s'):.2f} | {rng(plain, key + '_s')} | "
                 f"{mib(med(plain, key + '_rss')):.1f} | "
                 f"{mib(min(r[key + '_rss'] for r in plain)):.1f}–{mib(max(r[key + '_rss'] for r in plain)):.1f} |")
    L.append("")
    L.append(f"### Through tools/faultproxy.py: 0 ms and {LATENCY_MS:g} ms added to every AWS request")
    L.append("")
    L.append("The 0 ms rows are the same proxy with no delay: the baseline for the part of each time that the "
             "added latency causes. Runs of the four kinds are interleaved.")
    L.append("")
    L.append("| added latency | create | create median s | min–max s | requests | delete median s | min–max s | "
             "of which retry backoff s | requests |")
    L.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for (ms, conc), rows in sorted(runs.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        label = f"concurrent (`--max-concurrency {conc}`, the default)" if conc == CONCURRENCY and conc != 1 \
            else ("serial (`--max-concurrency 1`)" if conc == 1 else f"`--max-concurrency {conc}`")
        L.append(f"| {ms:g} ms | {label} | {med(rows, 'create_s'):.2f} | {rng(rows, 'create_s')} | "
                 f"{med(rows, 'create_calls'):.0f} | {med(rows, 'delete_s'):.2f} | {rng(rows, 'delete_s')} | "
                 f"{med(rows, 'delete_backoff_s'):.2f} | {med(rows, 'delete_calls'):.0f} |")
    L.append("")
    L.append(f"`delete` takes no concurrency option (it walks state.json in reverse, one call at a time), so its "
             f"rows differ by noise only.")
    L.append("")
    L.append(f"| at {LATENCY_MS:g} ms per request | value |")
    L.append("|---|---:|")
    L.append(f"| concurrent create / serial create | {c_create / s_create:.2f} |")
    L.append(f"| the same for the added-latency part only (create time at {LATENCY_MS:g} ms − at 0 ms): "
             f"{c_added:.2f} s / {s_added:.2f} s | {c_added / s_added:.2f} |")
    L.append(f"| concurrent create / critical-path bound ({chain} resources × {LATENCY_MS:g} ms = {bound:.2f} s) | "
             f"{c_create / bound:.2f} |")
    L.append(f"| concurrent create / bound incl. STS GetCallerIdentity ({chain + 1} × {LATENCY_MS:g} ms = "
             f"{bound_sts:.2f} s) | {c_create / bound_sts:.2f} |")
    L.append(f"| added-latency part of the concurrent create / bound incl. STS: {c_added:.2f} s / {bound_sts:.2f} s | "
             f"{c_added / bound_sts:.2f} |")
    L.append(f"| serial create / (requests × {LATENCY_MS:g} ms = {calls_s:.0f} × {LATENCY_MS:g} ms = "
             f"{calls_s * lat:.2f} s) | {s_create / (calls_s * lat):.2f} |")
    L.append(f"| added-latency part of the serial create / (requests × {LATENCY_MS:g} ms): {s_added:.2f} s / "
             f"{calls_s * lat:.2f} s | {s_added / (calls_s * lat):.2f} |")
    L.append("")
    L.append(f"The longest dependency chain (`secure-api plan`) is {chain} resources. Every command first calls STS "
             f"GetCallerIdentity (the account for ARNs) before any resource, so that round trip is on the critical "
             f"path too; the request counts include it. In round trips: the concurrent create paid for "
             f"{c_added / lat:.1f} sequential {LATENCY_MS:g} ms delays ({chain + 1} is the floor: chain + STS; "
             f"{calls_c:.0f} requests in all), the serial one for {s_added / lat:.1f} ({calls_s:.0f} requests). "
             f"These are differences of medians and carry the emulator's jitter (the 0 ms concurrent creates alone "
             f"span {rng(c0, 'create_s')} s, i.e. ±{(max(r['create_s'] for r in c0) - min(r['create_s'] for r in c0)) / 2 / lat:.0f} "
             f"round trips), so read them as approximate.")
    L.append("")
    if slow:
        L.append("The emulator's own time per create (median over the proxied runs, summed over requests): "
                 f"{total_upstream:.2f} s, mostly "
                 + ", ".join(f"{op_name(op)} {t:.2f} s" for t, op in slow)
                 + ". "
                 + (f"CreateUserPool is slow in moto (it imports and checks an RSA signing key for every new pool; "
                    f"{pool_range} s per call here) and every Cognito resource waits for it, so "
                    "it sits on the critical path in both modes: that is why the plain ratios are far from the "
                    "latency-only figures, and why the added-latency rows subtract the 0 ms runs."
                    if slow[0][1].endswith("CreateUserPool") else
                    "That time is spent in both modes; the bound counts network latency only, which is why the "
                    "added-latency rows subtract the 0 ms runs."))
        L.append("")
    if failed or ops_5xx:
        L.append("Emulator gap: " + "; ".join(failed)
                 + (f" — moto does not implement {', '.join(ops_5xx)} and answers HTTP 500, which the standard retry "
                    f"mode retries with jittered backoff ({med(all_proxied, 'delete_5xx'):.0f} attempts per delete); "
                    f"delete then verifies the resource went with its user pool and exits 0. The backoff column "
                    f"shows how much of each delete that is (the direct delete above pays it too); the rest of a "
                    f"delete is its requests." if ops_5xx else "."))
        L.append("")
    L.append("The proxy runs with TCP_NODELAY on its client side (set by this script): without it, "
             "http.server's separate header and body writes meet the client's delayed ACK and add up to "
             "~40 ms to many responses, on top of the configured latency.")
    return "\n".join(L) + "\n"


def write_section(text, path=ROOT / "BENCHMARKS.md"):
    """Put TEXT into PATH as its section, replacing an earlier stack section (up to the next '## ')."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.startswith(SECTION_PREFIX)), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        before = "".join(lines[:start]).rstrip("\n") + "\n\n"
        after = "".join(lines[end:])
        new = before + text + ("\n" + after if after else "")
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(new)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="put the report into BENCHMARKS.md")
    args = ap.parse_args()
    if not os.access(BIN, os.X_OK):
        print(f"bench_stack: {BIN} is missing: build it with 'swift build -c release' (or set SECURE_API_BIN)",
              file=sys.stderr)
        return 1
    if RUNS < 1:
        print("bench_stack: BENCH_RUNS must be at least 1", file=sys.stderr)
        return 1
    global LOADAVG, OTHER_CPU
    LOADAVG = os.getloadavg()
    busy0, own0 = busy_cpu_seconds(), own_cpu_seconds()
    date = datetime.date.today().isoformat()
    moto = proxy = None
    t0 = time.perf_counter()
    try:
        moto = Moto()
        chain = longest_chain(moto.url)
        print(f"bench_stack: {BIN}, moto at {moto.url}, {RUNS} runs, longest chain {chain}", file=sys.stderr)
        one_cycle(moto, moto.url)  # warm-up: moto imports each service backend on its first call
        plain = []
        for i in range(RUNS):
            plain.append(one_cycle(moto, moto.url))
            print(f"  plain {i + 1}/{RUNS}: create {plain[-1]['create_s']:.2f} s, delete {plain[-1]['delete_s']:.2f} s",
                  file=sys.stderr)
        proxy = start_proxy(moto.url)
        kinds = [(0, CONCURRENCY), (0, 1), (LATENCY_MS, CONCURRENCY), (LATENCY_MS, 1)]
        runs = {k: [] for k in kinds}
        proxy.latency = LATENCY_MS / 1000
        one_cycle(moto, proxy.url, proxy=proxy)  # warm-up through the proxy
        for i in range(RUNS):  # interleaved so drift hits every kind alike
            for ms, conc in kinds:
                proxy.latency = ms / 1000  # read by the proxy per request
                runs[(ms, conc)].append(one_cycle(moto, proxy.url, ["--max-concurrency", str(conc)], proxy))
            print(f"  proxied {i + 1}/{RUNS}: create " + ", ".join(
                f"{ms:g} ms x{conc} {runs[(ms, conc)][-1]['create_s']:.2f} s" for ms, conc in kinds), file=sys.stderr)
    except (BenchError, RuntimeError) as e:  # RuntimeError: the emulator would not start
        print(f"bench_stack: FAILED: {e}", file=sys.stderr)
        if moto:
            print(f"--- moto (exit status {moto.proc.poll()}) log tail ---\n" + moto.log_tail(), file=sys.stderr)
        return 1
    finally:
        if proxy:
            proxy.stop()
        if moto:
            moto.stop()
    wall = time.perf_counter() - t0
    busy1 = busy_cpu_seconds()
    if busy0 is not None and busy1 is not None:
        other = max(0.0, (busy1 - busy0) - (own_cpu_seconds() - own0))
        share = other / (wall * (os.cpu_count() or 1))
        OTHER_CPU = f"; other processes used {other:.0f} CPU-s during the {wall:.0f} s run ({share:.0%} of the machine)"
        if share > 0.10:
            print(f"bench_stack: WARNING: other processes used {share:.0%} of the CPU during the run; "
                  "the figures may be skewed", file=sys.stderr)
    text = report(plain, runs, chain, date)
    print(text)
    print(f"bench_stack: total {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.write:
        write_section(text)
        print("bench_stack: wrote the section into BENCHMARKS.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
