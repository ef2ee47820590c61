"""State in S3 (issue 16), on moto's S3 (path style on a custom endpoint; it honours
If-None-Match and If-Match on PutObject): a whole stack's life with no local state file, the
lock between two runs, a killed run's stale lock and force-unlock, a state changed behind the
tool, a store that ignores conditional writes, SIGINT releasing the lock, bootstrap, migrate.
boto3 is the independent reader of the bucket and of the stack."""
import json
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import (
    NONE,
    ONE_OF_EACH,
    PASSWORD,
    ROOT,
    Inventory,
    KillSweep,
    clean_env,
    fast_env,
    proxied_calls,
    run_in,
    run_killed,
    stack_env,
)

BUCKET = "team-state"
KEY = "dev/secure-api/state.json"
URL = f"s3://{BUCKET}/{KEY}"
LOCK_ID = re.compile(r"ID: ([0-9a-f-]{36})")


def bucket(moto):
    s3 = moto.boto("s3")
    s3.create_bucket(Bucket=BUCKET)
    return s3


def keys(s3):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def stored(s3, key=KEY):
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def no_state_files(path):
    return [str(p) for p in path.rglob("*state.json*")] == []


def test_create_converge_delete_with_s3_state_and_no_local_file(binary, fresh_moto, tmp_path):
    s3 = bucket(fresh_moto)
    env = stack_env(fresh_moto.url)
    r = run_in(binary, tmp_path, "create", "--state", URL, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"State: {URL}" in r.stdout
    assert f"warning: state bucket {BUCKET} has versioning off" in r.stderr
    assert no_state_files(tmp_path), list(tmp_path.iterdir())
    assert keys(s3) == [KEY], "the lock is released at the end of the run"
    head = s3.head_object(Bucket=BUCKET, Key=KEY)
    assert head["ServerSideEncryption"] == "AES256"
    body = stored(s3)
    assert PASSWORD.encode() not in body
    state = json.loads(body)
    inv = Inventory(fresh_moto)
    domain = state["outputs"]["user_pool_domain"]
    assert inv.counts(domain) == ONE_OF_EACH

    # Reading commands take the state from S3 too; SECURE_API_STATE is the default --state.
    show = run_in(binary, tmp_path, "state", "show", env={**env, "SECURE_API_STATE": URL})
    assert show.returncode == 0, show.stderr
    assert json.loads(show.stdout) == state
    status = run_in(binary, tmp_path, "status", "--state", URL, env=env)
    assert status.returncode == 0, status.stdout + status.stderr
    token = run_in(binary, tmp_path, "token", "--password", "-q", "--state", URL, env={**env, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert token.returncode == 0, token.stderr
    assert token.stdout.count(".") == 2  # a JWT
    verify = run_in(binary, tmp_path, "jwt", "verify", token.stdout.strip(), "--state", URL, env=env)  # issuer from the object
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # Converge: a changed setting is applied and recorded in the object.
    r = run_in(binary, tmp_path, "create", "--state", URL, "--callback-url", "https://x.example.com/cb", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    pool, client = state["outputs"]["user_pool_id"], state["outputs"]["terminal_app_client_id"]
    live = inv.cognito.describe_user_pool_client(UserPoolId=pool, ClientId=client)["UserPoolClient"]
    assert live["CallbackURLs"] == ["https://x.example.com/cb"]
    assert json.loads(stored(s3))["config"]["callback_url"] == "https://x.example.com/cb"
    plan = run_in(binary, tmp_path, "plan", "--state", URL, "--detailed-exitcode", env=env)
    assert plan.returncode == 0, plan.stdout + plan.stderr

    r = run_in(binary, tmp_path, "delete", "--state", URL, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert inv.counts(domain) == NONE
    assert keys(s3) == []
    assert no_state_files(tmp_path)


def test_two_creates_on_one_key_one_completes_the_other_is_refused_naming_the_holder(binary, fresh_moto, proxy, tmp_path):
    bucket(fresh_moto)
    proxy.latency = 0.1
    env = stack_env(proxy.url)
    runs = []
    for name in ("first", "second"):
        work = tmp_path / name
        work.mkdir()
        runs.append(subprocess.Popen([binary, "create", "--state", URL], cwd=work, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        time.sleep(0.3)
    results = [(p, *p.communicate(timeout=300)) for p in runs]
    winners = [r for r in results if r[0].returncode == 0]
    losers = [r for r in results if r[0].returncode != 0]
    assert len(winners) == 1 and len(losers) == 1, [(p.returncode, out, err) for p, out, err in results]
    winner, (_, _, err) = winners[0][0], losers[0]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"secure-api: error: state {URL} is locked by "), err
    assert f"(pid {winner.pid}, create, since " in err and LOCK_ID.search(err), err
    state = json.loads(stored(fresh_moto.boto("s3")))
    assert Inventory(fresh_moto).counts(state["outputs"]["user_pool_domain"]) == ONE_OF_EACH


def test_sigkill_leaves_the_lock_force_unlock_then_create_completes(binary, fresh_moto, proxy, tmp_path):
    s3 = bucket(fresh_moto)
    env = fast_env(proxy.url)
    # Call 10: past the lock, its check and the first journal writes, amid the stack's creates.
    run_killed(binary, proxy, tmp_path, "create", "--state", URL, env=env, at=10, when="after")
    assert f"{KEY}.lock" in keys(s3)
    held = json.loads(stored(s3, f"{KEY}.lock"))
    assert held["operation"] == "create" and held["who"].endswith("@" + socket.gethostname()) and held["pid"] > 0

    r = run_in(binary, tmp_path, "create", "--state", URL, env=env)
    assert r.returncode != 0
    assert LOCK_ID.search(r.stderr) and LOCK_ID.search(r.stderr).group(1) == held["id"], r.stderr
    assert f"force-unlock --state {URL} {held['id']}" in r.stderr

    wrong = run_in(binary, tmp_path, "force-unlock", "--state", URL, "00000000-0000-0000-0000-000000000000", env=env)
    assert wrong.returncode != 0 and f"has ID {held['id']}" in wrong.stderr, wrong.stderr
    assert f"{KEY}.lock" in keys(s3)
    r = run_in(binary, tmp_path, "force-unlock", "--state", URL, held["id"], env=env)
    assert r.returncode == 0, r.stderr
    assert keys(s3) == [KEY]

    r = run_in(binary, tmp_path, "create", "--state", URL, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Resuming" in r.stdout
    time.sleep(2)  # had the held write not landed before the lock went, it lands now, over the finished state
    state = json.loads(stored(s3))
    assert all(r["status"] == "created" for r in state["resources"]), state["resources"]
    assert Inventory(fresh_moto).counts(state["outputs"]["user_pool_domain"]) == ONE_OF_EACH
    status = run_in(binary, tmp_path, "status", "--state", URL, env=stack_env(proxy.url))
    assert status.returncode == 0, status.stdout + status.stderr
    assert keys(s3) == [KEY]
    assert no_state_files(tmp_path)



def test_a_lock_object_of_another_tool_is_named_and_force_unlock_removes_it_by_its_etag(binary, fresh_moto, tmp_path):
    s3 = bucket(fresh_moto)
    s3.put_object(Bucket=BUCKET, Key=f"{KEY}.lock", Body=b"held by some other tool\n")
    etag = s3.head_object(Bucket=BUCKET, Key=f"{KEY}.lock")["ETag"].strip('"')
    env = stack_env(fresh_moto.url)
    r = run_in(binary, tmp_path, "create", "--state", URL, env=env)
    assert r.returncode == 1 and "is not a secure-api lock" in r.stderr and f"ID: etag-{etag}" in r.stderr, r.stderr
    assert f"force-unlock --state {URL} etag-{etag}" in r.stderr
    wrong = run_in(binary, tmp_path, "force-unlock", "--state", URL, "etag-0000", env=env)
    assert wrong.returncode == 1 and f"{KEY}.lock" in keys(s3), wrong.stderr
    r = run_in(binary, tmp_path, "force-unlock", "--state", URL, f"etag-{etag}", env=env)
    assert r.returncode == 0 and "not a secure-api lock" in r.stdout, r.stdout + r.stderr
    assert keys(s3) == []
    assert run_in(binary, tmp_path, "create", "--state", URL, env=env).returncode == 0

def test_state_changed_behind_the_tool_stops_the_run_and_keeps_the_other_writers_content(binary, fresh_moto, proxy, tmp_path):
    s3 = bucket(fresh_moto)
    other = b'{"written": "by someone else"}\n'
    puts = []

    def other_writer(index, method, path, headers, body):
        # Between this run's second and third write of the state, someone else writes it.
        if method == "PUT" and path == f"/{BUCKET}/{KEY}":
            puts.append(index)
            if len(puts) == 3:
                s3.put_object(Bucket=BUCKET, Key=KEY, Body=other)
        return None

    proxy.fault = other_writer
    r = run_in(binary, tmp_path, "create", "--state", URL, env=stack_env(proxy.url))
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{URL} was changed by someone else since this run last read or wrote it: stopping without overwriting it" in r.stderr
    assert len(puts) == 3, "no write after the one refused"
    assert stored(s3) == other
    assert keys(s3) == [KEY], "the lock is released after the error"
    assert_kept_locally(tmp_path, r)


def assert_kept_locally(tmp_path, r):
    """What could not go to S3 is in a local 0600 copy, named in the error, that lists the run's resources."""
    copy = tmp_path / "secure-api-errored-state.json"
    assert "secure-api-errored-state.json" in r.stderr
    assert oct(copy.stat().st_mode & 0o777) == "0o600"
    doc = json.loads(copy.read_text())
    assert doc["resources"] and doc["stack_id"]
    assert PASSWORD not in copy.read_text()


def test_state_deleted_behind_the_tool_stops_the_run_and_keeps_its_journal_locally(binary, fresh_moto, proxy, tmp_path):
    s3 = bucket(fresh_moto)
    puts = []

    def deleter(index, method, path, headers, body):
        if method == "PUT" and path == f"/{BUCKET}/{KEY}":
            puts.append(index)
            if len(puts) == 3:
                s3.delete_object(Bucket=BUCKET, Key=KEY)
        return None

    proxy.fault = deleter
    r = run_in(binary, tmp_path, "create", "--state", URL, env=stack_env(proxy.url))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "was changed by someone else" in r.stderr
    assert KEY not in keys(s3)
    assert_kept_locally(tmp_path, r)


def test_a_store_that_ignores_if_none_match_is_refused(binary, fresh_moto, proxy, tmp_path):
    s3 = bucket(fresh_moto)
    lock_puts = []

    def accepts_everything(index, method, path, headers, body):
        # The second `If-None-Match: *` write of the lock is answered 200, as a store that
        # ignores the condition would.
        if method == "PUT" and path == f"/{BUCKET}/{KEY}.lock" and headers.get("If-None-Match") == "*":
            lock_puts.append(index)
            if len(lock_puts) == 2:
                return {"kind": "custom", "status": 200, "headers": [("ETag", '"0123"')], "body": b""}
        return None

    proxy.fault = accepts_everything
    r = run_in(binary, tmp_path, "create", "--state", URL, env=stack_env(proxy.url))
    assert r.returncode == 1
    assert "ignores conditional writes" in r.stderr and "refusing to use it" in r.stderr, r.stderr
    assert keys(s3) == []
    assert Inventory(fresh_moto).counts() == {k: v for k, v in NONE.items() if k != "domains"}


@pytest.mark.parametrize("signals", [1, 2], ids=["graceful", "second-signal-exits-at-once"])
def test_sigint_during_create_releases_the_lock(binary, fresh_moto, proxy, tmp_path, signals):
    s3 = bucket(fresh_moto)
    proxy.latency = 0.15
    p = subprocess.Popen([binary, "create", "--state", URL], cwd=tmp_path, env=stack_env(proxy.url), text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while proxy.count < 10 and time.time() < deadline:
        time.sleep(0.02)
    assert f"{KEY}.lock" in keys(s3)
    for _ in range(signals):
        p.send_signal(signal.SIGINT)
        time.sleep(0.05)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, out + err
    if signals == 2:
        assert "again: stopping at once" in err, err
    assert keys(s3) == [KEY], err
    proxy.latency = 0
    r = run_in(binary, tmp_path, "create", "--state", URL, env=stack_env(proxy.url))
    assert r.returncode == 0, r.stdout + r.stderr



def test_second_signal_keeps_the_lock_until_the_state_write_in_flight_has_landed(binary, fresh_moto, proxy, tmp_path):
    """A second Ctrl-C exits at once, but a state write it had sent lands later. Had the lock gone
    first, the next run could read the state before that write lands and be refused ("changed by
    someone else") at its own first write. The proxy makes that order: the dead run's write is held
    until the next run has read the state (at most 2 s), and the next run's first write waits 0.5 s."""
    s3 = bucket(fresh_moto)
    state_read_by_next_run, exited, held, puts = threading.Event(), threading.Event(), threading.Event(), []

    def order_writes(index, method, path, headers, body):
        if path != f"/{BUCKET}/{KEY}":
            return None
        if exited.is_set():
            if method == "GET":
                state_read_by_next_run.set()
            elif method == "PUT" and puts[-1] != "next":
                puts.append("next")
                time.sleep(0.5)
            return None
        if method == "PUT":
            puts.append(index)
            if len(puts) == 4:
                held.set()
                state_read_by_next_run.wait(2)  # the release waits up to 3 s for it
                time.sleep(0.05)
        return None

    proxy.fault = order_writes
    p = subprocess.Popen([binary, "create", "--state", URL], cwd=tmp_path, env=stack_env(proxy.url), text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert held.wait(60), "the run never wrote its state a fourth time"
    for _ in range(2):
        p.send_signal(signal.SIGINT)
        time.sleep(0.05)
    out, err = p.communicate(timeout=60)
    exited.set()
    assert p.returncode == 130, out + err
    assert "again: stopping at once" in err, err
    r = run_in(binary, tmp_path, "create", "--state", URL, env=stack_env(proxy.url))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Resuming" in r.stdout
    state = json.loads(stored(s3))
    assert all(r["status"] == "created" for r in state["resources"]), state["resources"]
    assert Inventory(fresh_moto).counts(state["outputs"]["user_pool_domain"]) == ONE_OF_EACH
    assert keys(s3) == [KEY]


def test_a_404_that_is_not_no_such_key_is_an_error_not_an_empty_stack(binary, fresh_moto, proxy, tmp_path):
    """Only S3's NoSuchKey means "no state yet": another 404 (a proxy or a wrong path answering
    NotFound) must not read as an empty stack, which create would then build a second time."""
    bucket(fresh_moto)

    def not_found(index, method, path, headers, body):
        if method == "GET" and path == f"/{BUCKET}/{KEY}":
            return {"kind": "custom", "status": 404, "headers": [("Content-Type", "application/xml")],
                    "body": b"<Error><Code>NotFound</Code><Message>Not Found</Message></Error>"}
        return None

    proxy.fault = not_found
    r = run_in(binary, tmp_path, "state", "show", "--state", URL, env=stack_env(proxy.url))
    assert r.returncode == 1 and "no state at" not in r.stderr and "NotFound" in r.stderr, r.stderr
    r = run_in(binary, tmp_path, "create", "--state", URL, env=stack_env(proxy.url))
    assert r.returncode == 1 and "NotFound" in r.stderr, r.stdout + r.stderr
    assert Inventory(fresh_moto).counts() == {k: v for k, v in NONE.items() if k != "domains"}

def test_bootstrap_makes_a_private_versioned_encrypted_tls_only_bucket(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    r = run_in(binary, tmp_path, "state", "bootstrap", "s3://boot-state", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    s3 = fresh_moto.boto("s3")
    assert s3.get_bucket_versioning(Bucket="boot-state")["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket="boot-state")["PublicAccessBlockConfiguration"]
    assert block == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    rules = s3.get_bucket_encryption(Bucket="boot-state")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # moto applies a TLS-only policy to its own plain-http endpoint: bootstrap leaves it out there.
    assert "TLS only: skipped, this endpoint is plain http" in r.stdout
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
        s3.get_bucket_policy(Bucket="boot-state")
    # A run on a versioned bucket gives no versioning warning; one without versioning does.
    # (test_create_converge_delete… sees the warning on a bucket without versioning.)
    r = run_in(binary, tmp_path, "create", "--state", "s3://boot-state/s.json", env=env)
    assert r.returncode == 0 and "versioning" not in r.stderr, r.stderr
    r = run_in(binary, tmp_path, "delete", "--state", "s3://boot-state/s.json", env=env)
    assert r.returncode == 0, r.stderr
    assert len(s3.list_object_versions(Bucket="boot-state")["Versions"]) > 1, "every state written is kept"
    # An existing bucket (here one with KMS encryption) keeps its settings: bootstrap refuses it.
    s3.create_bucket(Bucket="kms-state")
    kms = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/team"}}]}
    s3.put_bucket_encryption(Bucket="kms-state", ServerSideEncryptionConfiguration=kms)
    r = run_in(binary, tmp_path, "state", "bootstrap", "s3://kms-state", env=env)
    assert r.returncode == 1 and "already exists" in r.stderr, r.stdout + r.stderr
    rules = s3.get_bucket_encryption(Bucket="kms-state")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_migrate_moves_a_local_state_to_s3_and_back(binary, fresh_moto, tmp_path):
    s3 = bucket(fresh_moto)
    env = stack_env(fresh_moto.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    local = json.loads((tmp_path / "state.json").read_text())
    r = run_in(binary, tmp_path, "state", "migrate", "--to", URL, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"From now on pass --state {URL}" in r.stdout
    assert not (tmp_path / "state.json").exists()
    assert json.loads(stored(s3)) == local
    assert keys(s3) == [KEY]
    # A destination that already holds a state is never overwritten.
    (tmp_path / "other.json").write_text("{}")
    r = run_in(binary, tmp_path, "state", "migrate", "--state", URL, "--to", "other.json", env=env)
    assert r.returncode == 1 and "already holds a state" in r.stderr, r.stderr
    assert keys(s3) == [KEY]
    r = run_in(binary, tmp_path, "state", "migrate", "--state", URL, "--to", "back.json", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert keys(s3) == []
    assert json.loads((tmp_path / "back.json").read_text()) == local
    assert run_in(binary, tmp_path, "delete", "--state", "back.json", env=env).returncode == 0


@pytest.mark.parametrize("text,message", [
    ("s3://team-state", "names no key"),
    ("s3://Team_State/k", "breaks S3's rules"),
    ("s3://team-state/dir/", "file-like name"),
    ("s3://team-state/a/../b", "file-like name"),
    ("s3://team-state/state.json.lock", "where the lock of another state lives"),
    ("stack.json.lock", "where the lock of another state lives"),
])
def test_malformed_state_urls_are_refused_before_any_call(binary, tmp_path, text, message):
    r = run_in(binary, tmp_path, "status", "--state", text, env=stack_env("http://127.0.0.1:9"))
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_s3_calls_are_signed_with_s3s_rules(binary, auth_moto, tmp_path):
    key_id, secret = auth_moto.key
    env = clean_env(AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret, AWS_REGION="us-east-1", AWS_ENDPOINT_URL=auth_moto.url)
    r = run_in(binary, tmp_path, "state", "bootstrap", "s3://signed-state", env=env)  # PUTs with bodies and ?subresources
    assert r.returncode == 0, r.stdout + r.stderr
    shutil.copy(ROOT / "state.json.example", tmp_path / "state.json")
    url = "s3://signed-state/team a/state file.json"  # a double-encoded path would sign %2520
    r = run_in(binary, tmp_path, "state", "migrate", "--to", url, env=env)  # locks, conditional PUTs, GETs, DELETEs
    assert r.returncode == 0, r.stdout + r.stderr
    shown = run_in(binary, tmp_path, "state", "show", "--state", url, env=env)
    assert shown.returncode == 0, shown.stderr
    moved, example = json.loads(shown.stdout), json.loads((ROOT / "state.json.example").read_text())
    assert (moved["stack_id"], moved["resources"], moved["outputs"]) == (example["stack_id"], example["resources"], example["outputs"])
    wrong = run_in(binary, tmp_path, "state", "show", "--state", url, env={**env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    assert wrong.returncode == 1 and "SignatureDoesNotMatch" in wrong.stderr, wrong.stderr


def test_a_missing_bucket_is_named_before_any_call_to_the_stack(binary, fresh_moto, tmp_path):
    r = run_in(binary, tmp_path, "create", "--state", "s3://no-such-bucket/s.json", env=stack_env(fresh_moto.url))
    assert r.returncode == 1
    assert r.stderr.strip() == ("secure-api: error: bucket no-such-bucket of --state s3://no-such-bucket/s.json does not exist "
                                "(create one with `secure-api state bootstrap s3://no-such-bucket`)"), r.stderr
    assert Inventory(fresh_moto).counts() == {k: v for k, v in NONE.items() if k != "domains"}



@pytest.mark.parametrize("command", [["jwt", "verify", "a.b.c"], ["login", "--no-browser"],
                                     # the state would give the accepted client ids: without it the check would be dropped
                                     ["jwt", "verify", "a.b.c", "--issuer", "https://issuer.example"]])
def test_token_commands_name_a_state_they_cannot_read_rather_than_saying_there_is_no_stack(binary, fresh_moto, tmp_path, command):
    r = run_in(binary, tmp_path, *command, "--state", "s3://no-such-bucket/s.json", env=stack_env(fresh_moto.url))
    assert r.returncode == 1
    assert "bucket no-such-bucket of --state s3://no-such-bucket/s.json does not exist" in r.stderr, r.stderr
    assert "no issuer" not in r.stderr and "no stack" not in r.stderr


@pytest.mark.crash
@pytest.mark.parametrize("when", ["before", "after"])
def test_sigkill_at_create_calls_with_s3_state_then_force_unlock_and_resume(binary, fresh_moto, proxy, tmp_path, when):
    """The crash sweep of test_crash_resume with the journal in S3: the lock and every state
    write are proxied calls too, so kills land between a write's landing and its answer."""
    env = fast_env(proxy.url)
    s3 = bucket(fresh_moto)
    total = proxied_calls(binary, proxy, tmp_path, "create", "--state", URL, env=env)
    sweep = KillSweep(f"create with S3 state, SIGKILL {when} the call", total)
    assert run_in(binary, tmp_path, "delete", "--state", URL, env=env).returncode == 0
    inv = Inventory(fresh_moto)
    for at in sweep.points:
        fresh_moto.reset()
        s3 = bucket(fresh_moto)
        sweep.run_killed(binary, proxy, tmp_path, "create", "--state", URL, env=env, at=at, when=when)
        if f"{KEY}.lock" in keys(s3):
            lock_id = json.loads(stored(s3, f"{KEY}.lock"))["id"]
            refused = run_in(binary, tmp_path, "create", "--state", URL, env=env)
            assert refused.returncode == 1 and f"ID: {lock_id}" in refused.stderr, f"{sweep.where(at)}: {refused.stderr}"
            assert run_in(binary, tmp_path, "force-unlock", "--state", URL, lock_id, env=env).returncode == 0, sweep.where(at)
        r = run_in(binary, tmp_path, "create", "--state", URL, env=env)
        assert r.returncode == 0, f"{sweep.where(at)}: resume: {r.stdout}{r.stderr}"
        domain = json.loads(stored(s3))["outputs"]["user_pool_domain"]
        assert inv.counts(domain) == ONE_OF_EACH, sweep.where(at)
        r = run_in(binary, tmp_path, "delete", "--state", URL, env=env)
        assert r.returncode == 0, f"{sweep.where(at)}: delete: {r.stdout}{r.stderr}"
        assert inv.counts(domain) == NONE and keys(s3) == [], f"{sweep.where(at)}: leak"
    assert no_state_files(tmp_path)
    print(f"\n{sweep.summary()}; every resume ended with exactly one of each resource and every delete with none")


REDIRECT = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>PermanentRedirect</Code><Message>The bucket you " \
           b"are attempting to access must be addressed using the specified endpoint.</Message></Error>"


def test_a_bucket_in_another_region_is_followed_and_the_stack_stays_in_its_own(binary, fresh_moto, proxy, tmp_path):
    """As the AWS SDKs do: S3's 301 names the bucket's region; the call is signed for it and sent
    again, and every later state call goes there at once. The stack's own calls keep their region."""
    bucket(fresh_moto)
    s3_regions, redirects, stack_regions = [], [], set()

    def elsewhere(index, method, path, headers, body):
        region = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/", headers.get("Authorization", ""))
        if not region:
            return None
        if region.group(2) != "s3":
            stack_regions.add(region.group(1))
            return None
        s3_regions.append(region.group(1))
        if region.group(1) != "eu-west-1":
            redirects.append(index)
            return {"kind": "custom", "status": 301, "headers": [("Content-Type", "application/xml"), ("x-amz-bucket-region", "eu-west-1")],
                    "body": REDIRECT}
        return None

    proxy.fault = elsewhere
    r = run_in(binary, tmp_path, "create", "--state", URL, env=stack_env(proxy.url))
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(redirects) == 1 and s3_regions[0] == "us-east-1" and set(s3_regions[1:]) == {"eu-west-1"}, s3_regions
    assert stack_regions == {"us-east-1"}
    state = json.loads(stored(fresh_moto.boto("s3")))
    assert state["target"]["region"] == "us-east-1"
    assert Inventory(fresh_moto).counts(state["outputs"]["user_pool_domain"]) == ONE_OF_EACH


def test_a_bucket_in_another_region_is_named_when_s3_does_not_say_which(binary, fresh_moto, proxy, tmp_path):
    bucket(fresh_moto)

    def elsewhere(index, method, path, headers, body):
        if path.startswith(f"/{BUCKET}/"):
            return {"kind": "custom", "status": 301, "headers": [("Content-Type", "application/xml")], "body": REDIRECT}
        return None

    proxy.fault = elsewhere
    r = run_in(binary, tmp_path, "status", "--state", URL, env=stack_env(proxy.url))
    assert r.returncode == 1
    assert f"bucket {BUCKET} of --state {URL} is not in this run's region us-east-1" in r.stderr, r.stderr
