"""Shared fixtures: the built binary, moto servers on free ports, helpers to run the CLI, and
the kill helper every crash test uses."""
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINARY = Path(os.environ.get("SECURE_API_BIN", ROOT / ".build" / "debug" / "secure-api"))
SUITE = Path(os.environ.get("SIGV4_TEST_SUITE", ROOT.parent / "shared" / "aws-sigv4-test-suite"))

sys.path.insert(0, str(ROOT / "tools"))
from faultproxy import FaultProxy  # noqa: E402
from moto_server import MotoServer as Moto  # noqa: E402
from moto_server import free_port  # noqa: E402, F401  (for the tests that import it from here)


@pytest.fixture(scope="session")
def binary():
    if not BINARY.exists():
        pytest.fail(f"{BINARY} is missing: run 'swift build' (make test does) first")
    return str(BINARY)


def clean_env(**extra):
    """An environment with no AWS settings from the developer's machine."""
    # Nothing from the developer's machine or .env (make exports it) may steer a test.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "SECURE_API_")) and k not in ("PASSWORD", "DOMAIN_PREFIX", "CLIENT_SECRET", "XDG_CACHE_HOME")}
    env["HOME"] = extra.pop("HOME", "/nonexistent-home")
    env["NO_COLOR"] = "1"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(binary, *args, env=None, input=None, timeout=120):
    return subprocess.run([binary, *args], env=env, input=input, capture_output=True, timeout=timeout,
                          text=isinstance(input, str) or input is None)


