"""`create` / `status` / `delete` against moto's server, checked by an independent boto3 listing."""
import json
import os
import stat
import subprocess
import time

import pytest

from conftest import NONE, ONE_OF_EACH, PASSWORD, Inventory, run_in, stack_env


def state_of(tmp_path):
    return json.loads((tmp_path / "state.json").read_text())


def test_create_builds_the_stack_as_specified_and_delete_removes_all(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"Target: local emulator at {fresh_moto.url} (region us-east-1)"
    state = state_of(tmp_path)
    out = state["outputs"]
    inv = Inventory(fresh_moto)
    assert inv.counts(out["user_pool_domain"]) == ONE_OF_EACH

    # state.json: 0600, versioned, no secret, tutorial output names.
    path = tmp_path / "state.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert state["version"] == 1
    assert PASSWORD not in path.read_text()
    for key in ("user_pool_id", "terminal_app_client_id", "api_id", "api_url", "user_pool_jwt_issuer_url"):
        assert out[key], key
    assert [e["status"] for e in state["resources"]] == ["created"] * len(state["resources"])

    # Cognito, with the tutorial's parameters.
    pool = inv.cognito.describe_user_pool(UserPoolId=out["user_pool_id"])["UserPool"]
    assert pool["Name"] == "HelloUserPool"
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 8
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["UserPoolTags"]["secure-api:stack"] == "HelloAPI"
    rs = inv.cognito.describe_resource_server(UserPoolId=out["user_pool_id"], Identifier="HelloAPI")["ResourceServer"]
    assert sorted(s["ScopeName"] for s in rs["Scopes"]) == ["hello.read", "hello.write"]
    client = inv.cognito.describe_user_pool_client(UserPoolId=out["user_pool_id"], ClientId=out["terminal_app_client_id"])["UserPoolClient"]
    assert client["ClientName"] == "Terminal Application"
    assert client["AllowedOAuthFlows"] == ["code"]
    assert sorted(client["AllowedOAuthScopes"]) == sorted(["openid", "profile", "email", "HelloAPI/hello.read"])
    assert client["CallbackURLs"] == ["http://localhost:8083/callback"]
    assert "ClientSecret" not in client
    user = inv.cognito.admin_get_user(UserPoolId=out["user_pool_id"], Username="Testuser")
    assert user["UserStatus"] == "CONFIRMED"
    assert {"Name": "email", "Value": "testuser@example.com"} in user["UserAttributes"]
    assert inv.cognito.describe_user_pool_domain(Domain=out["user_pool_domain"])["DomainDescription"]["UserPoolId"] == out["user_pool_id"]
    # The password works: a real token from the pool.
    auth = inv.cognito.initiate_auth(ClientId=out["terminal_app_client_id"], AuthFlow="USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": "Testuser", "PASSWORD": PASSWORD})
    assert auth["AuthenticationResult"]["AccessToken"].count(".") == 2

    # API Gateway.
    api = inv.apigw.get_api(ApiId=out["api_id"])
    assert api["Name"] == "HelloAPI" and api["ProtocolType"] == "HTTP" and api["Tags"]["secure-api:stack"] == "HelloAPI"
    authz = inv.apigw.get_authorizer(ApiId=out["api_id"], AuthorizerId=out["authorizer_id"])
    assert authz["AuthorizerType"] == "JWT"
    assert authz["JwtConfiguration"] == {"Audience": [out["terminal_app_client_id"]],
                                         "Issuer": f"https://cognito-idp.us-east-1.amazonaws.com/{out['user_pool_id']}"}
    assert authz["IdentitySource"] == ["$request.header.Authorization"]
    (route,) = inv.apigw.get_routes(ApiId=out["api_id"])["Items"]
    assert route["RouteKey"] == "GET /hello" and route["AuthorizationType"] == "JWT"
    assert route["AuthorizerId"] == out["authorizer_id"]
    assert sorted(route["AuthorizationScopes"]) == ["HelloAPI/hello.read", "HelloAPI/hello.write"]
    (integ,) = inv.apigw.get_integrations(ApiId=out["api_id"])["Items"]
    assert route["Target"] == f"integrations/{integ['IntegrationId']}"
    assert integ["IntegrationType"] == "AWS_PROXY" and integ["PayloadFormatVersion"] == "2.0"
    assert integ["IntegrationUri"] == out["lambda_function_arn"]
    (stage,) = inv.apigw.get_stages(ApiId=out["api_id"])["Items"]
    assert stage["StageName"] == "dev" and stage["AutoDeploy"] is True
    assert out["api_url"].endswith("/dev") and out["hello_url"].endswith("/dev/hello")

    # IAM and Lambda.
    role = inv.iam.get_role(RoleName="APIGatewayLambdaRole")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    attached = inv.iam.list_attached_role_policies(RoleName="APIGatewayLambdaRole")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
    fn = inv.lam.get_function(FunctionName="EchoFunction")
    assert fn["Configuration"]["Role"] == role["Arn"]
    assert fn["Configuration"]["Architectures"] == ["arm64"]
    assert fn["Configuration"]["Runtime"].startswith("python3.")
    assert fn["Configuration"]["Handler"] == "lambda_function.lambda_handler"
    (statement,) = json.loads(inv.lam.get_policy(FunctionName="EchoFunction")["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == f"arn:aws:execute-api:us-east-1:123456789012:{out['api_id']}/*/*"

    # status: complete.
    r = run_in(binary, tmp_path, "status", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "is complete" in r.stdout

    # The Lambda's first invocation would create its log group: simulate it, teardown must remove it.
    inv.logs.create_log_group(logGroupName="/aws/lambda/EchoFunction")
    r = run_in(binary, tmp_path, "delete", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[0].startswith("Target: local emulator")
    assert "verified nothing remains" in r.stdout
    # moto's DeleteResourceServer is a 500: the run says so and then verifies it went with the pool.
    assert "verified gone (removed with its parent)" in r.stdout
    assert inv.counts(out["user_pool_domain"]) == NONE
    assert not (tmp_path / "state.json").exists()

    r = run_in(binary, tmp_path, "delete", env=env)
    assert r.returncode == 0 and "nothing to delete" in r.stdout


def test_second_create_makes_no_create_call(binary, proxy, tmp_path):
    env = stack_env(proxy.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    proxy.reset_counters()
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0
    assert "is complete: nothing to create" in r.stdout
    assert [entry[3] for entry in proxy.log] == ["GetCallerIdentity"]
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0


def test_json_output_for_scripts(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    r = run_in(binary, tmp_path, "create", "--output", "json", env=env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["created"] == 15 and doc["outputs"]["api_id"] == state_of(tmp_path)["outputs"]["api_id"]
    assert "Target: local emulator" in r.stderr
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0


def test_status_reports_drift(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    Inventory(fresh_moto).lam.delete_function(FunctionName="EchoFunction")
    r = run_in(binary, tmp_path, "status", env=env)
    assert r.returncode == 2
    assert any("Lambda function" in line and line.rstrip().endswith("missing") for line in r.stdout.splitlines())
    r = run_in(binary, tmp_path, "delete", env=env)
    assert r.returncode == 0, r.stdout


def test_two_concurrent_creates_one_is_refused(binary, proxy, tmp_path):
    proxy.latency = 0.2  # keep the first run busy
    env = stack_env(proxy.url)
    first = subprocess.Popen([binary, "create"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    second = run_in(binary, tmp_path, "create", env=env)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert second.returncode == 1
    assert second.stderr.strip().startswith("secure-api: error: another secure-api run is using")
    assert len(second.stderr.strip().splitlines()) == 1
    proxy.latency = 0
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0


def test_existing_role_of_someone_else_is_not_adopted(binary, fresh_moto, tmp_path):
    inv = Inventory(fresh_moto)
    inv.iam.create_role(RoleName="APIGatewayLambdaRole", AssumeRolePolicyDocument="{}")
    env = stack_env(fresh_moto.url)
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 1
    assert "EntityAlreadyExists" in r.stderr or "not created by this stack" in r.stderr
    r = run_in(binary, tmp_path, "delete", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    # Our resources are gone; the foreign role is untouched.
    assert inv.iam.get_role(RoleName="APIGatewayLambdaRole")["Role"]["RoleName"] == "APIGatewayLambdaRole"
    assert inv.counts()["user_pools"] == 0 and inv.counts()["apis"] == 0
