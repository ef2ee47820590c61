"""Issue 10, items 6, 7, 9, 10: inputs AWS refuses are refused before the first call with the rule
named; an issuer keeps its trailing slash; generated domain prefixes avoid Cognito's reserved
words; regions of other partitions are refused. "Before any call" is proven by the FaultProxy's
request count (every request of the run would pass through it)."""
import datetime
import json
import re

import botocore.session
import pytest

from conftest import Inventory, run_in, stack_env

MODELS = botocore.session.get_session()


def model_pattern(service, shape):
    return MODELS.get_service_model(service).shape_for(shape).metadata["pattern"]


def java_fullmatch(pattern, value):
    """AWS matches a model pattern against the whole value with Java's regex (\\w is ASCII there)."""
    return re.fullmatch(pattern, value, flags=re.ASCII) is not None


ESC = "\x1b"
REFUSED = {
    # item 6: each value AWS would refuse halfway through a create, and the rule the error names
    "resource server with a space": (["--resource-server", "Hello API"], {}, "cognito-idp Identifier"),
    "stack name vs IAM tag value": (["--stack-name", "Hello API (dev)"], {}, "tag value"),
    "user pool name with '#'": (["--user-pool-name", "Hello pool #1"], {}, "cognito-idp PoolName"),
    "username with a space": (["--username", "Test user"], {}, "cognito-idp Username"),
    "stage with a space": (["--stage", "my stage"], {}, "apigatewayv2 StageName"),
    "stage with a path": (["--stage", "../x"], {}, "apigatewayv2 StageName"),
    "runtime Lambda no longer creates": (["--runtime", "python3.7"], {}, "refused to create python3.7"),
    "runtime not Python": (["--runtime", "nodejs20.x"], {}, "functions are Python"),
    "plain-http issuer": (["--auth", "oidc", "--issuer", "http://issuer.example.com/realms/x", "--audience", "account"], {},
                          "must be https://"),
    "issuer that only starts like localhost": (["--auth", "oidc", "--issuer", "http://localhost.evil.example/realms/x",
                                                "--audience", "account"], {}, "must be https://"),
    "callback that only starts like localhost": (["--callback-url", "http://localhost.evil.example/cb"], {}, "must be https://"),
    "callback with a user part": (["--callback-url", "http://localhost@evil.example/cb"], {}, "user name or password"),
    "password with non-ASCII letters": ([], {"PASSWORD": "Pässwörd-123A!"}, "Basic Latin"),
    "password over 256 characters": ([], {"PASSWORD": "Aa1!" + "x" * 253}, "256 characters"),
    "CR in a name": (["--user-pool-name", "Hello\rPool"], {}, "control character"),
    "LF in a name": (["--api-name", "Hello\nAPI"], {}, "control character"),
    "ESC in a name": (["--app-client-name", ESC + "[31mred"], {}, "control character"),
    "ESC in a username": (["--username", "Test" + ESC + "]0;x"], {}, "control character"),
    # two settings naming one resource (deleting one node would delete the other's)
    "role named as the authorizer's": (["--auth", "lambda", "--role-name", "apigatewayauthorizerrole"], {},
                                       "is the Lambda authorizer's role"),
    "function named as the authorizer's": (["--auth", "lambda", "--function-name", "CognitoAuthorizerFunction"], {},
                                           "is the Lambda authorizer's function"),
    # item 10: another partition
    "aws-cn region": ([], {"AWS_REGION": "cn-north-1"}, "aws-cn partition"),
    "aws-us-gov region": ([], {"AWS_REGION": "us-gov-west-1"}, "aws-us-gov partition"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_before_any_call_with_the_rule_named(binary, proxy, tmp_path, case):
    args, extra, rule = REFUSED[case]
    r = run_in(binary, tmp_path, "create", *args, env=stack_env(proxy.url, **extra))
    assert r.returncode == 1, f"{case}: exit {r.returncode}: {r.stdout}{r.stderr}"
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("secure-api: error: "), r.stderr
    assert rule in lines[0], lines[0]
    assert ESC not in r.stderr and "\r" not in r.stderr, "a control character was echoed to the terminal"
    assert proxy.count == 0, f"{case}: {proxy.count} request(s) reached AWS: {proxy.log}"
    assert not (tmp_path / "state.json").exists()


@pytest.mark.parametrize("case", [c for c in REFUSED if "password" not in c])
def test_plan_refuses_the_same(binary, tmp_path, case):
    args, extra, rule = REFUSED[case]
    r = run_in(binary, tmp_path, "plan", *args, env=stack_env("http://127.0.0.1:9", **extra))
    assert r.returncode == 1 and rule in r.stderr, r.stdout + r.stderr


def test_resume_of_a_stack_with_a_refused_input_fails_before_any_call(binary, fresh_moto, proxy, tmp_path):
    """A state.json written by an older version with a value AWS refuses: create cannot finish
    it, says so before any call, and delete still reads it."""
    env = stack_env(fresh_moto.url)
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0, r.stderr
    state = json.loads((tmp_path / "state.json").read_text())
    state["config"]["stage_name"] = "my stage"
    state["resources"] = [e for e in state["resources"] if e["key"] != "stage"]
    (tmp_path / "state.json").write_text(json.dumps(state))
    r = run_in(binary, tmp_path, "create", env=stack_env(proxy.url))
    assert r.returncode == 1 and "cannot be finished" in r.stderr and "apigatewayv2 StageName" in r.stderr, r.stderr
    assert proxy.count == 0
    d = run_in(binary, tmp_path, "delete", env=env)
    assert d.returncode == 0, d.stdout + d.stderr


def test_resume_past_the_function_ignores_a_runtime_blocked_since(binary, fresh_moto, tmp_path):
    """The runtime matters only while the function is still to be created."""
    env = stack_env(fresh_moto.url)
    assert run_in(binary, tmp_path, "create", env=env).returncode == 0
    state = json.loads((tmp_path / "state.json").read_text())
    state["config"]["runtime"] = "python3.7"
    stage = next(e for e in state["resources"] if e["key"] == "stage")
    Inventory(fresh_moto).apigw.delete_stage(ApiId=state["outputs"]["api_id"], StageName=stage["id"])
    state["resources"] = [e for e in state["resources"] if e["key"] != "stage"]
    (tmp_path / "state.json").write_text(json.dumps(state))
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 0 and "python3.7" not in r.stdout + r.stderr, r.stdout + r.stderr
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0


def test_url_resource_server_gets_a_valid_derived_name(binary, fresh_moto, tmp_path):
    """The Cognito guide suggests URLs as identifiers; the Name (no ':' or '/') is derived."""
    identifier = "https://hello.example.com"
    env = stack_env(fresh_moto.url)
    r = run_in(binary, tmp_path, "create", "--resource-server", identifier, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads((tmp_path / "state.json").read_text())["outputs"]
    inv = Inventory(fresh_moto)
    rs = inv.cognito.describe_resource_server(UserPoolId=out["user_pool_id"], Identifier=identifier)["ResourceServer"]
    assert java_fullmatch(model_pattern("cognito-idp", "ResourceServerNameType"), rs["Name"]), rs["Name"]
    assert rs["Name"] == "hello.example.com"
    assert java_fullmatch(model_pattern("cognito-idp", "ResourceServerIdentifierType"), rs["Identifier"])
    client = inv.cognito.describe_user_pool_client(UserPoolId=out["user_pool_id"], ClientId=out["terminal_app_client_id"])
    assert f"{identifier}/hello.read" in client["UserPoolClient"]["AllowedOAuthScopes"]
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0


def test_plan_shows_the_derived_name_and_warns_of_a_deprecated_runtime(binary, tmp_path):
    r = run_in(binary, tmp_path, "plan", "--resource-server", "https://hello.example.com", env=stack_env("http://127.0.0.1:9"))
    assert r.returncode == 0, r.stderr
    assert "Identifier = https://hello.example.com\n" in r.stdout and "Name = hello.example.com\n" in r.stdout, r.stdout


# From the Lambda developer guide's runtime table (the code's table must agree): python3.9 is
# deprecated since 2025-12-15 and creatable until 2027-02-01.
PY39_BLOCK_CREATE = datetime.date(2027, 2, 1)


@pytest.mark.skipif(datetime.datetime.now(datetime.UTC).date() >= PY39_BLOCK_CREATE,
                    reason="python3.9 is no longer creatable: the refusal test covers it")
def test_deprecated_runtime_still_creatable_is_warned_not_refused(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    r = run_in(binary, tmp_path, "create", "--runtime", "python3.9", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning: runtime python3.9 is deprecated" in r.stderr
    fn = Inventory(fresh_moto).lam.get_function(FunctionName="EchoFunction")["Configuration"]
    assert fn["Runtime"] == "python3.9"
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0


def test_issuer_keeps_its_trailing_slash(binary, fresh_moto, tmp_path):
    """Item 7: API Gateway compares a token's iss with the authorizer's Issuer exactly."""
    issuer = "https://tenant.example.com/"
    env = stack_env(fresh_moto.url)
    r = run_in(binary, tmp_path, "create", "--auth", "oidc", "--issuer", issuer, "--audience", "account", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["config"]["oidc_issuer"] == issuer
    api_id = state["outputs"]["api_id"]
    authorizer_id = next(e["id"] for e in state["resources"] if e["key"] == "authorizer")
    got = Inventory(fresh_moto).apigw.get_authorizer(ApiId=api_id, AuthorizerId=authorizer_id)
    assert got["JwtConfiguration"]["Issuer"] == issuer
    assert run_in(binary, tmp_path, "delete", env=env).returncode == 0


def reserved_word_once():
    """The first CreateUserPoolDomain is answered as Cognito answers a prefix with a reserved word."""
    seen = []

    def plan(index, method, path, headers, body):
        if headers.get("X-Amz-Target", "").endswith(".CreateUserPoolDomain") and not seen:
            seen.append(json.loads(body)["Domain"])
            return {"kind": "custom", "status": 400, "headers": [("Content-Type", "application/x-amz-json-1.1")],
                    "body": b'{"__type":"InvalidParameterException","message":"Domain cannot contain reserved word: aws"}'}
        return None
    plan.seen = seen
    return plan


def test_reserved_word_error_replaces_a_generated_prefix(binary, fresh_moto, proxy, tmp_path):
    """Item 9: handled like "already taken" for a generated prefix."""
    proxy.fault = reserved_word_once()
    r = run_in(binary, tmp_path, "create", env=stack_env(proxy.url))
    assert r.returncode == 0, r.stdout + r.stderr
    first = proxy.fault.seen[0]
    assert f"domain prefix '{first}' is reserved by Cognito; trying" in r.stdout
    domain = json.loads((tmp_path / "state.json").read_text())["outputs"]["user_pool_domain"]
    assert domain != first and not any(w in domain for w in ("aws", "amazon", "cognito"))
    inv = Inventory(fresh_moto)
    assert inv.cognito.describe_user_pool_domain(Domain=domain)["DomainDescription"]["UserPoolId"]
    proxy.fault = None
    assert run_in(binary, tmp_path, "delete", env=stack_env(proxy.url)).returncode == 0


def test_reserved_word_error_for_a_given_prefix_is_an_error(binary, fresh_moto, proxy, tmp_path):
    proxy.fault = reserved_word_once()
    r = run_in(binary, tmp_path, "create", env=stack_env(proxy.url, DOMAIN_PREFIX="my-given-prefix"))
    assert r.returncode == 1 and "reserved word" in r.stderr, r.stdout + r.stderr
    proxy.fault = None
    assert run_in(binary, tmp_path, "delete", env=stack_env(proxy.url)).returncode == 0


# Regions of every partition botocore knows, judged by botocore's own partition table.
REGIONS = ["us-east-1", "eu-central-2", "il-central-1", "mx-central-1", "cn-north-1", "cn-northwest-1", "us-gov-west-1",
           "us-gov-east-1", "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1", "us-isof-south-1", "eusc-de-east-1"]


@pytest.mark.parametrize("region", REGIONS)
def test_partition_of_a_region_matches_botocore(binary, tmp_path, region):
    """Item 10: only the aws partition is supported; every other one is refused in one line."""
    partition = MODELS.get_partition_for_region(region)
    r = run_in(binary, tmp_path, "plan", "--region", region, env=stack_env("http://127.0.0.1:9"))
    if partition == "aws":
        assert r.returncode == 0, r.stderr
        assert f"arn:aws:execute-api:{region}:" in r.stdout
    else:
        assert r.returncode == 1 and f"in the {partition} partition" in r.stderr, r.stderr


def signing_region_of(client, call):
    """The credential scope region botocore signs with (its request never leaves the process)."""
    seen = []

    def stop(request, **kwargs):
        seen.append(request.headers["Authorization"].decode().split("/")[2])
        raise RuntimeError("not sent")
    client.meta.events.register("before-send", stop)
    with pytest.raises(RuntimeError):
        call()
    return seen[0]


def test_doctor_endpoints_match_botocore(binary, tmp_path):
    """The endpoints of the supported partition, including IAM's global one and its signing
    region. STS goes to a closed port, so doctor's one call never leaves the machine."""
    env = stack_env("", AWS_REGION="eu-central-2", AWS_ENDPOINT_URL_STS="http://127.0.0.1:9", AWS_MAX_ATTEMPTS="1")
    r = run_in(binary, tmp_path, "doctor", env=env, timeout=60)
    lines = {line.split()[1]: line for line in r.stdout.splitlines() if line.startswith("endpoint")}
    session = botocore.session.get_session()
    for name in ("iam", "cognito-idp", "apigatewayv2", "lambda", "logs"):
        client = session.create_client(name, region_name="eu-central-2", aws_access_key_id="x", aws_secret_access_key="y")
        assert f" {client.meta.endpoint_url} (AWS default" in lines[name], (name, client.meta.endpoint_url, lines[name])
    iam = session.create_client("iam", region_name="eu-central-2", aws_access_key_id="x", aws_secret_access_key="y")
    assert f"signed for {signing_region_of(iam, iam.list_roles)}" in lines["iam"], lines["iam"]
