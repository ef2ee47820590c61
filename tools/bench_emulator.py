"""`secure-api delete` wall time on plain moto 5.2.1 vs our emulator (python -m emulator): plain
moto answers DeleteResourceServer with a 500, which the tool retries with backoff before it
verifies the server went with its pool; ours answers it. Prints the median of N runs each.
Usage: tools/bench_emulator.py [--runs N]   (SECURE_API_BIN picks the binary; default the debug build)"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from moto_server import ROOT, MotoServer

BIN = os.environ.get("SECURE_API_BIN", str(ROOT / ".build" / "debug" / "secure-api"))


def env_for(url):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SECURE_API_"))}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
               AWS_ENDPOINT_URL=url, PASSWORD="Corr3ct-Horse!", HOME="/nonexistent-home", NO_COLOR="1")
    return env


def delete_times(server, runs):
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as d:
            env = env_for(server.url)
            subprocess.run([BIN, "create"], cwd=d, env=env, check=True, capture_output=True)
            started = time.monotonic()
            r = subprocess.run([BIN, "delete"], cwd=d, env=env, capture_output=True, text=True)
            times.append(time.monotonic() - started)
            if r.returncode != 0 or "verified nothing remains" not in r.stdout:
                sys.exit(f"delete failed:\n{r.stdout}{r.stderr}")
    return times


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for label, plain in (("plain moto 5.2.1", True), ("our emulator", False)):
        server = MotoServer(plain=plain)
        try:
            t = delete_times(server, args.runs)
        finally:
            server.stop()
        print(f"{label:18} delete median {statistics.median(t):.2f} s  (runs: {', '.join(f'{x:.2f}' for x in t)})")


if __name__ == "__main__":
    main()
