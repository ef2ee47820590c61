"""The emulator (python -m emulator: moto's server with our extensions), driven with boto3 as an
independent client: each call it adds, and each AWS rule it enforces where plain moto 5.2.1 is
lenient (shown on a plain moto server side by side)."""
import json
import os
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config
from emulator.app import create_app
from emulator.core import Emulator
from moto.s3.models import S3Backend
from werkzeug.serving import make_server

from conftest import Moto, free_port

ROOT = Path(__file__).resolve().parent.parent
MANAGED = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
ONE_ATTEMPT = Config(retries={"max_attempts": 1, "mode": "standard"})


def client(server, service, key="testing", secret="testing"):
    """boto3 without retries: moto's 500s are answers here, not faults to retry."""
    return boto3.client(service, endpoint_url=server.url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=ONE_ATTEMPT)


@pytest.fixture(scope="module")
def ours():
    server = Moto()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plain():
    server = Moto(plain=True)
    yield server
    server.stop()


# Tests parametrized by name run on both servers ("plain" moto and "ours"). Each makes its own
# resources (new pools and APIs, names of its own), so no reset is needed between tests.


def error_of(call):
    """(HTTP status, error code, message) of a call that must fail."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"].get("Message", "")


def pool_with_server(cognito, scopes=("hello.read", "hello.write"), tags=None):
    pool = cognito.create_user_pool(PoolName="HelloUserPool", UserPoolTags=tags or {})["UserPool"]
    cognito.create_resource_server(UserPoolId=pool["Id"], Identifier="HelloAPI", Name="HelloAPI",
                                   Scopes=[{"ScopeName": s, "ScopeDescription": s} for s in scopes])
    return pool


# --- calls moto lacks ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["plain", "ours"])
def test_delete_resource_server(name, request):
    server = request.getfixturevalue(name)
    cognito = client(server, "cognito-idp")
    pool = pool_with_server(cognito)
    def call():
        return cognito.delete_resource_server(UserPoolId=pool["Id"], Identifier="HelloAPI")
    if name == "plain":
        assert error_of(call)[0] == 500
        return
    call()
    assert cognito.list_resource_servers(UserPoolId=pool["Id"], MaxResults=50)["ResourceServers"] == []
    assert error_of(call)[:2] == (400, "ResourceNotFoundException")
    assert error_of(lambda: cognito.delete_resource_server(UserPoolId="us-east-1_missing", Identifier="HelloAPI"))[:2] == \
        (400, "ResourceNotFoundException")


@pytest.mark.parametrize("name", ["plain", "ours"])
def test_update_resource_server_replaces_scopes(name, request):
    server = request.getfixturevalue(name)
    cognito = client(server, "cognito-idp")
    pool = pool_with_server(cognito)
    new = [{"ScopeName": s, "ScopeDescription": s} for s in ("hello.read", "hello.write", "hello.admin")]
    def call():
        return cognito.update_resource_server(UserPoolId=pool["Id"], Identifier="HelloAPI", Name="HelloAPI", Scopes=new)
    if name == "plain":
        assert error_of(call)[0] == 500
        return
    assert call()["ResourceServer"]["Scopes"] == new
    described = cognito.describe_resource_server(UserPoolId=pool["Id"], Identifier="HelloAPI")["ResourceServer"]
    assert [s["ScopeName"] for s in described["Scopes"]] == ["hello.read", "hello.write", "hello.admin"]
    # The added scope is usable by an app client at once; a dropped one no longer.
    cognito.update_resource_server(UserPoolId=pool["Id"], Identifier="HelloAPI", Name="HelloAPI", Scopes=new[2:])
    assert error_of(lambda: cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="m", AllowedOAuthFlows=["client_credentials"], AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=["HelloAPI/hello.read"], GenerateSecret=True))[1] == "ScopeDoesNotExistException"
    assert error_of(lambda: cognito.update_resource_server(UserPoolId=pool["Id"], Identifier="Other", Name="Other"))[1] == \
        "ResourceNotFoundException"


@pytest.mark.parametrize("name", ["plain", "ours"])
def test_cognito_tags_agree_with_describe_user_pool(name, request):
    server = request.getfixturevalue(name)
    cognito = client(server, "cognito-idp")
    pool = pool_with_server(cognito, tags={"secure-api:stack": "HelloAPI", "keep": "1"})
    if name == "plain":
        assert error_of(lambda: cognito.list_tags_for_resource(ResourceArn=pool["Arn"]))[0] == 500
        return
    assert cognito.list_tags_for_resource(ResourceArn=pool["Arn"])["Tags"] == {"secure-api:stack": "HelloAPI", "keep": "1"}
    cognito.tag_resource(ResourceArn=pool["Arn"], Tags={"added": "2"})
    cognito.untag_resource(ResourceArn=pool["Arn"], TagKeys=["keep"])
    expected = {"secure-api:stack": "HelloAPI", "added": "2"}
    assert cognito.list_tags_for_resource(ResourceArn=pool["Arn"])["Tags"] == expected
    assert cognito.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["UserPoolTags"] == expected
    missing = pool["Arn"].rsplit("/", 1)[0] + "/us-east-1_missing"
    assert error_of(lambda: cognito.list_tags_for_resource(ResourceArn=missing))[1] == "ResourceNotFoundException"


@pytest.mark.parametrize("name", ["plain", "ours"])
def test_update_stage(name, request):
    server = request.getfixturevalue(name)
    apigw = client(server, "apigatewayv2")
    api = apigw.create_api(Name="HelloAPI", ProtocolType="HTTP")["ApiId"]
    apigw.create_stage(ApiId=api, StageName="dev", AutoDeploy=True, Tags={"t": "1"})
    def call():
        return apigw.update_stage(ApiId=api, StageName="dev", AutoDeploy=False, Description="d")
    if name == "plain":
        assert error_of(call)[0] == 500
        return
    answer = call()
    assert (answer["AutoDeploy"], answer["Description"], answer["StageName"]) == (False, "d", "dev")
    stage = apigw.get_stage(ApiId=api, StageName="dev")
    assert stage["AutoDeploy"] is False and stage["Tags"] == {"t": "1"}
    assert error_of(lambda: apigw.update_stage(ApiId=api, StageName="nope", AutoDeploy=True))[:2] == (404, "NotFoundException")


@pytest.mark.parametrize("name", ["plain", "ours"])
def test_get_authorizers_paginates(name, request):
    server = request.getfixturevalue(name)
    apigw = client(server, "apigatewayv2")
    api = apigw.create_api(Name="HelloAPI", ProtocolType="HTTP")["ApiId"]
    ids = [apigw.create_authorizer(ApiId=api, Name=f"a{i}", AuthorizerType="JWT", IdentitySource=["$request.header.Authorization"],
                                   JwtConfiguration={"Issuer": "https://issuer", "Audience": ["x"]})["AuthorizerId"]
           for i in range(5)]
    if name == "plain":
        assert error_of(lambda: apigw.get_authorizers(ApiId=api))[0] == 500
        return
    assert [a["AuthorizerId"] for a in apigw.get_authorizers(ApiId=api)["Items"]] == ids
    first = apigw.get_authorizers(ApiId=api, MaxResults="2")
    assert len(first["Items"]) == 2 and first["NextToken"]
    seen = [a["AuthorizerId"] for a in first["Items"]]
    token = first["NextToken"]
    while token:
        page = apigw.get_authorizers(ApiId=api, MaxResults="2", NextToken=token)
        seen += [a["AuthorizerId"] for a in page["Items"]]
        token = page.get("NextToken")
    assert seen == ids
    assert error_of(lambda: apigw.get_authorizers(ApiId="missing"))[:2] == (404, "NotFoundException")
    assert error_of(lambda: apigw.get_authorizers(ApiId=api, NextToken="garbage"))[:2] == (400, "BadRequestException")


# --- update calls the converge issue makes, with AWS's semantics --------------------------------

def test_update_user_pool_client_resets_what_is_not_sent(ours, plain):
    """AWS: an attribute not sent in UpdateUserPoolClient goes back to its default; moto keeps it."""
    found = {}
    for name, server in (("plain", plain), ("ours", ours)):
        cognito = client(server, "cognito-idp")
        pool = pool_with_server(cognito)
        app = cognito.create_user_pool_client(
            UserPoolId=pool["Id"], ClientName="Terminal Application", AllowedOAuthFlows=["code"], AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthScopes=["openid", "HelloAPI/hello.read"], CallbackURLs=["http://localhost:8083/callback"],
            SupportedIdentityProviders=["COGNITO"],
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
        cognito.update_user_pool_client(UserPoolId=pool["Id"], ClientId=app["ClientId"], CallbackURLs=["http://localhost:9000/cb"])
        found[name] = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=app["ClientId"])["UserPoolClient"]
    assert found["plain"].get("ExplicitAuthFlows")  # moto merges
    ours = found["ours"]
    assert ours["CallbackURLs"] == ["http://localhost:9000/cb"] and ours["ClientName"] == "Terminal Application"
    assert "ExplicitAuthFlows" not in ours and "AllowedOAuthScopes" not in ours and ours["AllowedOAuthFlowsUserPoolClient"] is False


def test_update_route_clears_scopes_and_update_calls_work(ours):
    apigw, lam, iam = client(ours, "apigatewayv2"), client(ours, "lambda"), client(ours, "iam")
    api = apigw.create_api(Name="HelloAPI", ProtocolType="HTTP")["ApiId"]
    auth = apigw.create_authorizer(ApiId=api, Name="jwt", AuthorizerType="JWT", IdentitySource=["$request.header.Authorization"],
                                   JwtConfiguration={"Issuer": "https://a", "Audience": ["x"]})["AuthorizerId"]
    integ = apigw.create_integration(ApiId=api, IntegrationType="AWS_PROXY", PayloadFormatVersion="2.0",
                                     IntegrationUri="arn:aws:lambda:us-east-1:123456789012:function:EchoFunction")["IntegrationId"]
    route = apigw.create_route(ApiId=api, RouteKey="GET /hello", AuthorizationType="JWT", AuthorizerId=auth,
                               AuthorizationScopes=["HelloAPI/hello.read"], Target=f"integrations/{integ}")["RouteId"]
    apigw.update_route(ApiId=api, RouteId=route, AuthorizationType="NONE", AuthorizationScopes=[])
    got = apigw.get_route(ApiId=api, RouteId=route)
    assert got["AuthorizationType"] == "NONE" and got.get("AuthorizationScopes", []) == []
    apigw.update_route(ApiId=api, RouteId=route, AuthorizationType="JWT", AuthorizerId=auth, AuthorizationScopes=["HelloAPI/hello.write"])
    assert apigw.get_route(ApiId=api, RouteId=route)["AuthorizationScopes"] == ["HelloAPI/hello.write"]
    apigw.update_authorizer(ApiId=api, AuthorizerId=auth, JwtConfiguration={"Issuer": "https://b", "Audience": ["y"]})
    assert apigw.get_authorizer(ApiId=api, AuthorizerId=auth)["JwtConfiguration"] == {"Issuer": "https://b", "Audience": ["y"]}
    apigw.update_integration(ApiId=api, IntegrationId=integ, IntegrationUri="arn:aws:lambda:us-east-1:123456789012:function:Other")
    assert apigw.get_integration(ApiId=api, IntegrationId=integ)["IntegrationUri"].endswith(":Other")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                      "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="UpdateRole", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName="UpdateRole", PolicyArn=MANAGED)
    trust["Statement"][0]["Principal"]["Service"] = "edgelambda.amazonaws.com"
    iam.update_assume_role_policy(RoleName="UpdateRole", PolicyDocument=json.dumps(trust))
    assert iam.get_role(RoleName="UpdateRole")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == \
        {"Service": "edgelambda.amazonaws.com"}
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(e, c):\n    return 'hi'\n")
    lam.create_function(FunctionName="UpdatedFunction", Runtime="python3.12", Handler="app.handler", Role=role,
                        Code={"ZipFile": buf.getvalue()})
    before = lam.get_function(FunctionName="UpdatedFunction")["Configuration"]["CodeSha256"]
    with zipfile.ZipFile(buf, "a") as z:
        z.writestr("more.py", "X = 1\n")
    lam.update_function_code(FunctionName="UpdatedFunction", ZipFile=buf.getvalue())
    lam.update_function_configuration(FunctionName="UpdatedFunction", Handler="more.handler")
    config = lam.get_function(FunctionName="UpdatedFunction")["Configuration"]
    assert config["CodeSha256"] != before and config["Handler"] == "more.handler" and config["LastUpdateStatus"] == "Successful"
    lam.add_permission(FunctionName="UpdatedFunction", StatementId="apigateway-invoke", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com")
    lam.remove_permission(FunctionName="UpdatedFunction", StatementId="apigateway-invoke")
    assert error_of(lambda: lam.remove_permission(FunctionName="UpdatedFunction", StatementId="apigateway-invoke"))[:2] == \
        (404, "ResourceNotFoundException")


# --- AWS's rules where moto is lenient: plain moto accepts, ours refuses as AWS does --------------

@pytest.mark.parametrize("name", ["plain", "ours"])
def test_delete_user_pool_with_domain_is_refused(name, request):
    server = request.getfixturevalue(name)
    cognito = client(server, "cognito-idp")
    pool = pool_with_server(cognito)
    cognito.create_user_pool_domain(Domain=f"prefix-{name}", UserPoolId=pool["Id"])
    def call():
        return cognito.delete_user_pool(UserPoolId=pool["Id"])
    if name == "plain":
        call()
        return
    assert error_of(call) == (400, "InvalidParameterException",
                              "User pool cannot be deleted. It has a domain configured that should be deleted first.")
    cognito.delete_user_pool_domain(Domain=f"prefix-{name}", UserPoolId=pool["Id"])
    call()
    assert error_of(lambda: cognito.describe_user_pool(UserPoolId=pool["Id"]))[1] == "ResourceNotFoundException"


@pytest.mark.parametrize("name", ["plain", "ours"])
def test_taken_domain_prefix_is_refused(name, request):
    server = request.getfixturevalue(name)
    cognito = client(server, "cognito-idp")
    first, second = pool_with_server(cognito), pool_with_server(cognito)
    cognito.create_user_pool_domain(Domain="takenprefix", UserPoolId=first["Id"])
    def call():
        return cognito.create_user_pool_domain(Domain="takenprefix", UserPoolId=second["Id"])
    if name == "plain":
        call()
        return
    assert error_of(call) == (400, "InvalidParameterException", "Domain already associated with another user pool.")
    assert cognito.describe_user_pool_domain(Domain="takenprefix")["DomainDescription"]["UserPoolId"] == first["Id"]
    # One domain per pool.
    assert error_of(lambda: cognito.create_user_pool_domain(Domain="secondprefix", UserPoolId=first["Id"])) == \
        (400, "InvalidParameterException", "User pool already has a domain configured.")
    # Another account in the same region cannot take it either: prefixes are global.
    other = client(server, "cognito-idp")
    other.meta.events.register("before-sign.*.*", lambda request, **_: request.headers.__setitem__("x-moto-account-id", "210987654321"))
    third = other.create_user_pool(PoolName="Other")["UserPool"]
    assert error_of(lambda: other.create_user_pool_domain(Domain="takenprefix", UserPoolId=third["Id"]))[2] == \
        "Domain already associated with another user pool."


@pytest.mark.parametrize("operation", ["create", "update"])
@pytest.mark.parametrize("name", ["plain", "ours"])
def test_undefined_scope_in_app_client_is_refused(name, request, operation):
    server = request.getfixturevalue(name)
    cognito = client(server, "cognito-idp")
    pool = pool_with_server(cognito)
    settings = {"UserPoolId": pool["Id"], "AllowedOAuthFlows": ["code"], "AllowedOAuthFlowsUserPoolClient": True,
                "CallbackURLs": ["http://localhost:8083/callback"], "SupportedIdentityProviders": ["COGNITO"]}
    scopes = ["openid", "HelloAPI/hello.read", "HelloAPI/hello.admin"]
    if operation == "create":
        def call():
            return cognito.create_user_pool_client(ClientName="c", AllowedOAuthScopes=scopes, **settings)
    else:
        app = cognito.create_user_pool_client(ClientName="c", AllowedOAuthScopes=scopes[:2], **settings)["UserPoolClient"]
        def call():
            return cognito.update_user_pool_client(ClientId=app["ClientId"], ClientName="c", AllowedOAuthScopes=scopes, **settings)
    if name == "plain":
        call()
        return
    assert error_of(call) == (400, "ScopeDoesNotExistException", "Invalid scope requested: HelloAPI/hello.admin")
    assert [c["ClientName"] for c in cognito.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]] == \
        ([] if operation == "create" else ["c"])


@pytest.mark.parametrize("name", ["plain", "ours"])
def test_duplicate_statement_id_is_refused(name, request):
    server = request.getfixturevalue(name)
    iam, lam = client(server, "iam"), client(server, "lambda")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(e, c):\n    return 1\n")
    lam.create_function(FunctionName="EchoFunction", Runtime="python3.12", Handler="app.handler", Role=role,
                        Code={"ZipFile": buf.getvalue()})
    def call():
        return lam.add_permission(FunctionName="EchoFunction", StatementId="apigateway-invoke", Action="lambda:InvokeFunction",
                                          Principal="apigateway.amazonaws.com",
                                          SourceArn="arn:aws:execute-api:us-east-1:123456789012:abc/*/*")
    call()
    if name == "plain":
        call()
        return
    status, code, message = error_of(call)
    assert (status, code) == (409, "ResourceConflictException") and "apigateway-invoke" in message
    assert len(json.loads(lam.get_policy(FunctionName="EchoFunction")["Policy"])["Statement"]) == 1


@pytest.mark.parametrize("name", ["plain", "ours"])
def test_duplicate_route_key_and_stage_name_are_conflicts(name, request):
    server = request.getfixturevalue(name)
    apigw = client(server, "apigatewayv2")
    api = apigw.create_api(Name="HelloAPI", ProtocolType="HTTP")["ApiId"]
    apigw.create_route(ApiId=api, RouteKey="GET /hello")
    apigw.create_stage(ApiId=api, StageName="dev", AutoDeploy=True)
    def route():
        return apigw.create_route(ApiId=api, RouteKey="GET /hello")
    def stage():
        return apigw.create_stage(ApiId=api, StageName="dev", AutoDeploy=False)
    if name == "plain":
        route()
        stage()
        return
    assert error_of(route)[:2] == (409, "ConflictException")
    assert error_of(stage)[:2] == (409, "ConflictException")
    assert len(apigw.get_routes(ApiId=api)["Items"]) == 1
    assert apigw.get_stage(ApiId=api, StageName="dev")["AutoDeploy"] is True
    other = apigw.create_route(ApiId=api, RouteKey="POST /hello")["RouteId"]
    assert error_of(lambda: apigw.update_route(ApiId=api, RouteId=other, RouteKey="GET /hello"))[:2] == (409, "ConflictException")


@pytest.mark.parametrize("kind", ["api", "route", "stage", "integration", "authorizer"])
@pytest.mark.parametrize("name", ["plain", "ours"])
def test_delete_of_missing_thing_is_404(name, request, kind):
    server = request.getfixturevalue(name)
    apigw = client(server, "apigatewayv2")
    api = apigw.create_api(Name="HelloAPI", ProtocolType="HTTP")["ApiId"]
    call = {
        "api": lambda: apigw.delete_api(ApiId="missing1"),
        "route": lambda: apigw.delete_route(ApiId=api, RouteId="missing1"),
        "stage": lambda: apigw.delete_stage(ApiId=api, StageName="missing1"),
        "integration": lambda: apigw.delete_integration(ApiId=api, IntegrationId="missing1"),
        "authorizer": lambda: apigw.delete_authorizer(ApiId=api, AuthorizerId="missing1"),
    }[kind]
    if name == "plain":
        call()
        return
    assert error_of(call)[:2] == (404, "NotFoundException")
    # A child of a missing API is missing too.
    if kind != "api":
        assert error_of(lambda: apigw.delete_route(ApiId="missing2", RouteId="x"))[:2] == (404, "NotFoundException")


def test_deletes_of_existing_things_still_work(ours):
    apigw = client(ours, "apigatewayv2")
    api = apigw.create_api(Name="HelloAPI", ProtocolType="HTTP")["ApiId"]
    route = apigw.create_route(ApiId=api, RouteKey="GET /hello")["RouteId"]
    apigw.create_stage(ApiId=api, StageName="dev")
    apigw.delete_route(ApiId=api, RouteId=route)
    apigw.delete_stage(ApiId=api, StageName="dev")
    assert apigw.get_routes(ApiId=api)["Items"] == [] and apigw.get_stages(ApiId=api)["Items"] == []
    apigw.delete_api(ApiId=api)
    assert api not in [a["ApiId"] for a in apigw.get_apis()["Items"]]


# --- moto's signature checks cover the calls we answer ---------------------------------------------

def test_signature_checked_on_added_calls():
    server = Moto({"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    try:
        iam = client(server, "iam")
        iam.create_user(UserName="tester")
        iam.put_user_policy(UserName="tester", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="tester")["AccessKey"]
        good = client(server, "cognito-idp", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
        bad = client(server, "cognito-idp", key=key["AccessKeyId"], secret="not-the-secret")
        pool = pool_with_server(good, tags={"a": "1"})
        assert good.list_tags_for_resource(ResourceArn=pool["Arn"])["Tags"] == {"a": "1"}
        # The same answer as moto gives for its own calls (403 SignatureDoesNotMatch, in XML).
        mine = error_of(lambda: bad.delete_resource_server(UserPoolId=pool["Id"], Identifier="HelloAPI"))
        assert mine == error_of(lambda: bad.list_user_pools(MaxResults=10)) and mine[0] == 403
        # A rule's refusal is not answered to an unauthenticated caller either.
        good.create_user_pool_domain(Domain="signedprefix", UserPoolId=pool["Id"])
        assert error_of(lambda: bad.delete_user_pool(UserPoolId=pool["Id"])) == mine
        assert good.describe_resource_server(UserPoolId=pool["Id"], Identifier="HelloAPI")["ResourceServer"]["Name"] == "HelloAPI"
    finally:
        server.stop()


# --- the launcher: one process, pid and log per port -------------------------------------------

def make(*args):
    # Run as a user would: not with the port variables a surrounding `make test` exports.
    env = {k: v for k, v in os.environ.items() if k not in ("EMULATOR_PORT", "MOTO_PORT", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=120, env=env)


def up(port):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2)
        return True
    except OSError:
        return False


def test_make_emulator_per_port():
    first, second = free_port(), free_port()
    try:
        r = make("emulator", f"EMULATOR_PORT={first}")
        assert r.returncode == 0, r.stderr
        r = make("emulator", f"MOTO_PORT={second}")  # the old name still works
        assert r.returncode == 0, r.stderr
        assert (ROOT / f".emulator-{first}.pid").exists() and (ROOT / f".emulator-{second}.pid").exists()
        assert (ROOT / f".emulator-{second}.log").exists()
        assert up(first) and up(second)
        assert "already running" in make("emulator", f"EMULATOR_PORT={first}").stdout
        # An added call answers, so it is our emulator and not plain moto.
        cognito = boto3.client("cognito-idp", endpoint_url=f"http://127.0.0.1:{second}", region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing", config=ONE_ATTEMPT)
        pool = pool_with_server(cognito)
        cognito.delete_resource_server(UserPoolId=pool["Id"], Identifier="HelloAPI")
        r = make("emulator-stop", f"EMULATOR_PORT={second}")
        assert r.returncode == 0 and f"port {second} stopped" in r.stdout
        assert not up(second) and up(first)
        assert not (ROOT / f".emulator-{second}.pid").exists()
    finally:
        for port in (first, second):
            make("emulator-stop", f"EMULATOR_PORT={port}")
            (ROOT / f".emulator-{port}.log").unlink(missing_ok=True)
    assert not up(first)


# --- every call the tool makes answers on the emulator -----------------------------------------

def swift_operations():
    """The AWS operations named at the tool's call sites (Sources/Services/*.swift)."""
    import re
    ops = set()
    for f in (ROOT / "Sources" / "Services").glob("*.swift"):
        # Direct calls, IAM's paged lists, and the typed create requests (`var operation: String { "CreateApi" }`).
        ops |= set(re.findall(r'(?:(?:call|items|pages)\("|(?:rest|query|json)\(\.\w+, "|operation: String \{ ")(\w+)"', f.read_text()))
    return ops