@pytest.fixture(scope="session")
def moto():
    """A plain moto server (no signature checks) shared by the session; reset per test."""
    server = Moto()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def auth_moto():
    """moto verifying SigV4 signatures: its first 3 calls are unauthenticated (they create a user,
    give it a policy and a key; `server.key`). Its S3 check rejects botocore's own signatures
    for '+', '=' and non-ASCII keys: tests keep within what it checks right (spaces included)."""
    server = Moto({"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    iam = server.boto("iam")
    iam.create_user(UserName="tester")
    iam.put_user_policy(UserName="tester", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="tester")["AccessKey"]
    server.key = (key["AccessKeyId"], key["SecretAccessKey"])
    yield server
    server.stop()


@pytest.fixture
def fresh_moto(moto):
    moto.reset()
    return moto


def moto_env(moto, **extra):
    return clean_env(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
                     AWS_ENDPOINT_URL=moto.url, **extra)


PASSWORD = "Corr3ct-Horse!"


@pytest.fixture
def proxy(fresh_moto):
    p = FaultProxy(fresh_moto.url).start()
    yield p
    p.stop()


def stack_env(url, **extra):
    settings = dict(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
                    AWS_ENDPOINT_URL=url, PASSWORD=PASSWORD)
    settings.update(extra)
    return clean_env(**settings)


def run_in(binary, cwd, *args, env, timeout=300, input=None):
    return subprocess.run([binary, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, input=input)


def fast_env(url, **extra):
    """stack_env for runs that are killed and resumed: a short retry backoff (the retry logic is
    unchanged) and a short HTTP timeout, which bounds a resume's wait for a killed run's in-flight
    create."""
    return stack_env(url, **{"SECURE_API_RETRY_BASE_SECONDS": "0.05", "SECURE_API_HTTP_TIMEOUT_SECONDS": "4", **extra})


class Inventory:
    """An independent view of the emulator through boto3 (never through secure-api)."""

    def __init__(self, moto):
        self.moto = moto
        self.cognito = moto.boto("cognito-idp")
        self.apigw = moto.boto("apigatewayv2")
        self.iam = moto.boto("iam")
        self.lam = moto.boto("lambda")
        self.logs = moto.boto("logs")

    def counts(self, domain_prefix=None):
        pools = self.cognito.list_user_pools(MaxResults=60)["UserPools"]
        c = {"user_pools": len(pools), "app_clients": 0, "users": 0, "resource_servers": 0}
        for p in pools:
            c["app_clients"] += len(self.cognito.list_user_pool_clients(UserPoolId=p["Id"], MaxResults=60)["UserPoolClients"])
            c["users"] += len(self.cognito.list_users(UserPoolId=p["Id"])["Users"])
            c["resource_servers"] += len(self.cognito.list_resource_servers(UserPoolId=p["Id"], MaxResults=50)["ResourceServers"])
        apis = self.apigw.get_apis()["Items"]
        c.update(apis=len(apis), routes=0, integrations=0, stages=0)
        for a in apis:
            c["routes"] += len(self.apigw.get_routes(ApiId=a["ApiId"])["Items"])
            c["integrations"] += len(self.apigw.get_integrations(ApiId=a["ApiId"])["Items"])
            c["stages"] += len(self.apigw.get_stages(ApiId=a["ApiId"])["Items"])
        roles = [r for r in self.iam.list_roles()["Roles"] if not r["Path"].startswith("/aws-service-role/")]
        c["roles"] = len(roles)
        c["attached_policies"] = sum(len(self.iam.list_attached_role_policies(RoleName=r["RoleName"])["AttachedPolicies"])
                                     for r in roles)
        fns = self.lam.list_functions()["Functions"]
        c["functions"] = len(fns)
        c["permissions"] = 0
        for f in fns:
            try:
                c["permissions"] += len(json.loads(self.lam.get_policy(FunctionName=f["FunctionName"])["Policy"])["Statement"])
            except self.lam.exceptions.ResourceNotFoundException:
                pass
        if domain_prefix:
            c["domains"] = 1 if self.cognito.describe_user_pool_domain(Domain=domain_prefix)["DomainDescription"].get("UserPoolId") else 0
        c["log_groups"] = len(self.logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"])
        return c


# The stack: two app clients (terminal, machine) and two routes (GET read, POST write).
ONE_OF_EACH = {"user_pools": 1, "app_clients": 2, "users": 1, "resource_servers": 1, "apis": 1, "routes": 2,
               "integrations": 1, "stages": 1, "roles": 1, "attached_policies": 1, "functions": 1, "permissions": 1,
               "domains": 1, "log_groups": 0}
NONE = {k: 0 for k in ONE_OF_EACH}


# --- crash sweeps: SIGKILL at call k, then resume ----------------------------------------------
# `make test` runs a seeded sample of kill points per sweep (the first and the last call always
# among them); `make test-crash` (SECURE_API_CRASH_ALL=1) runs every index. A failure names its
# seed: SECURE_API_CRASH_SEED=<seed> replays the same sample.
CRASH_ALL = os.environ.get("SECURE_API_CRASH_ALL") == "1"
CRASH_SAMPLE = int(os.environ.get("SECURE_API_CRASH_SAMPLE", "4"))
CRASH_SEED = int(os.environ.get("SECURE_API_CRASH_SEED") or random.SystemRandom().randrange(1_000_000))


def pytest_configure(config):
    config.addinivalue_line("markers", "crash: a crash sweep (SIGKILL at call k, then resume); make test-crash runs these")


def pytest_report_header(config):
    mode = "every call index" if CRASH_ALL else f"{CRASH_SAMPLE} kill points per sweep"
    return f"crash sweeps: {mode}, seed {CRASH_SEED} (replay: SECURE_API_CRASH_SEED={CRASH_SEED})"


class KillSweep:
    """The kill points of one sweep over a command that makes TOTAL proxied calls, and its tally."""

    def __init__(self, name, total):
        self.name, self.total, self.landed = name, total, 0
        if CRASH_ALL or total <= CRASH_SAMPLE:
            self.points = list(range(1, total + 1))
        else:
            # Seeded by the run's seed and the sweep's name: one seed replays every sweep's sample.
            middle = random.Random(f"{CRASH_SEED}/{name}").sample(range(2, total), max(0, CRASH_SAMPLE - 2))
            self.points = sorted({1, total, *middle})

    def where(self, at):
        return f"{self.name}: kill at call {at} of {self.total} (replay: SECURE_API_CRASH_SEED={CRASH_SEED})"

    def run_killed(self, binary, proxy, cwd, *args, env, at, when):
        try:
            calls = run_killed(binary, proxy, cwd, *args, env=env, at=at, when=when)
        except AssertionError as e:
            raise AssertionError(f"{self.where(at)}: {e}") from None
        self.landed += 1
        return calls

    def summary(self):
        which = "every call index" if self.points == list(range(1, self.total + 1)) else \
            f"call indexes {self.points} (seed {CRASH_SEED}; SECURE_API_CRASH_ALL=1 runs all)"
        return f"{self.name}: {self.landed} of {len(self.points)} kills landed, at {which} of {self.total}"


def proxied_calls(binary, proxy, cwd, *args, env):
    """How many calls an undisturbed `secure-api ARGS` makes through PROXY: the sweep's length.
    With the default HTTP timeout: a request that times out on a loaded machine is followed by a
    lookup, and a count that includes one could name a kill point the killed run never reaches."""
    proxy.reset_counters()
    env = {k: v for k, v in env.items() if k != "SECURE_API_HTTP_TIMEOUT_SECONDS"}
    r = run_in(binary, cwd, *args, env=env)
    assert r.returncode == 0, f"{' '.join(args)}: {r.stdout}{r.stderr}"
    return proxy.count


def run_killed(binary, proxy, cwd, *args, env, at, when, timeout=120):
    """Run `secure-api ARGS` in CWD through PROXY with a SIGKILL armed, before the process starts,
    at proxied call AT ("before": the call never reaches the emulator; "after": the emulator did
    it and the answer is lost). Asserts the kill landed there; returns the calls the proxy saw."""
    proxy.reset_counters()
    proxy.arm_kill(at, when)
    p = subprocess.Popen([binary, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proxy.kill_target(p.pid)
    try:
        out, err = p.communicate(timeout=timeout)
    finally:
        proxy.disarm_kill()
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == -signal.SIGKILL, f"kill {when} call {at} did not land: exit {p.returncode}\n{out}{err}"
    assert proxy.kills == [(at, when, p.pid)], f"kill {when} call {at}: the proxy killed {proxy.kills}"
    state = Path(cwd) / "state.json"
    if state.exists():
        json.loads(state.read_text())  # a kill never leaves a torn state file
    return list(proxy.log)
