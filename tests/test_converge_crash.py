"""SIGKILL at the calls of a converging `create` (a changed callback URL, new code, an --auth
switch), then the same `create` again: the change is applied, with exactly one of each resource,
and nothing orphaned. Which call indexes: conftest's KillSweep (sampled in `make test`, every
index in `make test-crash`)."""
import json

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