def test_every_call_the_tool_makes_answers(ours):
    answered = {}

    def recorded(service):
        c = client(ours, service)
        def record(http_response, model, **_):
            answered.setdefault(model.name, set()).add(http_response.status_code)
        c.meta.events.register("after-call", record)
        return c

    cognito, apigw, lam, iam, logs, sts = (recorded(s) for s in ("cognito-idp", "apigatewayv2", "lambda", "iam", "logs", "sts"))
    sts.get_caller_identity()
    pool = pool_with_server(cognito, tags={"secure-api:stack": "every-call"})
    cognito.describe_user_pool(UserPoolId=pool["Id"])
    cognito.list_user_pools(MaxResults=60)
    cognito.describe_resource_server(UserPoolId=pool["Id"], Identifier="HelloAPI")
    cognito.create_user_pool_domain(Domain="everycallprefix", UserPoolId=pool["Id"])
    cognito.describe_user_pool_domain(Domain="everycallprefix")
    app = cognito.create_user_pool_client(UserPoolId=pool["Id"], ClientName="Terminal Application", AllowedOAuthFlows=["code"],
                                          AllowedOAuthScopes=["openid", "HelloAPI/hello.read"], AllowedOAuthFlowsUserPoolClient=True,
                                          CallbackURLs=["http://localhost:8083/callback"], SupportedIdentityProviders=["COGNITO"],
                                          ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    cognito.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)
    cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=app["ClientId"])
    cognito.admin_create_user(UserPoolId=pool["Id"], Username="Testuser", MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": "testuser@example.com"}])
    cognito.admin_set_user_password(UserPoolId=pool["Id"], Username="Testuser", Password="Corr3ct-Horse!", Permanent=True)
    cognito.admin_get_user(UserPoolId=pool["Id"], Username="Testuser")
    cognito.initiate_auth(ClientId=app["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                          AuthParameters={"USERNAME": "Testuser", "PASSWORD": "Corr3ct-Horse!"})

    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                      "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="EveryCallRole", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.get_role(RoleName="EveryCallRole")
    iam.attach_role_policy(RoleName="EveryCallRole", PolicyArn=MANAGED)
    iam.list_attached_role_policies(RoleName="EveryCallRole")
    # An inline policy put behind the stack's back: drift the tool lists and removes.
    iam.put_role_policy(RoleName="EveryCallRole", PolicyName="extra", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    iam.list_role_policies(RoleName="EveryCallRole")
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", "def lambda_handler(e, c):\n    return 'hello world'\n")
    fn = lam.create_function(FunctionName="EveryCallFunction", Runtime="python3.12", Handler="lambda_function.lambda_handler",
                             Role=role, Code={"ZipFile": buf.getvalue()}, Architectures=["arm64"])["FunctionArn"]
    lam.get_function(FunctionName="EveryCallFunction")

    api = apigw.create_api(Name="EveryCall", ProtocolType="HTTP")["ApiId"]
    apigw.get_api(ApiId=api)
    apigw.get_apis()
    auth = apigw.create_authorizer(ApiId=api, Name="jwt", AuthorizerType="JWT", IdentitySource=["$request.header.Authorization"],
                                   JwtConfiguration={"Issuer": "https://issuer", "Audience": [app["ClientId"]]})["AuthorizerId"]
    apigw.get_authorizer(ApiId=api, AuthorizerId=auth)
    apigw.get_authorizers(ApiId=api)
    lam.add_permission(FunctionName="EveryCallFunction", StatementId="apigateway-invoke", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com", SourceArn=f"arn:aws:execute-api:us-east-1:123456789012:{api}/*/*")
    lam.get_policy(FunctionName="EveryCallFunction")
    integ = apigw.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=fn, IntegrationMethod="POST",
                                     PayloadFormatVersion="2.0")["IntegrationId"]
    apigw.get_integration(ApiId=api, IntegrationId=integ)
    apigw.get_integrations(ApiId=api)
    route = apigw.create_route(ApiId=api, RouteKey="GET /hello", AuthorizationType="JWT", AuthorizerId=auth,
                               AuthorizationScopes=["HelloAPI/hello.read"], Target=f"integrations/{integ}")["RouteId"]
    apigw.get_route(ApiId=api, RouteId=route)
    apigw.get_routes(ApiId=api)
    apigw.create_stage(ApiId=api, StageName="dev", AutoDeploy=True)
    apigw.get_stage(ApiId=api, StageName="dev")
    logs.create_log_group(logGroupName="/aws/lambda/EveryCallFunction")
    logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/EveryCallFunction")

    # The converge updates, with what the tool sends.
    cognito.update_user_pool(UserPoolId=pool["Id"], Policies={"PasswordPolicy": {"MinimumLength": 10}}, AutoVerifiedAttributes=["email"],
                             UserPoolTags={"secure-api:stack": "every-call"})
    cognito.update_resource_server(UserPoolId=pool["Id"], Identifier="HelloAPI", Name="HelloAPI",
                                   Scopes=[{"ScopeName": "hello.read", "ScopeDescription": "read"},
                                           {"ScopeName": "hello.write", "ScopeDescription": "write"}])
    cognito.update_user_pool_client(UserPoolId=pool["Id"], ClientId=app["ClientId"], ClientName="Terminal Application",
                                    AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid", "HelloAPI/hello.write"],
                                    AllowedOAuthFlowsUserPoolClient=True, CallbackURLs=["https://app.example.com/cb"],
                                    SupportedIdentityProviders=["COGNITO"], ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"])
    cognito.admin_update_user_attributes(UserPoolId=pool["Id"], Username="Testuser",
                                         UserAttributes=[{"Name": "email", "Value": "other@example.com"}])
    iam.update_assume_role_policy(RoleName="EveryCallRole", PolicyDocument=json.dumps(trust))
    lam.update_function_configuration(FunctionName="EveryCallFunction", Runtime="python3.12", Handler="lambda_function.lambda_handler",
                                      Role=role, Environment={"Variables": {"X": "1"}})
    lam.update_function_code(FunctionName="EveryCallFunction", ZipFile=buf.getvalue(), Architectures=["arm64"])
    apigw.update_api(ApiId=api, Name="EveryCall2")
    apigw.update_authorizer(ApiId=api, AuthorizerId=auth, Name="jwt", AuthorizerType="JWT",
                            IdentitySource=["$request.header.Authorization"],
                            JwtConfiguration={"Issuer": "https://issuer2", "Audience": [app["ClientId"]]})
    apigw.update_integration(ApiId=api, IntegrationId=integ, IntegrationType="AWS_PROXY", IntegrationUri=fn, IntegrationMethod="POST",
                             PayloadFormatVersion="2.0")
    apigw.update_route(ApiId=api, RouteId=route, RouteKey="GET /hello", AuthorizationType="JWT", AuthorizerId=auth,
                       AuthorizationScopes=[], Target=f"integrations/{integ}")
    apigw.update_stage(ApiId=api, StageName="dev", AutoDeploy=True)

    # Teardown in the tool's order.
    apigw.delete_stage(ApiId=api, StageName="dev")
    apigw.delete_route(ApiId=api, RouteId=route)
    apigw.delete_integration(ApiId=api, IntegrationId=integ)
    lam.remove_permission(FunctionName="EveryCallFunction", StatementId="apigateway-invoke")
    apigw.delete_authorizer(ApiId=api, AuthorizerId=auth)
    apigw.delete_api(ApiId=api)
    lam.delete_function(FunctionName="EveryCallFunction")
    logs.delete_log_group(logGroupName="/aws/lambda/EveryCallFunction")
    iam.delete_role_policy(RoleName="EveryCallRole", PolicyName="extra")
    iam.detach_role_policy(RoleName="EveryCallRole", PolicyArn=MANAGED)
    iam.delete_role(RoleName="EveryCallRole")
    cognito.admin_delete_user(UserPoolId=pool["Id"], Username="Testuser")
    cognito.delete_user_pool_client(UserPoolId=pool["Id"], ClientId=app["ClientId"])
    cognito.delete_resource_server(UserPoolId=pool["Id"], Identifier="HelloAPI")
    cognito.delete_user_pool_domain(Domain="everycallprefix", UserPoolId=pool["Id"])
    cognito.delete_user_pool(UserPoolId=pool["Id"])

    needed = swift_operations()
    assert len(needed) > 40  # the regex still finds the call sites
    assert needed - set(answered) == set(), "calls of the tool not exercised here"
    assert {op: codes for op, codes in answered.items() if op in needed and not codes <= {200, 201, 202, 204}} == {}


@pytest.mark.parametrize("serialized", [True, False], ids=["ours", "moto-unserialized"])
def test_conditional_writes_of_one_key_are_decided_one_at_a_time(serialized, monkeypatch):
    """As S3 does: of concurrent `If-None-Match: *` PUTs of one key exactly one succeeds. moto
    checks the condition and then writes, unlocked; its check is made slow here (in this process's
    own server) so the window is wide enough to see: without our serialization several writers
    "take" the same lock (the case that shows the check is real), with it exactly one."""
    original = S3Backend.get_object

    def slow_get_object(self, *args, **kwargs):
        found = original(self, *args, **kwargs)
        time.sleep(0.05)
        return found

    monkeypatch.setattr(S3Backend, "get_object", slow_get_object)
    app = create_app()
    if not serialized:
        monkeypatch.setattr(Emulator, "__call__", lambda self, environ, start: self.moto_app(environ, start))
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{server.server_port}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing", config=ONE_ATTEMPT)
        bucket = f"conditional-writes-{'ours' if serialized else 'moto'}"  # moto's backends live on in this process
        s3.create_bucket(Bucket=bucket)
        start, wins, refused, lock = threading.Barrier(8), [], [], threading.Lock()

        def take(n):
            start.wait()
            try:
                s3.put_object(Bucket=bucket, Key="state.json.lock", Body=f"holder {n}".encode(), IfNoneMatch="*")
            except botocore.exceptions.ClientError as e:
                with lock:
                    refused.append(e.response["ResponseMetadata"]["HTTPStatusCode"])
                return
            with lock:
                wins.append(n)

        threads = [threading.Thread(target=take, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stored = s3.get_object(Bucket=bucket, Key="state.json.lock")["Body"].read()
    finally:
        server.shutdown()
    if serialized:
        assert len(wins) == 1 and refused == [412] * 7, (wins, refused)
        assert stored == f"holder {wins[0]}".encode()
    else:
        assert len(wins) > 1, (wins, refused, "moto alone decided every conditional write one at a time: the test shows no race")
