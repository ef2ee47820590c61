"""Issue 10 hardening (files, numbers, raw requests, terminal output): each test is the issue's
repro and fails on the code as it was before the fix."""
import http.server
import json
import os
import threading

import pytest

from conftest import Inventory, clean_env, run, run_in, stack_env

REQUEST = "GET /?Action=GetCallerIdentity&Version=2011-06-15 HTTP/1.1\nHost:sts.amazonaws.com\nX-Amz-Date:20150830T123600Z\n\n"
SIGN_ENV = dict(AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                AWS_REGION="us-east-1")
TRAP = (132, -4, 134, -6)  # SIGILL / SIGABRT, as a shell and as subprocess report them


def one_line_error(r, *fragments, code=None):
    assert r.returncode not in TRAP, r.stderr
    assert r.returncode != 0, r.stdout
    if code is not None:
        assert r.returncode == code, (r.returncode, r.stderr)
    lines = [line for line in r.stderr.strip().splitlines() if line.strip()]
    assert lines and "error" in lines[0].lower(), r.stderr
    if code != 64:  # ArgumentParser adds a usage line after a validation error
        assert len(lines) == 1, r.stderr
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


class Recorder:
    """A tiny local HTTP server that records requests and answers with a fixed response."""

    def __init__(self, status=200, body=b"{}", headers=None):
        self.requests = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                recorder.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                          "body": self.rfile.read(length)})
                self.send_response(status)
                for k, v in (headers or {"Content-Type": "application/json"}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_any

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    servers = []

    def start(**kw):
        servers.append(Recorder(**kw))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


# ---- item 3: the lock file and a symlinked state.json ----

def test_lock_file_symlink_is_refused_and_its_target_untouched(binary, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / "state.json.lock").symlink_to(victim)
    r = run_in(binary, tmp_path, "create", env=clean_env(HOME=str(tmp_path)))
    one_line_error(r, "lock file", "symbolic link")
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("kind", ["fifo", "hardlink"])
def test_lock_path_that_is_not_a_plain_file_of_its_own_is_refused(binary, tmp_path, kind):
    lock = tmp_path / "state.json.lock"
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    if kind == "fifo":
        os.mkfifo(lock)
    else:
        os.link(victim, lock)
    r = run_in(binary, tmp_path, "create", env=clean_env(HOME=str(tmp_path)), timeout=30)
    one_line_error(r, "lock file", "not a regular file")
    assert victim.read_text() == "precious\n"


def test_symlinked_state_is_written_through_and_stays_a_link(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    (tmp_path / "keep").mkdir()
    real = tmp_path / "keep" / "state.json"
    r = run_in(binary, tmp_path, "create", "--auth", "iam", "--state", str(real), env=env)
    assert r.returncode == 0, r.stderr
    # Item 14: Lambda makes the log group on first call; create must not claim it made it.
    log_line = next(line for line in r.stdout.splitlines() if "Lambda log group" in line)
    assert "expected (made by Lambda on first call)" in log_line and "+" not in log_line, log_line

    # Drop the last journal entry so the next run has something to write, then link to the file.
    state = json.loads(real.read_text())
    state["resources"] = [e for e in state["resources"] if e["key"] != "lambda_log_group"]
    real.write_text(json.dumps(state))
    os.chmod(real, 0o600)
    link = tmp_path / "state.json"
    link.symlink_to(os.path.relpath(real, tmp_path))
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == os.path.relpath(real, tmp_path)
    assert "lambda_log_group" in {e["key"] for e in json.loads(real.read_text())["resources"]}
    # No temp file left anywhere; one lock, beside the real file, for both ways of reaching it.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep", "state.json"]
    assert sorted(p.name for p in (tmp_path / "keep").iterdir()) == ["state.json", "state.json.lock"]


def test_dangling_state_symlink_is_refused_before_anything_is_created(binary, fresh_moto, tmp_path):
    link = tmp_path / "state.json"
    link.symlink_to(tmp_path / "nowhere" / "state.json")
    r = run_in(binary, tmp_path, "create", "--auth", "iam", env=stack_env(fresh_moto.url))
    assert r.returncode == 1, r.stderr
    assert "symbolic link" in r.stderr and "refusing to replace the link" in r.stderr, r.stderr
    assert link.is_symlink()
    counts = Inventory(fresh_moto).counts()
    assert counts["apis"] == 0 and counts["roles"] == 0 and counts["functions"] == 0, counts


# ---- item 4 (and 14's AWS_MAX_ATTEMPTS): numbers from outside never trap ----

@pytest.mark.parametrize("value", ["inf", "nan", "1e30", "-inf", "0", "abc"])
def test_http_timeout_setting_is_range_checked(binary, tmp_path, value):
    env = clean_env(HOME=str(tmp_path), SECURE_API_HTTP_TIMEOUT_SECONDS=value, AWS_ENDPOINT_URL="http://127.0.0.1:9",
                    **SIGN_ENV)
    one_line_error(run(binary, "doctor", env=env, timeout=30), "SECURE_API_HTTP_TIMEOUT_SECONDS", code=1)


@pytest.mark.parametrize("value", ["abc", "0", "1.5", ""])
def test_max_attempts_setting_is_refused_in_one_line(binary, tmp_path, value):
    env = clean_env(HOME=str(tmp_path), AWS_MAX_ATTEMPTS=value, AWS_ENDPOINT_URL="http://127.0.0.1:9", **SIGN_ENV)
    one_line_error(run(binary, "doctor", env=env, timeout=30), "AWS_MAX_ATTEMPTS", code=1)


@pytest.mark.parametrize("value", ["inf", "nan", "1e30", "0"])
def test_login_timeout_is_range_checked(binary, tmp_path, value):
    r = run(binary, "login", "--no-browser", "--timeout", value, "--authorize-url", "http://127.0.0.1:9/oauth2/authorize",
            "--token-url", "http://127.0.0.1:9/oauth2/token", "--client-id", "c", "--redirect-uri", "http://127.0.0.1:0/cb",
            env=clean_env(HOME=str(tmp_path)), timeout=30)
    one_line_error(r, "--timeout", code=64)


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e9"])
def test_jwt_leeway_is_range_checked(binary, tmp_path, value):
    r = run(binary, "jwt", "verify", "x.y.z", "--issuer", "http://127.0.0.1:9", f"--leeway={value}",
            env=clean_env(HOME=str(tmp_path)), timeout=30)
    one_line_error(r, "--leeway", code=64)


# ---- item 5: /dev/null and pipes as shared files ----

def test_dev_null_config_and_credentials_files_read_as_empty(binary, tmp_path):
    env = clean_env(HOME=str(tmp_path), AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", **SIGN_ENV)
    r = run(binary, "sign", "--service", "sts", "--time", "2015-08-30T12:36:00Z", "--show", "signature", input=REQUEST, env=env)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip()) == 64


def test_credentials_from_a_pipe(binary, tmp_path):
    fifo = tmp_path / "credentials"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "w") as f:
            f.write("[default]\naws_access_key_id = AKIDFROMPIPE\naws_secret_access_key = s3cret\n")

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    env = clean_env(HOME=str(tmp_path), AWS_REGION="us-east-1", AWS_SHARED_CREDENTIALS_FILE=str(fifo),
                    AWS_CONFIG_FILE="/dev/null")
    r = run(binary, "sign", "--service", "sts", "--time", "2015-08-30T12:36:00Z", input=REQUEST, env=env, timeout=30)
    writer.join(5)
    assert r.returncode == 0, r.stderr
    assert "Credential=AKIDFROMPIPE/20150830/us-east-1/sts/aws4_request" in r.stdout


def test_unreadable_credentials_file_is_named_as_such(binary, tmp_path):
    creds = tmp_path / "credentials"
    creds.mkdir()
    env = clean_env(HOME=str(tmp_path), AWS_REGION="us-east-1", AWS_SHARED_CREDENTIALS_FILE=str(creds), AWS_CONFIG_FILE="/dev/null")
    one_line_error(run(binary, "sign", "--service", "sts", input=REQUEST, env=env), "cannot read AWS credentials file", str(creds))


# ---- item 11: raw requests ----

def sign(binary, text, *extra, env=None):
    return run(binary, "sign", "--service", "sts", "--time", "2015-08-30T12:36:00Z", *extra,
               input=text.encode(), env=env or clean_env(**SIGN_ENV))


def test_crlf_request_file_signs_like_the_lf_one(binary):
    lf = sign(binary, REQUEST, "--show", "signature")
    crlf = sign(binary, REQUEST.replace("\n", "\r\n"), "--show", "signature")
    assert lf.returncode == 0 and crlf.returncode == 0, crlf.stderr
    assert crlf.stdout == lf.stdout


def test_stray_cr_in_a_header_line_is_refused(binary):
    smuggle = REQUEST.replace("X-Amz-Date:", "X-Note: a\rX-Smuggled: b\nX-Amz-Date:")
    r = sign(binary, smuggle)
    assert r.returncode == 1 and r.stdout == b"", r.stdout
    assert b"CR" in r.stderr and b"X-Smuggled" in r.stderr, r.stderr


def test_content_length_with_transfer_encoding_is_refused(binary):
    both = "POST / HTTP/1.1\nHost:sts.amazonaws.com\nContent-Length:4\nTransfer-Encoding:chunked\n\nbody"
    r = sign(binary, both)
    assert r.returncode == 1 and b"Content-Length and Transfer-Encoding" in r.stderr, r.stderr


def test_request_line_method_must_be_a_token(binary):
    r = sign(binary, "G(E)T / HTTP/1.1\nHost:sts.amazonaws.com\n\n")
    assert r.returncode == 1 and b"malformed request line" in r.stderr, r.stderr


@pytest.mark.parametrize("args, flag", [
    (["--method", "GET", "--path", "v2/apis"], "--path"),
    (["--method", "GET", "--path", "@evil.example/v2/apis"], "--path"),
    (["--method", "GET", "--path", "/v2/apis\r\nX-Injected: 1"], "--path"),
    (["--method", "GET", "--path", "/v2/apis\nX"], "--path"),
    (["--method", "GE T", "--path", "/v2/apis"], "--method"),
    (["--method", "GET\r\nX: y", "--path", "/v2/apis"], "--method"),
])
def test_call_path_and_method_are_checked(binary, tmp_path, recorder, args, flag):
    server = recorder()
    env = clean_env(HOME=str(tmp_path), AWS_ENDPOINT_URL=server.url, **SIGN_ENV)
    r = run(binary, "call", "apigatewayv2", "GetApis", *args, env=env, timeout=30)
    one_line_error(r, flag, code=64)
    assert server.requests == []


def test_call_with_a_good_path_reaches_the_endpoint(binary, tmp_path, recorder):
    server = recorder(body=b'{"items":[]}')
    env = clean_env(HOME=str(tmp_path), AWS_ENDPOINT_URL=server.url, **SIGN_ENV)
    r = run(binary, "call", "apigatewayv2", "GetApis", "--method", "get", "--path", "/v2/apis", env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    assert [(q["method"], q["path"]) for q in server.requests] == [("GET", "/v2/apis")]


def test_sign_send_honours_endpoint_url(binary, tmp_path, recorder):
    server = recorder(body=b"<ok/>", headers={"Content-Type": "text/xml"})
    env = clean_env(HOME=str(tmp_path), **SIGN_ENV)
    r = sign(binary, REQUEST, "--send", "--endpoint-url", server.url, env=env)
    assert r.returncode == 0, r.stderr
    assert len(server.requests) == 1
    got = server.requests[0]
    assert got["path"] == "/?Action=GetCallerIdentity&Version=2011-06-15"
    assert got["headers"]["Host"] == "sts.amazonaws.com"  # the signed Host goes as signed
    assert "Credential=AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request" in got["headers"]["Authorization"]
    # ... and AWS_ENDPOINT_URL too, as every other command.
    env["AWS_ENDPOINT_URL"] = server.url
    assert sign(binary, REQUEST, "--send", env=env).returncode == 0
    assert len(server.requests) == 2


# ---- item 13: text from outside is printed with control characters escaped ----

def test_aws_error_message_control_characters_are_escaped(binary, tmp_path, recorder):
    evil = {"__type": "com.amazonaws#InvalidParameterException",
            "message": "bad \u001b]0;owned\u0007 \u001b[2J\r\u202eoverwritten \u009b31m"}
    server = recorder(status=400, body=json.dumps(evil).encode())
    env = clean_env(HOME=str(tmp_path), AWS_ENDPOINT_URL=server.url, **SIGN_ENV)
    r = subprocess_bytes(binary, ["call", "cognito-idp", "ListUserPools", '{"MaxResults":1}'], env)
    assert r.returncode == 1
    err = r.stderr.decode()
    for raw in ("\u001b", "\u0007", "\r", "\u202e", "\u009b"):
        assert raw not in err, repr(err)
    assert "\\x1b]0;owned\\x07" in err and "\\r" in err and "\\u{202e}" in err and "\\x9b31m" in err, err
    assert len(err.strip().splitlines()) == 1


def test_kid_from_a_token_is_escaped(binary, tmp_path, recorder):
    server = recorder(body=b'{"keys":[]}')
    import base64

    def b64(o):
        return base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()

    token = b64({"alg": "RS256", "kid": "k\u001b[31mred"}) + "." + b64({"iss": server.url}) + ".c2ln"
    r = subprocess_bytes(binary, ["jwt", "verify", token, "--issuer", server.url, "--jwks-url", server.url + "/jwks", "--client-id", "c"],
                         clean_env(HOME=str(tmp_path)))
    assert r.returncode == 1
    assert b"\x1b" not in r.stderr and b"\x1b" not in r.stdout
    assert b"\\x1b[31mred" in r.stderr, r.stderr


def subprocess_bytes(binary, args, env):
    import subprocess
    return subprocess.run([binary, *args], env=env, capture_output=True, timeout=60)


# ---- item 14: --max-concurrency shows its range ----

def test_max_concurrency_range_in_help(binary):
    r = run(binary, "create", "--help", env=clean_env())
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert "--max-concurrency" in text and "(1-16)" in text, r.stdout


# ---- item 12: the token cache serves only the same credentials, and stays 0600 ----

@pytest.fixture
def cognito_stack(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url, XDG_CACHE_HOME=str(tmp_path / "cache"))
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stderr
    return tmp_path, env


def test_cached_token_needs_the_same_password(binary, cognito_stack):
    d, env = cognito_stack
    first = run_in(binary, d, "token", "--password", "-q", env=env)
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    cache = d / "cache" / "secure-api" / "tokens.json"
    text = cache.read_text()
    assert token in text and env["PASSWORD"] not in text and "pbkdf2-sha256$" in text

    wrong = run_in(binary, d, "token", "--password", "-q", env={**env, "PASSWORD": "Wr0ng-Password!"})
    assert wrong.returncode != 0 and token not in wrong.stdout, wrong.stdout
    missing = run_in(binary, d, "token", "--password", "-q", env={k: v for k, v in env.items() if k != "PASSWORD"})
    assert missing.returncode == 1 and token not in missing.stdout and "PASSWORD is not set" in missing.stderr

    # The right password still gets the cached token (no new InitiateAuth needed).
    again = run_in(binary, d, "token", "--password", "-q", env=env)
    assert again.returncode == 0 and again.stdout.strip() == token


def test_cache_file_with_a_wide_mode_is_narrowed(binary, cognito_stack):
    d, env = cognito_stack
    assert run_in(binary, d, "token", "--password", "-q", env=env).returncode == 0
    cache = d / "cache" / "secure-api" / "tokens.json"
    os.chmod(cache, 0o644)
    os.chmod(cache.parent, 0o755)
    r = run_in(binary, d, "token", "--password", "-q", env=env)  # a cache hit: nothing is written
    assert r.returncode == 0, r.stderr
    assert oct(os.stat(cache).st_mode & 0o777) == oct(0o600)
    assert oct(os.stat(cache.parent).st_mode & 0o777) == oct(0o700)


def test_a_lock_path_holding_something_else_than_a_pid_is_never_overwritten(binary, tmp_path):
    """`state.json.lock` that is not our lock (a state file named so, someone's notes) is left as
    it is: the run refuses before any call, naming it."""
    precious = b'{"version": 2, "resources": ["someone else\'s stack"]}\n'
    (tmp_path / "state.json.lock").write_bytes(precious)
    env = clean_env(AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b", AWS_REGION="us-east-1", AWS_ENDPOINT_URL="http://127.0.0.1:9")
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 1 and "state.json.lock exists and is not a secure-api lock" in r.stderr, r.stderr
    assert (tmp_path / "state.json.lock").read_bytes() == precious
