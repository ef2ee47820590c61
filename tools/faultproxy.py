#!/usr/bin/env python3
"""A small HTTP proxy for tests and benchmarks, placed between secure-api and the emulator.

It forwards every request to an upstream and can, per test:
  * add latency to every request (benchmarks: the AWS round-trip stand-in),
  * count requests and record (method, path, operation) for assertions,
  * SIGKILL a client process at request number N, either before forwarding it
    ("between two calls") or after the upstream answered but before the answer is
    returned ("AWS created it, the state write never happened"),
  * inject faults chosen by a callable (throttling, 5xx, resets, broken bodies).

Run standalone:  faultproxy.py --upstream http://127.0.0.1:5000 --port 0 --latency-ms 50
"""
import argparse
import http.client
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade"}


def operation_of(method, path, headers):
    """A readable operation name: X-Amz-Target, Query Action, or METHOD path."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.split(".")[-1]
    return f"{method} {path.split('?')[0]}"


class FaultProxy:
    def __init__(self, upstream, latency_ms=0, port=0):
        self.upstream = urlsplit(upstream)
        self.latency = latency_ms / 1000.0
        self.lock = threading.Lock()
        self.count = 0
        self.log = []            # (index, method, path, operation, status)
        self.kill_at = None      # (index, pid, "before" | "after")
        self.fault = None        # callable(index, method, path, headers, body) -> None | action
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy.lock:
                    proxy.count += 1
                    index = proxy.count
                    kill = proxy.kill_at
                op = operation_of(self.command, self.path, self.headers)
                if b"Action=" in body:
                    op = body.decode(errors="replace").split("Action=")[1].split("&")[0]
                if proxy.latency:
                    time.sleep(proxy.latency)
                if kill and kill[0] == index and kill[2] == "before":
                    os.kill(kill[1], signal.SIGKILL)
                    self.close_connection = True
                    return
                action = proxy.fault(index, self.command, self.path, dict(self.headers), body) if proxy.fault else None
                if action is not None and action.get("before_upstream"):
                    return self.apply(action, index, op)
                status, headers, data = proxy.forward(self.command, self.path, self.headers, body)
                if kill and kill[0] == index and kill[2] == "after":
                    os.kill(kill[1], signal.SIGKILL)
                    time.sleep(0.05)
                if action is not None:
                    return self.apply(action, index, op, (status, headers, data))
                proxy.log.append((index, self.command, self.path, op, status))
                self.respond(status, headers, data)

            def apply(self, action, index, op, upstream=None):
                kind = action["kind"]
                proxy.log.append((index, self.command, self.path, op, kind))
                if kind == "reset":
                    # Abortive close: RST instead of FIN.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.close_connection = True
                    return
                if kind == "truncate" and upstream:
                    status, headers, data = upstream
                    cut = data[: max(1, len(data) // 2)]
                    self.respond(status, headers, cut)
                    return
                self.respond(action["status"], action.get("headers", []), action.get("body", b""))

            def respond(self, status, headers, data):
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                try:
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client was killed on purpose

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_one

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def forward(self, method, path, headers, body):
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        out = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
        conn.request(method, path, body=body, headers=out)
        resp = conn.getresponse()
        data = resp.read()
        result = (resp.status, resp.getheaders(), data)
        conn.close()
        return result

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reset_counters(self):
        with self.lock:
            self.count = 0
            self.log = []
            self.kill_at = None
            self.fault = None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency-ms", type=float, default=0)
    args = ap.parse_args()
    proxy = FaultProxy(args.upstream, args.latency_ms, args.port).start()
    print(proxy.url, flush=True)
    try:
        signal.sigwait([signal.SIGINT, signal.SIGTERM])
    finally:
        proxy.stop()


if __name__ == "__main__":
    sys.exit(main())
