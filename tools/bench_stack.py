#!/usr/bin/env python3
"""Stack benchmark: `secure-api create` + `delete` wall time and peak memory against moto, and the
effect of concurrency when every AWS request takes 50 ms more (tools/faultproxy.py in front of moto).

  1. no added latency: BENCH_RUNS x (create, delete) straight to moto; wall time and peak RSS of
     each secure-api process (os.wait4 on the child: ru_maxrss, KiB on Linux);
  2. 50 ms per request: BENCH_RUNS x create with the default concurrency (4) and BENCH_RUNS x create
     with --max-concurrency 1 (alternating), each followed by a delete; proxied requests counted;
     the concurrent create compared with the serial one and with the critical-path bound
     (longest dependency chain from `secure-api plan` x 50 ms).

Every run starts from a moto reset and a fresh temporary directory (state.json lives there).
Prints a Markdown report; --write also puts it into BENCHMARKS.md as the section
"## Stack create + delete (tools/bench_stack.py, DATE)", replacing an earlier one.

Environment: SECURE_API_BIN (default .build/release/secure-api), BENCH_RUNS (default 5),
BENCH_LATENCY_MS (default 50), BENCH_CONCURRENCY (default 4). Needs moto[server] in the running
Python (the project's .venv).
"""
import argparse
import datetime
import os
import re
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
SECTION_PREFIX = "## Stack create + delete (tools/bench_stack.py"


class BenchError(RuntimeError):
    pass


