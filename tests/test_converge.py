"""Converge (issue 14): `plan` shows what differs, `create` applies it, `status` catches drift.
Every check of the live stack reads it through boto3, never through secure-api."""
import base64
import hashlib
import io
import json
import struct
import zipfile
import zlib

from conftest import ONE_OF_EACH, Inventory, run_in, stack_env

READS = ("Get", "Describe", "List", "AdminGet")


def writes(log):
    """The calls that changed something, as the proxy saw them: REST reads are GETs, JSON and
    Query reads are named Get/Describe/List (STS's identity call included)."""
    return [c.op for c in log if c.method != "GET" and not (c.op or "").startswith(READS)]


def stored_zip(files):
    """A zip of stored entries with DOS date 1980-01-01 and no extras, entries in the given order."""
    local, central = b"", b""
    for name, data in files:
        n = name.encode()
        crc = zlib.crc32(data) & 0xFFFFFFFF
        offset = len(local)
        local += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, crc, len(data), len(data), len(n), 0) + n + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0314, 20, 0, 0, 0, 0x21, crc, len(data), len(data), len(n),
                               0, 0, 0, 0, 0o100644 << 16, offset) + n
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(files), len(files), len(central), len(local), 0)
    return local + central + end


def outputs(tmp_path):
    return json.loads((tmp_path / "state.json").read_text())["outputs"]


