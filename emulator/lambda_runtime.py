"""Lambda without Docker: a Python function's zip from moto's lambda backend, unpacked once per
code digest, run by this Python in a subprocess with the function's handler, environment and
timeout. What it prints goes to CloudWatch Logs in moto's logs backend under `/aws/lambda/NAME`
(the group made on the first invocation, as on AWS), framed by START/END/REPORT lines.

Also answers the Lambda Invoke API (POST /2015-03-31/functions/{name}/invocations), which moto
can only serve with Docker."""
import atexit
import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from moto.awslambda.models import lambda_backends
from moto.logs.models import logs_backends
from werkzeug.wrappers import Response

from .core import AWSError, Registry, RestJSON

PROTOCOL = RestJSON(lambda_style=True)
CODE_ROOT = tempfile.mkdtemp(prefix="emulator-lambda-")
atexit.register(shutil.rmtree, CODE_ROOT, ignore_errors=True)
_lock = threading.Lock()
_warned = set()  # runtimes already reported as differing from the local Python

# Runs in the child: imports the handler from the unpacked code, calls it with the event read
# from stdin and a context object, and writes {"result": ...} or {"error": ...} to the file named
# by argv[1]; stdout and stderr are the function's log output.
BOOTSTRAP = r'''
import json, os, sys, time, traceback
result_path, handler = sys.argv[1], sys.argv[2]
deadline = float(sys.argv[3])
sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
    invoked_function_arn = os.environ["_EMULATOR_FUNCTION_ARN"]
    memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
    aws_request_id = os.environ["_EMULATOR_REQUEST_ID"]
    log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
    log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
    identity = None
    client_context = None
    def get_remaining_time_in_millis(self):
        return max(0, int((deadline - time.time()) * 1000))
def write(value):
    with open(result_path, "w") as f:
        json.dump(value, f)
try:
    module_name, _, function_name = handler.rpartition(".")
    module = __import__(module_name.replace("/", "."), fromlist=[function_name])
    fn = getattr(module, function_name)
except Exception as e:
    write({"error": {"errorMessage": f"Unable to import module '{handler}': {e}", "errorType": "Runtime.ImportModuleError",
                     "stackTrace": []}})
    print(f"[ERROR] Runtime.ImportModuleError: Unable to import module '{handler}': {e}", file=sys.stderr)
    sys.exit(0)
event = json.loads(sys.stdin.read() or "null")
try:
    value = fn(event, Context())
    json.dumps(value)
    write({"result": value})
except Exception as e:
    tb = traceback.format_exception(e)
    print(f"[ERROR] {type(e).__name__}: {e}\n" + "".join(tb), file=sys.stderr, end="")
    write({"error": {"errorMessage": str(e), "errorType": type(e).__name__,
                     "stackTrace": [line for line in traceback.format_tb(e.__traceback__)]}})
'''


@dataclass
class Outcome:
    payload: bytes  # the function's JSON result, or Lambda's error document
    error: bool  # an unhandled error (X-Amz-Function-Error: Unhandled)
    log: str  # the log lines of this invocation


def find_function(name_or_arn: str, account: str | None = None, region: str | None = None):
    """A function by name (in the given account and region) or by ARN (in the ARN's)."""
    parts = name_or_arn.split(":")
    if name_or_arn.startswith("arn:") and len(parts) >= 7:
        account, region, name_or_arn = parts[4], parts[3], parts[6]
    return lambda_backends[account][region].get_function(name_or_arn)


def code_dir(fn) -> str:
    """The function's zip, unpacked once per code digest."""
    path = os.path.join(CODE_ROOT, (fn.code_digest or "empty").replace(":", "_"))
    with _lock:
        if not os.path.isdir(path):
            staging = tempfile.mkdtemp(dir=CODE_ROOT)
            with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                archive.extractall(staging)
            os.rename(staging, path)
    return path


def local_runtime() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def log_stream(fn) -> str:
    """One stream per function and code version in this process, like one execution environment."""
    key = fn.code_digest
    streams = fn.__dict__.setdefault("_emulator_streams", {})
    if key not in streams:
        streams[key] = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
    return streams[key]


def write_logs(fn, stream: str, lines: list) -> None:
    """Appends to /aws/lambda/NAME, creating the group and stream when missing (a group deleted
    by a teardown is made again by the next invocation, as on AWS)."""
    backend = logs_backends[fn.account_id][fn.region]
    group = f"/aws/lambda/{fn.function_name}"
    with _lock:
        if group not in backend.groups:
            backend.create_log_group(group, {})
        if stream not in backend.groups[group].streams:
            backend.create_log_stream(group, stream)
        at = int(time.time() * 1000)
        backend.put_log_events(group, stream, [{"timestamp": at, "message": line} for line in lines])


