"""The local AWS emulator on a free loopback port, for tests and benchmarks: ours (`python -m
emulator`: moto's server with our extensions) by default, plain moto's server with plain=True.
Its output goes to a temporary file so a failure can show the log's tail."""
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # where the emulator package lives


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    def __init__(self, extra_env=None, plain=False):
        self.plain = plain
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env.update(extra_env or {})
        module = "moto.server" if plain else "emulator"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", module, "-H", "127.0.0.1", "-p", str(self.port)],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1)
                return
            except Exception:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{module} exited at start (is moto[server] installed in {sys.executable}?):\n"
                                       + self.log_tail())
                time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"{module} did not start in 30 s:\n" + tail)

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

    def boto(self, service, region="us-east-1", key="testing", secret="testing"):
        import boto3
        return boto3.client(service, endpoint_url=self.url, region_name=region,
                            aws_access_key_id=key, aws_secret_access_key=secret)