def test_changed_callback_url_is_planned_applied_and_then_clean(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    # Every created record carries the attributes last applied (no secret among them).
    text = (tmp_path / "state.json").read_text()
    client = next(r for r in json.loads(text)["resources"] if r["key"] == "app_client")
    assert client["attributes"]["callback_urls"] == "http://localhost:8083/callback"
    assert env["PASSWORD"] not in text
    r = run_in(binary, tmp_path, "plan", "--detailed-exitcode", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No changes" in r.stdout

    r = run_in(binary, tmp_path, "plan", "--detailed-exitcode", "--callback-url", "https://app.example.com/cb", env=env)
    assert r.returncode == 2, r.stdout + r.stderr
    line = next(line for line in r.stdout.splitlines() if line.strip().startswith("~"))
    assert "Cognito app client (public, PKCE)" in line and "update in place" in line
    assert 'callback_urls: "http://localhost:8083/callback" -> "https://app.example.com/cb"' in r.stdout
    assert "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete." in r.stdout

    r = run_in(binary, tmp_path, "plan", "--output", "json", "--callback-url", "https://app.example.com/cb", env=env)
    doc = json.loads(r.stdout)
    assert doc["changes"] is True and doc["summary"] == {"create": 0, "update": 1, "replace": 0, "delete": 0}
    [change] = doc["resources"][0]["changes"]
    assert change == {"attribute": "callback_urls", "old": "http://localhost:8083/callback", "new": "https://app.example.com/cb",
                      "forces_replacement": False, "security": True, "changed_outside": False}
    assert "changed outside secure-api" not in r.stdout  # a configuration change, not drift

    r = run_in(binary, tmp_path, "create", "--callback-url", "https://app.example.com/cb", env=env)
    assert r.returncode == 0, r.stderr
    out = outputs(tmp_path)
    inv = Inventory(fresh_moto)
    client = inv.cognito.describe_user_pool_client(UserPoolId=out["user_pool_id"], ClientId=out["terminal_app_client_id"])["UserPoolClient"]
    assert client["CallbackURLs"] == ["https://app.example.com/cb"]
    # UpdateUserPoolClient resets what it is not sent: everything else is as before.
    assert client["AllowedOAuthFlows"] == ["code"] and client["AllowedOAuthFlowsUserPoolClient"] is True
    assert sorted(client["AllowedOAuthScopes"]) == sorted(["openid", "profile", "email", "HelloAPI/hello.read"])
    assert "ALLOW_USER_PASSWORD_AUTH" in client["ExplicitAuthFlows"]
    # The flag is remembered: a run without it keeps the new URL (plan clean), and the
    # client keeps its ID.
    assert run_in(binary, tmp_path, "plan", "--detailed-exitcode", env=env).returncode == 0
    assert out["terminal_app_client_id"] == client["ClientId"]
    assert inv.counts(out["user_pool_domain"]) == ONE_OF_EACH


def test_unchanged_create_writes_nothing_to_the_stack(binary, fresh_moto, proxy, tmp_path):
    env = stack_env(proxy.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    before = len(proxy.log)
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stderr
    assert "up to date" in r.stdout
    assert writes(proxy.log[before:]) == []
    assert len(proxy.log) > before  # it did read the stack


def test_added_scope_updates_resource_server_and_clients(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    scopes = "hello.read,hello.write,hello.admin"
    r = run_in(binary, tmp_path, "plan", "--detailed-exitcode", "--scopes", scopes, env=env)
    assert r.returncode == 2 and "Cognito resource server" in r.stdout and "Cognito app client (machine, secret)" in r.stdout
    r = run_in(binary, tmp_path, "create", "--scopes", scopes, env=env)
    assert r.returncode == 0, r.stderr
    out = outputs(tmp_path)
    inv = Inventory(fresh_moto)
    rs = inv.cognito.describe_resource_server(UserPoolId=out["user_pool_id"], Identifier="HelloAPI")["ResourceServer"]
    assert sorted(s["ScopeName"] for s in rs["Scopes"]) == ["hello.admin", "hello.read", "hello.write"]
    machine = inv.cognito.describe_user_pool_client(UserPoolId=out["user_pool_id"], ClientId=out["machine_client_id"])["UserPoolClient"]
    assert sorted(machine["AllowedOAuthScopes"]) == ["HelloAPI/hello.admin", "HelloAPI/hello.read", "HelloAPI/hello.write"]
    assert machine["AllowedOAuthFlows"] == ["client_credentials"]
    assert run_in(binary, tmp_path, "plan", "--detailed-exitcode", env=env).returncode == 0


def test_own_code_and_handler_are_deployed_and_hash_compared(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    code = tmp_path / "src"
    (code / "pkg").mkdir(parents=True)
    (code / "app.py").write_text("def handler(event, context):\n    return {'statusCode': 200, 'body': 'mine'}\n")
    (code / "pkg" / "util.py").write_text("X = 1\n")
    r = run_in(binary, tmp_path, "plan", "--detailed-exitcode", "--code", str(code), "--handler", "app.handler", env=env)
    assert r.returncode == 2 and "code_sha256" in r.stdout and "handler" in r.stdout, r.stdout
    r = run_in(binary, tmp_path, "create", "--code", str(code), "--handler", "app.handler", env=env)
    assert r.returncode == 0, r.stderr
    fn = Inventory(fresh_moto).lam.get_function(FunctionName="EchoFunction")
    assert fn["Configuration"]["Handler"] == "app.handler"
    # The deployed package is the directory, reproducibly zipped: the hash Lambda computed
    # equals that of the zip written here by the format's rules (sorted entries, stored, 1980 dates).
    expected = stored_zip([("app.py", (code / "app.py").read_bytes()), ("pkg/util.py", (code / "pkg" / "util.py").read_bytes())])
    assert sorted(zipfile.ZipFile(io.BytesIO(expected)).namelist()) == ["app.py", "pkg/util.py"]
    assert fn["Configuration"]["CodeSha256"] == base64.b64encode(hashlib.sha256(expected).digest()).decode()
    first_hash = fn["Configuration"]["CodeSha256"]
    assert run_in(binary, tmp_path, "plan", "--detailed-exitcode", env=env).returncode == 0  # remembered, unchanged

    (code / "app.py").write_text("def handler(event, context):\n    return {'statusCode': 200, 'body': 'mine v2'}\n")
    r = run_in(binary, tmp_path, "plan", "--detailed-exitcode", env=env)
    assert r.returncode == 2 and "code_sha256" in r.stdout
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    assert Inventory(fresh_moto).lam.get_function(FunctionName="EchoFunction")["Configuration"]["CodeSha256"] != first_hash
    assert run_in(binary, tmp_path, "plan", "--detailed-exitcode", env=env).returncode == 0


def test_security_drift_is_reported_and_repaired(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    out = outputs(tmp_path)
    inv = Inventory(fresh_moto)
    # Behind the tool's back: GET /hello made public, the invoke permission removed.
    inv.apigw.update_route(ApiId=out["api_id"], RouteId=out["route_id"], AuthorizationType="NONE")
    inv.lam.remove_permission(FunctionName="EchoFunction", StatementId="secure-api-apigateway-invoke")

    r = run_in(binary, tmp_path, "status", env=env)
    assert r.returncode == 2, r.stdout
    drift = r.stdout.split("Drift (security first):")[1]
    security = [line for line in drift.splitlines() if "SECURITY" in line]
    assert any("API route (read) GET /hello: authorization_type: expected \"JWT\", actual \"NONE\" (changed outside secure-api)" in line
               for line in security), drift
    assert any("Lambda invoke permission" in line and "missing" in line for line in security), drift
    assert "is complete" not in r.stdout

    r = run_in(binary, tmp_path, "status", "--output", "json", env=env)
    doc = json.loads(r.stdout)
    assert doc["complete"] is False
    assert {"key": "route", "label": "API route (read) GET /hello", "attribute": "authorization_type", "expected": "JWT",
            "actual": "NONE", "security": True, "changed_outside": True} in doc["drift"]

    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stderr
    route = inv.apigw.get_route(ApiId=out["api_id"], RouteId=out["route_id"])
    assert route["AuthorizationType"] == "JWT" and route["AuthorizerId"] == out["authorizer_id"]
    policy = json.loads(inv.lam.get_policy(FunctionName="EchoFunction")["Policy"])
    [statement] = policy["Statement"]
    assert statement["Sid"] == "secure-api-apigateway-invoke"
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(f":{out['api_id']}/*/*")
    r = run_in(binary, tmp_path, "status", env=env)
    assert r.returncode == 0 and "is complete" in r.stdout, r.stdout



def test_grants_added_behind_the_stacks_back_are_security_drift_and_removed(binary, fresh_moto, tmp_path):
    """Extra power given to our role or our function is drift in what the API exposes: a managed
    and an inline policy on the role, a public invoke statement on the function."""
    env = stack_env(fresh_moto.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    inv = Inventory(fresh_moto)
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    inv.iam.attach_role_policy(RoleName="APIGatewayLambdaRole", PolicyArn=admin)
    inv.iam.put_role_policy(RoleName="APIGatewayLambdaRole", PolicyName="extra",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    inv.lam.add_permission(FunctionName="EchoFunction", StatementId="anyone", Action="lambda:InvokeFunction", Principal="*")

    r = run_in(binary, tmp_path, "status", env=env)
    assert r.returncode == 2, r.stdout
    security = [line for line in r.stdout.split("Drift (security first):")[1].splitlines() if "SECURITY" in line]
    assert any("IAM role" in line and "other_policies" in line and admin in line and "inline:extra" in line for line in security), security
    assert any("Lambda function" in line and "other_grants" in line and "anyone (*)" in line for line in security), security
    plan = run_in(binary, tmp_path, "plan", "--detailed-exitcode", env=env)
    assert plan.returncode == 2 and "other_policies" in plan.stdout and "other_grants" in plan.stdout, plan.stdout

    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    attached = [p["PolicyArn"] for p in inv.iam.list_attached_role_policies(RoleName="APIGatewayLambdaRole")["AttachedPolicies"]]
    assert attached == ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    assert inv.iam.list_role_policies(RoleName="APIGatewayLambdaRole")["PolicyNames"] == []
    sids = [st["Sid"] for st in json.loads(inv.lam.get_policy(FunctionName="EchoFunction")["Policy"])["Statement"]]
    assert sids == ["secure-api-apigateway-invoke"]
    r = run_in(binary, tmp_path, "status", env=env)
    assert r.returncode == 0 and "is complete" in r.stdout, r.stdout


def test_delete_removes_our_role_with_a_policy_someone_attached(binary, fresh_moto, tmp_path):
    """IAM refuses DeleteRole while a policy is attached: delete must not strand our role."""
    env = stack_env(fresh_moto.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    inv = Inventory(fresh_moto)
    inv.iam.attach_role_policy(RoleName="APIGatewayLambdaRole", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    r = run_in(binary, tmp_path, "delete", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "APIGatewayLambdaRole" not in [role["RoleName"] for role in inv.iam.list_roles()["Roles"]]

def test_auth_switch_converges_to_exact_inventories(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    domain = outputs(tmp_path)["user_pool_domain"]
    inv = Inventory(fresh_moto)
    assert inv.counts(domain) == ONE_OF_EACH
    with_authorizer = dict(ONE_OF_EACH, roles=2, attached_policies=2, functions=2, permissions=2)

    r = run_in(binary, tmp_path, "create", "--auth", "lambda", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert inv.counts(domain) == with_authorizer
    out = outputs(tmp_path)
    authorizers = inv.apigw.get_authorizer(ApiId=out["api_id"], AuthorizerId=out["authorizer_id"])
    assert authorizers["AuthorizerType"] == "REQUEST"
    for key in ("route_id", "write_route_id"):
        route = inv.apigw.get_route(ApiId=out["api_id"], RouteId=out[key])
        assert route["AuthorizationType"] == "CUSTOM" and route["AuthorizerId"] == out["authorizer_id"]
    assert run_in(binary, tmp_path, "plan", "--detailed-exitcode", env=env).returncode == 0

    r = run_in(binary, tmp_path, "create", "--auth", "cognito", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert inv.counts(domain) == ONE_OF_EACH
    out = outputs(tmp_path)
    assert inv.apigw.get_authorizer(ApiId=out["api_id"], AuthorizerId=out["authorizer_id"])["AuthorizerType"] == "JWT"
    route = inv.apigw.get_route(ApiId=out["api_id"], RouteId=out["route_id"])
    assert route["AuthorizationType"] == "JWT" and sorted(route["AuthorizationScopes"]) == ["HelloAPI/hello.read", "HelloAPI/hello.write"]
    assert run_in(binary, tmp_path, "plan", "--detailed-exitcode", env=env).returncode == 0
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0
    assert inv.counts()["apis"] == 0 and inv.counts()["roles"] == 0


def test_replacing_the_user_pool_needs_allow_replace(binary, fresh_moto, proxy, tmp_path):
    env = stack_env(proxy.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    pool = outputs(tmp_path)["user_pool_id"]
    before = len(proxy.log)
    state = (tmp_path / "state.json").read_bytes()
    r = run_in(binary, tmp_path, "create", "--user-pool-name", "OtherPool", env=env)
    assert r.returncode == 1
    assert "--allow-replace" in r.stderr and "Cognito user pool" in r.stderr
    assert "pool_name" in r.stderr  # the plan is shown
    assert writes(proxy.log[before:]) == []
    assert (tmp_path / "state.json").read_bytes() == state

    r = run_in(binary, tmp_path, "create", "--user-pool-name", "OtherPool", "--allow-replace", env=env)
    assert r.returncode == 0, r.stderr
    out = outputs(tmp_path)
    inv = Inventory(fresh_moto)
    assert out["user_pool_id"] != pool
    assert [p["Name"] for p in inv.cognito.list_user_pools(MaxResults=60)["UserPools"]] == ["OtherPool"]
    assert inv.counts(out["user_pool_domain"]) == ONE_OF_EACH
    assert run_in(binary, tmp_path, "plan", "--detailed-exitcode", env=env).returncode == 0
