"""The CLI keeps working on plain moto 5.2.1 (what people run without our extensions, like
LocalStack): where moto answers 500 it falls back — Cognito tags read through DescribeUserPool,
a lost authorizer created again when GetAuthorizers fails, a DeleteResourceServer failure
confirmed gone through its pool."""
import json

import pytest

from conftest import NONE, ONE_OF_EACH, Inventory, Moto, run_in, stack_env


@pytest.fixture(scope="module")
def plain():
    server = Moto(plain=True)
    yield server
    server.stop()


def test_create_plan_status_delete_on_plain_moto(binary, plain, tmp_path):
    plain.reset()
    env = stack_env(plain.url)
    inv = Inventory(plain)
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads((tmp_path / "state.json").read_text())["outputs"]
    assert inv.counts(out["user_pool_domain"]) == ONE_OF_EACH
    # The ownership tag the CLI reads back through DescribeUserPool (moto has no ListTagsForResource).
    assert inv.cognito.describe_user_pool(UserPoolId=out["user_pool_id"])["UserPool"]["UserPoolTags"]["secure-api:stack"] == "HelloAPI"

    r = run_in(binary, tmp_path, "plan", "--detailed-exitcode", env=env)
    assert r.returncode == 0 and "No changes" in r.stdout, r.stdout + r.stderr
    r = run_in(binary, tmp_path, "status", env=env)
    assert r.returncode == 0 and "is complete" in r.stdout, r.stdout + r.stderr
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0 and "up to date: no changes" in r.stdout, r.stdout + r.stderr
    # A change plain moto can apply (UpdateUserPoolClient is moto's own) converges there too.
    r = run_in(binary, tmp_path, "create", "--callback-url", "https://app.example.com/cb", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert run_in(binary, tmp_path, "plan", "--detailed-exitcode", env=env).returncode == 0

    r = run_in(binary, tmp_path, "delete", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    # moto's DeleteResourceServer is a 500: the run says so and then verifies it went with the pool.
    assert "verified gone (removed with its parent)" in r.stdout
    assert "verified nothing remains" in r.stdout
    assert inv.counts(out["user_pool_domain"]) == NONE
    assert not (tmp_path / "state.json").exists()


def test_lost_authorizer_is_made_again_when_get_authorizers_fails(binary, plain, tmp_path):
    """A crash after CreateAuthorizer leaves a pending record; moto cannot list authorizers, so
    the next create makes another inside our API (it goes with the API) and completes."""
    plain.reset()
    env = stack_env(plain.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    path = tmp_path / "state.json"
    state = json.loads(path.read_text())
    (record,) = [r for r in state["resources"] if r["key"] == "authorizer"]
    record["status"] = "pending"
    record.pop("id", None)
    path.write_text(json.dumps(state))
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cannot list authorizers" in r.stdout + r.stderr
    inv = Inventory(plain)
    out = json.loads(path.read_text())["outputs"]
    assert inv.apigw.get_authorizer(ApiId=out["api_id"], AuthorizerId=out["authorizer_id"])["AuthorizerType"] == "JWT"
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0
    assert inv.counts(out["user_pool_domain"]) == NONE
