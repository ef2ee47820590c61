"""SIGKILL at the calls of a converging `create` (a changed callback URL, new code, an --auth
switch), then the same `create` again: the change is applied, with exactly one of each resource,
and nothing orphaned. Which call indexes: conftest's KillSweep (sampled in `make test`, every
index in `make test-crash`)."""
import json
import signal
import subprocess

import pytest

from conftest import NONE, ONE_OF_EACH, Inventory, KillSweep, fast_env, proxied_calls, run_in

WITH_AUTHORIZER = dict(ONE_OF_EACH, roles=2, attached_policies=2, functions=2, permissions=2)
CALLBACK = "https://app.example.com/cb"


def scenario(name, tmp_path):
    """(flags that change the stack, flags that change it back, what the change must leave)."""
    if name == "callback":
        return ["--callback-url", CALLBACK], ["--callback-url", "http://localhost:8083/callback"], ONE_OF_EACH
    if name == "code":
        code = tmp_path / "src"
        code.mkdir(exist_ok=True)
        (code / "app.py").write_text("def handler(event, context):\n    return {'statusCode': 200, 'body': 'mine'}\n")
        back = ["--code", "embedded", "--handler", "lambda_function.lambda_handler"]
        return ["--code", str(code), "--handler", "app.handler"], back, ONE_OF_EACH
    return ["--auth", "lambda"], ["--auth", "cognito"], WITH_AUTHORIZER


def applied(name, inv, out):
    if name == "callback":
        client = inv.cognito.describe_user_pool_client(UserPoolId=out["user_pool_id"], ClientId=out["terminal_app_client_id"])
        return client["UserPoolClient"]["CallbackURLs"] == [CALLBACK]
    if name == "code":
        return inv.lam.get_function(FunctionName="EchoFunction")["Configuration"]["Handler"] == "app.handler"
    authorizer = inv.apigw.get_authorizer(ApiId=out["api_id"], AuthorizerId=out["authorizer_id"])
    route = inv.apigw.get_route(ApiId=out["api_id"], RouteId=out["route_id"])
    return authorizer["AuthorizerType"] == "REQUEST" and route["AuthorizerId"] == out["authorizer_id"]


@pytest.mark.crash
@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("name", ["callback", "code", "auth"])
def test_sigkill_during_a_converging_create_then_create_again(binary, fresh_moto, proxy, tmp_path, name, when):
    env = fast_env(proxy.url)
    work = tmp_path / "stack"
    work.mkdir()
    forward, back, expected = scenario(name, tmp_path)
    assert run_in(binary, work, "create", env=env).returncode == 0
    domain = json.loads((work / "state.json").read_text())["outputs"]["user_pool_domain"]
    total = proxied_calls(binary, proxy, work, "create", *forward, env=env)
    sweep = KillSweep(f"converging create ({name}), SIGKILL {when} the call", total)
    assert run_in(binary, work, "create", *back, env=env).returncode == 0
    inv = Inventory(fresh_moto)
    for at in sweep.points:
        sweep.run_killed(binary, proxy, work, "create", *forward, env=env, at=at, when=when)
        r = run_in(binary, work, "create", *forward, env=env)
        assert r.returncode == 0, f"{sweep.where(at)}: create again: {r.stdout}{r.stderr}"
        out = json.loads((work / "state.json").read_text())["outputs"]
        assert applied(name, inv, out), sweep.where(at)
        assert inv.counts(domain) == expected, sweep.where(at)
        r = run_in(binary, work, "plan", "--detailed-exitcode", env=env)
        assert r.returncode == 0, f"{sweep.where(at)}: plan after: {r.stdout}{r.stderr}"
        r = run_in(binary, work, "create", *back, env=env)
        assert r.returncode == 0, f"{sweep.where(at)}: change back: {r.stdout}{r.stderr}"
        assert inv.counts(domain) == ONE_OF_EACH, sweep.where(at)
    assert run_in(binary, work, "delete", env=env).returncode == 0
    assert inv.counts(domain) == NONE
    print(f"\n{sweep.summary()}; each create again applied the change with exactly one of each resource")


