"""Nothing is deleted, or reported as existing, unless it is provably this stack's; and a stack is
only ever changed at the endpoints where it was made (issue: hardening, items 1 and 2)."""
import json

from conftest import ONE_OF_EACH, Inventory, run_in, stack_env

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
OTHER = [{"Key": "owner", "Value": "other-team"}]


def replace_role_and_function_behind_our_back(inv):
    """Another team deletes our function and role and makes its own with the same names."""
    inv.lam.delete_function(FunctionName="EchoFunction")
    inv.iam.detach_role_policy(RoleName="APIGatewayLambdaRole",
                               PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    inv.iam.delete_role(RoleName="APIGatewayLambdaRole")
    role = inv.iam.create_role(RoleName="APIGatewayLambdaRole", AssumeRolePolicyDocument=TRUST, Tags=OTHER)["Role"]
    inv.iam.attach_role_policy(RoleName="APIGatewayLambdaRole",
                               PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    inv.lam.create_function(FunctionName="EchoFunction", Runtime="python3.12", Role=role["Arn"], Handler="x.handler",
                            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18}, Tags={"owner": "other-team"})
    return role


def test_delete_leaves_same_named_resources_of_another_owner_alone(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    inv = Inventory(fresh_moto)
    theirs = replace_role_and_function_behind_our_back(inv)

    r = run_in(binary, tmp_path, "status", env=env)
    assert r.returncode == 2, r.stdout
    lines = {line.split()[0] + " " + line.split()[1]: line for line in r.stdout.splitlines() if "NOT OURS" in line}
    assert any("IAM role" in line and "APIGatewayLambdaRole" in line for line in lines.values()), r.stdout
    assert any("Lambda function" in line and "EchoFunction" in line for line in lines.values()), r.stdout
    assert "exists" not in [line.split()[-1] for line in r.stdout.splitlines() if "EchoFunction" in line and "Lambda function " in line]

    r = run_in(binary, tmp_path, "delete", env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "verified nothing remains" not in r.stdout
    assert "left alone" in r.stderr and "iam:role APIGatewayLambdaRole" in r.stderr and "lambda:function EchoFunction" in r.stderr
    # Theirs survive, untouched: the role (same RoleId, its policy still attached) and the function.
    role = inv.iam.get_role(RoleName="APIGatewayLambdaRole")["Role"]
    assert role["RoleId"] == theirs["RoleId"]
    assert [p["PolicyName"] for p in inv.iam.list_attached_role_policies(RoleName="APIGatewayLambdaRole")["AttachedPolicies"]] \
        == ["AWSLambdaBasicExecutionRole"]
    assert inv.lam.get_function(FunctionName="EchoFunction")["Tags"] == {"owner": "other-team"}
    # Everything that was ours is gone; ours were replaced, so state.json has nothing left to track.
    counts = inv.counts()
    assert counts["user_pools"] == 0 and counts["apis"] == 0 and counts["roles"] == 1 and counts["functions"] == 1
    assert not (tmp_path / "state.json").exists()


def test_a_resource_of_ours_whose_tag_was_changed_is_left_alone_and_kept_in_state(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    state = json.loads((tmp_path / "state.json").read_text())
    api_id = state["outputs"]["api_id"]
    inv = Inventory(fresh_moto)
    arn = f"arn:aws:apigateway:us-east-1::/apis/{api_id}"
    inv.apigw.tag_resource(ResourceArn=arn, Tags={"secure-api:id": "sa-someoneelse"})

    r = run_in(binary, tmp_path, "status", env=env)
    assert r.returncode == 2
    assert "NOT OURS" in next(line for line in r.stdout.splitlines() if line.strip().startswith("HTTP API")), r.stdout
    assert "NOT OURS" in next(line for line in r.stdout.splitlines() if "API route (read)" in line), r.stdout

    r = run_in(binary, tmp_path, "delete", env=env)
    assert r.returncode == 1
    assert "state kept" in r.stderr
    # The API and its routes are untouched; state.json still lists them.
    assert inv.apigw.get_api(ApiId=api_id)["ApiId"] == api_id
    assert len(inv.apigw.get_routes(ApiId=api_id)["Items"]) == 2
    left = {e["key"] for e in json.loads((tmp_path / "state.json").read_text())["resources"]}
    assert {"http_api", "route", "route_write", "stage", "integration", "authorizer"} <= left
    assert inv.counts()["user_pools"] == 0  # what was provably ours went


def test_delete_refuses_when_a_service_endpoint_differs_from_where_the_stack_was_made(binary, fresh_moto, proxy, tmp_path):
    # Cognito at B (moto directly), everything else at A (the proxy in front of the same moto).
    env = stack_env(proxy.url, AWS_ENDPOINT_URL_COGNITO_IDP=fresh_moto.url)
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stderr
    assert not any((c.op or "").startswith("CreateUserPool") for c in proxy.log)  # Cognito went to B
    endpoints = json.loads((tmp_path / "state.json").read_text())["target"]["endpoints"]
    assert endpoints["cognito-idp"] == fresh_moto.url and endpoints["lambda"] == proxy.url
    before = (tmp_path / "state.json").read_bytes()

    calls = proxy.count
    for command in ("delete", "status", "create"):
        r = run_in(binary, tmp_path, command, env=stack_env(proxy.url))
        assert r.returncode == 1, (command, r.stdout, r.stderr)
        assert "cognito-idp was created at " + fresh_moto.url in r.stderr
        assert f"AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER={fresh_moto.url}" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert proxy.count == calls, "refused before any call"
    assert (tmp_path / "state.json").read_bytes() == before
    assert Inventory(fresh_moto).counts()["user_pools"] == 1

    r = run_in(binary, tmp_path, "delete", env=env)
    assert r.returncode == 0, r.stderr
    assert Inventory(fresh_moto).counts()["user_pools"] == 0


def test_a_version_1_state_still_reads_resumes_and_deletes(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    path = tmp_path / "state.json"
    doc = json.loads(path.read_text())
    doc["version"] = 1
    del doc["target"]["endpoints"]
    for record in doc["resources"]:
        record.pop("unique_id", None)
    # Interrupted before the stage: version 1 had no per-service endpoints and no unique IDs.
    stage = next(r for r in doc["resources"] if r["key"] == "stage")
    doc["resources"].remove(stage)
    path.write_text(json.dumps(doc))
    Inventory(fresh_moto).apigw.delete_stage(ApiId=doc["outputs"]["api_id"], StageName="dev")

    assert run_in(binary, tmp_path, "status", env=env).returncode == 2  # stage not created
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stderr
    upgraded = json.loads(path.read_text())
    assert upgraded["version"] == 2 and upgraded["target"]["endpoints"]["cognito-idp"] == fresh_moto.url
    assert Inventory(fresh_moto).counts(doc["outputs"]["user_pool_domain"]) == ONE_OF_EACH
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0

    # A version-1 file with another base endpoint is refused, as before.
    doc["target"]["endpoint"] = "http://127.0.0.1:1"
    path.write_text(json.dumps(doc))
    r = run_in(binary, tmp_path, "delete", env=env)
    assert r.returncode == 1 and "http://127.0.0.1:1" in r.stderr