# --- moto on a free port (the same few lines as tests/conftest.py; nothing imported from tests/) ---

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Moto:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1)
                return
            except Exception:
                if self.proc.poll() is not None:
                    raise BenchError(f"moto server exited at start (is moto[server] installed in {sys.executable}?):\n"
                                     + self.log_tail())
                time.sleep(0.1)
        self.stop()
        raise BenchError("moto server did not start in 30 s")

    def log_tail(self, n=4000):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-n:]

    def reset(self):
        urllib.request.urlopen(urllib.request.Request(self.url + "/moto-api/reset", method="POST"), timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


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


def report(plain, conc, serial, chain, date):
    lat = LATENCY_MS / 1000
    c_create, s_create = med(conc, "create_s"), med(serial, "create_s")
    bound = chain * lat
    bound_sts = (chain + 1) * lat
    calls_c, calls_s = med(conc, "create_calls"), med(serial, "create_calls")
    plain_create = med(plain, "create_s")
    # Sequential round trips the concurrent create actually paid for: extra time over the
    # no-latency run divided by the added latency per request.
    effective_chain = (c_create - plain_create) / lat
    serial_effective = (s_create - plain_create) / lat
    failed = sorted({f.split("delete failed:")[-1].strip() for r in plain + conc + serial for f in r["delete_failed"]})
    ops_5xx = sorted({op for r in conc + serial for op in r["delete_5xx_ops"]})
    nproc = os.cpu_count()
    L = []
    L.append(f"{SECTION_PREFIX}, {date})")
    L.append("")
    L.append(f"Release binary (`{os.path.relpath(BIN, ROOT) if BIN.startswith(str(ROOT)) else BIN}`), {nproc} cores, "
             f"moto server (`python -m moto.server`, MOTO_IAM_LOAD_MANAGED_POLICIES=true) "
             f"on localhost, {RUNS} runs of each kind after one untimed warm-up cycle; every run starts from a moto reset "
             f"and an empty directory. Wall time is spawn to exit of the `secure-api` process; peak RSS is its "
             f"`ru_maxrss` (os.wait4). Medians, with min–max.")
    L.append("")
    L.append("### Straight to the emulator (no added latency)")
    L.append("")
    L.append("| command | median s | min–max s | peak RSS median MiB | min–max MiB |")
    L.append("|---|---:|---:|---:|---:|")
    for key, label in (("create", "`create`"), ("delete", "`delete`")):
        L.append(f"| {label} | {med(plain, key + '_s'):.2f} | {rng(plain, key + '_s')} | "
                 f"{mib(med(plain, key + '_rss')):.1f} | "
                 f"{mib(min(r[key + '_rss'] for r in plain)):.1f}–{mib(max(r[key + '_rss'] for r in plain)):.1f} |")
    L.append("")
    L.append(f"### {LATENCY_MS:g} ms added to every AWS request (tools/faultproxy.py in front of moto)")
    L.append("")
    L.append("| run | create median s | min–max s | requests per create | delete median s | min–max s | requests per delete |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for rows, label in ((conc, f"concurrent (default, `--max-concurrency {CONCURRENCY}`)"),
                        (serial, "serial (`--max-concurrency 1`)")):
        L.append(f"| {label} | {med(rows, 'create_s'):.2f} | {rng(rows, 'create_s')} | {med(rows, 'create_calls'):.0f} | "
                 f"{med(rows, 'delete_s'):.2f} | {rng(rows, 'delete_s')} | {med(rows, 'delete_calls'):.0f} |")
    L.append("")
    L.append("| ratio | value |")
    L.append("|---|---:|")
    L.append(f"| concurrent create / serial create | {c_create / s_create:.2f} (serial is {s_create / c_create:.2f}× slower) |")
    L.append(f"| concurrent create / critical-path bound ({chain} resources × {LATENCY_MS:g} ms = {bound:.2f} s) | "
             f"{c_create / bound:.2f} |")
    L.append(f"| concurrent create / bound incl. the STS GetCallerIdentity call ({chain + 1} × {LATENCY_MS:g} ms = "
             f"{bound_sts:.2f} s) | {c_create / bound_sts:.2f} |")
    L.append(f"| serial create / (requests × {LATENCY_MS:g} ms = {calls_s * lat:.2f} s) | {s_create / (calls_s * lat):.2f} |")
    L.append("")
    L.append(f"Longest dependency chain from `secure-api plan`: {chain} resources. Every run first calls STS "
             f"GetCallerIdentity (the account for ARNs), which is on the critical path too. "
             f"Requests per create include that call. "
             f"(Latency-run create − no-latency create) / {LATENCY_MS:g} ms = {effective_chain:.1f} sequential round trips "
             f"for the concurrent create and {serial_effective:.1f} for the serial one "
             f"({calls_c:.0f} and {calls_s:.0f} requests).")
    if failed or ops_5xx:
        L.append("")
        L.append("Emulator gaps seen during delete (the resource is still verified gone, so delete exits 0): "
                 + "; ".join(failed)
                 + (f". 5xx answers per delete (median, retried by the standard retry mode): "
                    f"{med(conc + serial, 'delete_5xx'):.0f}." if ops_5xx else "."))
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
        one_cycle(moto, proxy.url, proxy=proxy)  # warm-up through the proxy
        conc, serial = [], []
        for i in range(RUNS):  # alternate so drift hits both alike
            conc.append(one_cycle(moto, proxy.url, ["--max-concurrency", str(CONCURRENCY)], proxy))
            serial.append(one_cycle(moto, proxy.url, ["--max-concurrency", "1"], proxy))
            print(f"  {LATENCY_MS:g} ms {i + 1}/{RUNS}: concurrent create {conc[-1]['create_s']:.2f} s "
                  f"({conc[-1]['create_calls']} req), serial create {serial[-1]['create_s']:.2f} s "
                  f"({serial[-1]['create_calls']} req)", file=sys.stderr)
    except BenchError as e:
        print(f"bench_stack: FAILED: {e}", file=sys.stderr)
        if moto:
            print("--- moto log (tail) ---\n" + moto.log_tail(), file=sys.stderr)
        return 1
    finally:
        if proxy:
            proxy.stop()
        if moto:
            moto.stop()
    text = report(plain, conc, serial, chain, date)
    print(text)
    print(f"bench_stack: total {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.write:
        write_section(text)
        print("bench_stack: wrote the section into BENCHMARKS.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
