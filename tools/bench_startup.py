#!/usr/bin/env python3
"""Process start benchmark: `secure-api --help` and `secure-api sign`, median of many runs."""
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = os.environ.get("SECURE_API_BIN", str(ROOT / ".build/release/secure-api"))
RUNS = int(os.environ.get("BENCH_RUNS", "100"))
REQUEST = b"GET /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:  a   b  \n\n"
ENV = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
       "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "AWS_REGION": "us-east-1"}


def measure(args, stdin=None):
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run([BIN, *args], input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, check=True)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def baseline():
    times = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run(["/bin/true"], check=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    true_ms = baseline()
    print(f"binary: {BIN}, {RUNS} runs each, 2 cores")
    print(f"{'command':<40} {'median ms':>10} {'p90 ms':>8} {'x /bin/true':>12}")
    print(f"{'/bin/true (process spawn floor)':<40} {true_ms:>10.2f} {'':>8} {1.0:>12.1f}")
    for label, args, stdin in [("secure-api --help", ["--help"], None),
                               ("secure-api sign (stdin request)", ["sign", "--service", "sts", "--time",
                                                                    "2015-08-30T12:36:00Z"], REQUEST),
                               ("secure-api sign --presign", ["sign", "--service", "sts", "--presign"], REQUEST)]:
        med, p90 = measure(args, stdin)
        print(f"{label:<40} {med:>10.2f} {p90:>8.2f} {med / true_ms:>12.1f}")
    sys.exit(0)