def killed_at_operation(binary, proxy, cwd, *args, env, op, when):
    """`secure-api ARGS` SIGKILLed at the first request of OP (as the proxy names it)."""
    proxy.reset_counters()
    proxy.arm_kill(op, when)
    p = subprocess.Popen([binary, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proxy.kill_target(p.pid)
    try:
        out, err = p.communicate(timeout=120)
    finally:
        proxy.disarm_kill()
    assert p.returncode == -signal.SIGKILL, f"the kill {when} {op} did not land: {out}{err}"
    assert [k[1] for k in proxy.kills] == [when]


def test_a_replacement_undone_after_a_kill_keeps_the_old_resource_and_deletes_the_new(binary, fresh_moto, proxy, tmp_path):
    """dev -> prod killed after CreateStage (prod made, its answer lost), then back to dev: the
    deposed dev stage is current again, and the killed run's prod is found and deleted."""
    env = fast_env(proxy.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    api = json.loads((tmp_path / "state.json").read_text())["outputs"]["api_id"]
    killed_at_operation(binary, proxy, tmp_path, "create", "--stage", "prod", env=env, op=f"POST /v2/apis/{api}/stages", when="after")
    r = run_in(binary, tmp_path, "create", "--stage", "dev", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    stages = [s["StageName"] for s in Inventory(fresh_moto).apigw.get_stages(ApiId=api)["Items"]]
    assert stages == ["dev"], stages
    assert run_in(binary, tmp_path, "status", env=env).returncode == 0
    assert not [r for r in json.loads((tmp_path / "state.json").read_text())["resources"] if r["status"] != "created"]


def test_a_permission_replaced_after_drift_and_killed_mid_way_ends_scoped_to_our_api(binary, fresh_moto, proxy, tmp_path):
    """The invoke permission widened behind our back; the repair (delete, then add: one statement
    id) killed before its RemovePermission; the next create still ends with exactly our statement."""
    env = fast_env(proxy.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    out = json.loads((tmp_path / "state.json").read_text())["outputs"]
    inv = Inventory(fresh_moto)
    sid = "secure-api-apigateway-invoke"
    inv.lam.remove_permission(FunctionName="EchoFunction", StatementId=sid)
    inv.lam.add_permission(FunctionName="EchoFunction", StatementId=sid, Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com", SourceArn="arn:aws:execute-api:us-east-1:123456789012:*/*/*")
    killed_at_operation(binary, proxy, tmp_path, "create", env=env,
                        op=f"DELETE /2015-03-31/functions/EchoFunction/policy/{sid}", when="before")
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    [statement] = json.loads(inv.lam.get_policy(FunctionName="EchoFunction")["Policy"])["Statement"]
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(f":{out['api_id']}/*/*")
    assert run_in(binary, tmp_path, "status", env=env).returncode == 0


def test_a_rename_killed_after_its_create_leaves_no_orphan_when_the_name_changes_again(binary, fresh_moto, proxy, tmp_path):
    """--function-name Other killed after CreateFunction, then --function-name Third: the killed
    run's Other (ours by tag) is found by the name it was created under, and deleted."""
    env = fast_env(proxy.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    killed_at_operation(binary, proxy, tmp_path, "create", "--function-name", "Other", env=env,
                        op="POST /2015-03-31/functions", when="after")
    r = run_in(binary, tmp_path, "create", "--function-name", "Third", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    names = sorted(f["FunctionName"] for f in Inventory(fresh_moto).lam.list_functions()["Functions"])
    assert names == ["Third"], names
    assert run_in(binary, tmp_path, "plan", "--detailed-exitcode", env=env).returncode == 0
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0
    assert Inventory(fresh_moto).lam.list_functions()["Functions"] == []
