#!/usr/bin/env python3
"""A small HTTP proxy for tests and benchmarks, placed between secure-api and the emulator.

It forwards every request to an upstream and can, per test:
  * add latency to every request (benchmarks: the AWS round-trip stand-in),
  * count requests and record each one (method, path, operation, status, and when the
    upstream was asked) for assertions and benchmark figures,
  * SIGKILL a client process at request number N, either before forwarding it
    ("between two calls") or after the upstream answered but before the answer is
    returned ("AWS created it, the state write never happened"); armed before the client
    starts (arm_kill), so no request can outrun it,
  * inject faults chosen by a callable (throttling, 5xx, resets, broken bodies).

Run standalone:  faultproxy.py --upstream http://127.0.0.1:5000 --port 0 --latency-ms 50
"""
import argparse
import http.client
import json
import os
import random
import signal
import socket
import sys
import threading
import time
from collections import namedtuple
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
              "transfer-encoding", "upgrade"}

# One proxied request: status is the upstream's HTTP status, the fault kind injected, or "killed";
# start and end bound the upstream's own time (None when the request never reached it).
Call = namedtuple("Call", "index method path op status start end")

# How long the request that is to kill waits for the client's pid (kill_target) to be known.
KILL_TARGET_WAIT_S = 30


def operation_of(method, path, headers):
    """A readable operation name: X-Amz-Target, Query Action, or METHOD path."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.split(".")[-1]
    return f"{method} {path.split('?')[0]}"


def protocol_of(path, headers, body):
    if headers.get("X-Amz-Target"):
        return "json"
    if b"Action=" in body:
        return "query"
    return "rest"


def error_answer(kind, protocol):
    """A fault as the service itself would phrase it: (status, headers, body)."""
    if kind == "throttle":
        if protocol == "json":
            return 400, [("Content-Type", "application/x-amz-json-1.1")], \
                b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
        if protocol == "query":
            return 400, [("Content-Type", "text/xml")], (b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                                                       b"<Message>Rate exceeded</Message></Error><RequestId>f1</RequestId></ErrorResponse>")
        return 429, [("Content-Type", "application/json"), ("x-amzn-ErrorType", "TooManyRequestsException")], \
            b'{"message":"Too Many Requests"}'
    if kind == "too_many":
        if protocol == "json":
            return 400, [("Content-Type", "application/x-amz-json-1.1")], \
                b'{"__type":"TooManyRequestsException","message":"Too many requests"}'
        return error_answer("throttle", protocol)
    if kind == "500":
        return 500, [("Content-Type", "application/json")], b'{"message":"Internal server error"}'
    if kind == "503":
        return 503, [("Content-Type", "application/json")], b'{"message":"Service unavailable"}'
    if kind == "html502":
        return 502, [("Content-Type", "text/html")], \
            b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
    raise ValueError(kind)


# Faults decided before the request reaches the emulator, and those applied to its answer.
BEFORE = {"throttle", "too_many", "500", "503", "html502", "reset_before"}
AFTER = {"reset_after", "truncate", "garbage", "missing_fields", "wrong_types"}


def random_faults(seed, rate, kinds=("throttle", "too_many", "500", "503", "html502", "reset_before", "reset_after", "truncate")):
    """A fault plan: each request, with probability `rate`, gets one of `kinds` (fixed seed)."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def plan(index, method, path, headers, body):
        with lock:
            if rng.random() >= rate:
                return None
            return rng.choice(kinds)
    return plan


def iam_propagation(seconds):
    """CreateFunction is refused as Lambda refuses a role IAM has not propagated yet, until
    `seconds` after CreateRole."""
    created = {}

    def plan(index, method, path, headers, body):
        if b"Action=CreateRole" in body:
            created.setdefault("at", time.time())
        if method == "POST" and path.rstrip("/") == "/2015-03-31/functions" and time.time() - created.get("at", time.time()) < seconds:
            return {"kind": "custom", "status": 400,
                    "headers": [("Content-Type", "application/json"), ("x-amzn-ErrorType", "InvalidParameterValueException")],
                    "body": b'{"Type":"User","message":"The role defined for the function cannot be assumed by Lambda."}'}
        return None
    return plan


def broken_operation(operation, kind):
    """Every answer to one operation (e.g. CreateUserPool, CreateApi = POST /v2/apis) is broken."""
    def plan(index, method, path, headers, body):
        return kind if operation_of_request(method, path, headers, body) == operation else None
    return plan


def operation_of_request(method, path, headers, body):
    op = operation_of(method, path, headers)
    if b"Action=" in body:
        op = body.decode(errors="replace").split("Action=")[1].split("&")[0]
    return op


def wrong_types(value):
    if isinstance(value, dict):
        return {k: wrong_types(v) for k, v in value.items()}
    if isinstance(value, list):
        return 7
    return 7