def invoke(fn, event: bytes) -> Outcome:
    runtime = fn.run_time or ""
    request_id = str(uuid.uuid4())
    if not runtime.startswith("python"):
        document = {"errorMessage": f"the local emulator runs Python functions only, not {runtime or 'a container image'}",
                    "errorType": "Runtime.InvalidRuntime"}
        return Outcome(json.dumps(document).encode(), True, "")
    if runtime != local_runtime() and runtime not in _warned:
        _warned.add(runtime)
        print(f"emulator: lambda runtime {runtime} is run with the local Python {local_runtime()[6:]}", file=sys.stderr, flush=True)
    root = code_dir(fn)
    stream = log_stream(fn)
    timeout = float(fn.timeout or 3)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": ":UTC",
           "LAMBDA_TASK_ROOT": root, "LAMBDA_RUNTIME_DIR": root, "_HANDLER": fn.handler or "",
           "AWS_REGION": fn.region, "AWS_DEFAULT_REGION": fn.region, "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
           "AWS_LAMBDA_FUNCTION_NAME": fn.function_name, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
           "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size), "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
           "AWS_LAMBDA_LOG_STREAM_NAME": stream, "_EMULATOR_REQUEST_ID": request_id, "_EMULATOR_FUNCTION_ARN": fn.function_arn,
           "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.update({k: str(v) for k, v in (fn.environment_vars or {}).items()})
    result_fd, result_path = tempfile.mkstemp(prefix="result-", dir=CODE_ROOT)
    os.close(result_fd)
    started = time.time()
    timed_out = False
    try:
        proc = subprocess.run([sys.executable, "-c", BOOTSTRAP, result_path, fn.handler or "", str(started + timeout)],
                              input=event, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=root, timeout=timeout)
        output = proc.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        timed_out = True
        output = (e.stdout or b"").decode("utf-8", "replace")
    elapsed_ms = (time.time() - started) * 1000
    try:
        with open(result_path) as f:
            outcome = json.load(f)
    except (OSError, ValueError):
        outcome = None
    finally:
        os.unlink(result_path)
    lines = [f"START RequestId: {request_id} Version: $LATEST"]
    lines += [line for line in output.splitlines()]
    if timed_out:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
        message = f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds"
        lines.append(message)
        outcome = {"error": {"errorMessage": message}}
    elif outcome is None:
        outcome = {"error": {"errorMessage": f"RequestId: {request_id} Error: Runtime exited without providing a reason",
                             "errorType": "Runtime.ExitError"}}
    lines.append(f"END RequestId: {request_id}")
    lines.append(f"REPORT RequestId: {request_id}\tDuration: {elapsed_ms:.2f} ms\tBilled Duration: {max(1, round(elapsed_ms))} ms\t"
                 f"Memory Size: {fn.memory_size} MB\tMax Memory Used: {fn.memory_size} MB")
    write_logs(fn, stream, lines)
    log = "\n".join(lines) + "\n"
    if "error" in outcome:
        return Outcome(json.dumps(outcome["error"]).encode(), True, log)
    return Outcome(json.dumps(outcome["result"]).encode(), False, log)


def register(reg: Registry):
    @reg.rest(PROTOCOL, "POST", r"/2015-03-31/functions/(?P<function>[^/]+)/invocations", "InvokeFunction")
    def invoke_function(call):
        qualifier = call.query_value("Qualifier")
        if qualifier not in (None, "$LATEST"):
            raise AWSError("ResourceNotFoundException", "the local emulator invokes $LATEST only", 404)
        fn = find_function(unquote(call.params["function"]), call.account, call.region)
        kind = call.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if kind == "DryRun":
            return Response(status=204)
        if kind == "Event":
            threading.Thread(target=invoke, args=(fn, call.body), daemon=True).start()
            return Response(status=202)
        if call.body:
            try:
                json.loads(call.body)
            except ValueError:
                raise AWSError("InvalidRequestContentException", "Could not parse request body into json", 400) from None
        outcome = invoke(fn, call.body)
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if outcome.error:
            headers["X-Amz-Function-Error"] = "Unhandled"
        if call.headers.get("X-Amz-Log-Type") == "Tail":
            headers["X-Amz-Log-Result"] = base64.b64encode(outcome.log.encode()[-4096:]).decode()
        return Response(outcome.payload, status=200, content_type="application/json", headers=headers)