class FaultProxy:
    def __init__(self, upstream, latency_ms=0, port=0):
        self.upstream = urlsplit(upstream)
        self.latency = latency_ms / 1000.0
        self.lock = threading.Lock()
        self.count = 0
        self.log = []            # Call records, in the order the requests finished
        self.kill_at = None      # (index, "before" | "after"), set by arm_kill
        self.kill_pid = None     # the client to kill, set by kill_target
        self.kill_pid_known = threading.Event()
        self.kills = []          # (index, "before" | "after", pid) of every SIGKILL sent
        self.faults_injected = 0
        self.fault = None        # callable(index, method, path, headers, body) -> None | action
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once: no delayed-ACK stall

            def log_message(self, *args):
                pass

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy.lock:
                    proxy.count += 1
                    index = proxy.count
                    kill = proxy.kill_at
                op = operation_of_request(self.command, self.path, self.headers, body)
                if proxy.latency:
                    time.sleep(proxy.latency)
                # Armed at a request number, or at the first request of an operation ("CreateStage").
                kill = kill[1] if kill and kill[0] in (index, op) else None
                if kill == "before":
                    proxy.kill(index, kill)
                    proxy.record(Call(index, self.command, self.path, op, "killed", None, None))
                    self.close_connection = True
                    return
                action = proxy.fault(index, self.command, self.path, dict(self.headers), body) if proxy.fault else None
                if isinstance(action, str):
                    action = {"kind": action}
                if action is not None:
                    with proxy.lock:
                        proxy.faults_injected += 1
                protocol = protocol_of(self.path, self.headers, body)
                if action is not None and (action["kind"] in BEFORE or action["kind"] == "custom"):
                    return self.apply(action, index, op, protocol)
                start = time.perf_counter()
                status, headers, data = proxy.forward(self.command, self.path, self.headers, body)
                end = time.perf_counter()
                if kill == "after":
                    proxy.kill(index, kill)
                    proxy.record(Call(index, self.command, self.path, op, "killed", start, end))
                    self.close_connection = True  # no answer: the client is gone
                    return
                if action is not None:
                    return self.apply(action, index, op, protocol, (status, headers, data), (start, end))
                proxy.record(Call(index, self.command, self.path, op, status, start, end))
                self.respond(status, headers, data)

            def apply(self, action, index, op, protocol, upstream=None, timing=(None, None)):
                kind = action["kind"]
                proxy.record(Call(index, self.command, self.path, op, kind, *timing))
                if kind in ("reset_before", "reset_after"):
                    # Abortive close: RST instead of FIN, no answer at all.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.close_connection = True
                    return
                if kind == "custom":
                    return self.respond(action["status"], action.get("headers", []), action.get("body", b""))
                if kind in BEFORE:
                    return self.respond(*error_answer(kind, protocol))
                status, headers, data = upstream
                if kind == "truncate":
                    return self.respond(status, headers, data[: max(1, len(data) // 2)])
                if kind == "garbage":
                    return self.respond(status, [("Content-Type", "text/plain")], b"this is not what you asked for")
                if kind == "missing_fields":
                    empty = b"{}" if protocol != "query" else f"<{op}Response><{op}Result></{op}Result></{op}Response>".encode()
                    return self.respond(status, headers, empty)
                if kind == "wrong_types":
                    if protocol == "query":
                        return self.respond(status, headers, f"<{op}Response><{op}Result>7</{op}Result></{op}Response>".encode())
                    try:
                        return self.respond(status, headers, json.dumps(wrong_types(json.loads(data or b"{}"))).encode())
                    except ValueError:
                        return self.respond(status, headers, b"7")
                raise ValueError(kind)

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

        class Server(ThreadingHTTPServer):
            # socketserver's default backlog is 5: more connections at once (a delete's
            # concurrent ownership reads open 7) lose their SYN and wait the kernel's 1 s retry.
            request_queue_size = 128

            def handle_error(self, request, client_address):
                # A client killed on purpose mid-request is expected, not an error to print.
                if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def record(self, call):
        with self.lock:
            self.log.append(call)

    def arm_kill(self, at, when="after"):
        """SIGKILL the client at request number AT (or at the first request of operation AT, a
        string as the log names it): "before" forwarding it or "after" the upstream answered. Arm
        it before starting the client, then name the client with kill_target(pid): request AT
        waits for that, so neither the first requests nor AT can outrun the arming."""
        if when not in ("before", "after"):
            raise ValueError(when)
        with self.lock:
            self.kill_at = (at, when)
            self.kill_pid = None
            self.kill_pid_known.clear()

    def kill_target(self, pid):
        self.kill_pid = pid
        self.kill_pid_known.set()

    def disarm_kill(self):
        with self.lock:
            self.kill_at = None

    def kill(self, index, when):
        if not self.kill_pid_known.wait(KILL_TARGET_WAIT_S):
            raise RuntimeError(f"kill armed at request {index} but no client pid was given (kill_target)")
        os.kill(self.kill_pid, signal.SIGKILL)
        with self.lock:
            self.kills.append((index, when, self.kill_pid))

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
            self.kills = []
            self.fault = None
            self.faults_injected = 0


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
