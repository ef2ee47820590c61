"""Bad input is refused with one clear line, before any AWS call, and state.json is left
byte-for-byte as it was."""
import json

import pytest

from conftest import PASSWORD, run_in, stack_env


@pytest.fixture(scope="module")
def real_state(tmp_path_factory, binary, moto):
    moto.reset()
    d = tmp_path_factory.mktemp("real")
    env = stack_env(moto.url)
    assert run_in(binary, d, "create", env=env).returncode == 0
    text = (d / "state.json").read_text()
    assert run_in(binary, d, "delete", env=env).returncode == 0
    return text


def variants(real):
    doc = json.loads(real)
    unknown_version = dict(doc, version=99)
    string_version = dict(doc, version="1")
    wrong_resources = dict(doc, resources="user_pool")
    bad_status = json.loads(real)
    bad_status["resources"][0]["status"] = "done"
    wrong_id_type = json.loads(real)
    wrong_id_type["resources"][0]["id"] = 42
    no_config = {k: v for k, v in doc.items() if k != "config"}
    bad_requested = json.loads(real)
    bad_requested["resources"][0].update(status="pending", requested_at="inf")
    bad_function = json.loads(real)
    bad_function["config"]["function_name"] = ".."
    bad_auth = json.loads(real)
    bad_auth["config"]["auth"] = "kerberos"
    bad_endpoints = json.loads(real)
    bad_endpoints["target"]["endpoints"] = "http://127.0.0.1:1"
    bad_endpoint_url = json.loads(real)
    bad_endpoint_url["target"]["endpoints"]["lambda"] = "ftp://x"
    fn = next(r for r in doc["resources"] if r["key"] == "lambda_function")
    deposed_copy = json.loads(real)
    deposed_copy["resources"].append(dict(fn, status="deposed"))
    other_key_copy = json.loads(real)
    other_key_copy["resources"].append(dict(fn, key="authorizer_function"))
    return {
        # One resource in two records: deleting one would delete the other's live resource.
        "deposed copy of a live record": (json.dumps(deposed_copy), "both name lambda:function"),
        "another key naming the same resource": (json.dumps(other_key_copy), "both name lambda:function"),
        "not json": ("this is not json\n", "not valid JSON"),
        "truncated": (real[: len(real) // 2], "not valid JSON"),
        "empty": ("", "not valid JSON"),
        "unknown version": (json.dumps(unknown_version), "version 99"),
        "string version": (json.dumps(string_version), "'version' must be an integer"),
        "resources not a list": (json.dumps(wrong_resources), "'resources' must be a list"),
        "bad status": (json.dumps(bad_status), "status must be 'pending', 'created' or 'deposed'"),
        "id wrong type": (json.dumps(wrong_id_type), "id must be a string"),
        "no config": (json.dumps(no_config), "'config' must be an object"),
        "array": ("[]", "top level must be a JSON object"),
        "requested_at not a time": (json.dumps(bad_requested), "requested_at must be Unix seconds"),
        "invalid function name": (json.dumps(bad_function), "invalid function name"),
        "unknown auth": (json.dumps(bad_auth), "config.auth must be one of"),
        "lone surrogate": (real.replace('"version": ', '"x": "\\ud800\\u0041", "version": ', 1), "not valid JSON"),
        "endpoints not a map": (json.dumps(bad_endpoints), "target.endpoints must be an object"),
        "endpoint not a URL": (json.dumps(bad_endpoint_url), "target.endpoints.lambda must be an http(s) URL"),
    }


@pytest.mark.parametrize("command", ["create", "delete", "status"])
def test_bad_state_refused_and_untouched(binary, proxy, tmp_path, real_state, command):
    env = stack_env(proxy.url)
    for name, (content, reason) in variants(real_state).items():
        path = tmp_path / "state.json"
        path.write_bytes(content.encode())
        before = path.read_bytes()
        r = run_in(binary, tmp_path, command, env=env)
        assert r.returncode != 0, f"{name}: {r.stdout}"
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, f"{name}: {r.stderr}"
        assert lines[0].startswith("secure-api: error: ") and reason in lines[0], f"{name}: {lines[0]}"
        assert "left untouched" in lines[0], lines[0]
        assert path.read_bytes() == before, f"{name}: state.json changed"
    assert proxy.count == 0, "no AWS call may be made with a refused state file"


@pytest.mark.parametrize("password,problem", [("Sh0rt!", "at least 8 characters"), ("alllowercase1!", "an upper-case letter"),
                                              ("NoDigitsHere!", "a digit"), ("NoSymbols123", "a symbol")])
def test_weak_password_refused_before_any_call(binary, proxy, tmp_path, password, problem):
    r = run_in(binary, tmp_path, "create", env=stack_env(proxy.url, PASSWORD=password))
    assert r.returncode == 1
    assert problem in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert proxy.count == 0 and not (tmp_path / "state.json").exists()


def test_missing_password_refused(binary, proxy, tmp_path):
    env = stack_env(proxy.url)
    env.pop("PASSWORD")
    r = run_in(binary, tmp_path, "create", env=env)
    assert r.returncode == 1 and "PASSWORD is not set" in r.stderr
    assert proxy.count == 0


@pytest.mark.parametrize("prefix", ["Upper", "-lead", "trail-", "has_underscore", "my-aws-app", "x" * 64, "dots.in"])
def test_invalid_domain_prefix_refused_before_any_call(binary, proxy, tmp_path, prefix):
    for env, args in [(stack_env(proxy.url, DOMAIN_PREFIX=prefix), []), (stack_env(proxy.url), [f"--domain-prefix={prefix}"])]:
        r = run_in(binary, tmp_path, "create", *args, env=env)
        assert r.returncode == 1
        assert "invalid domain prefix" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert proxy.count == 0 and not (tmp_path / "state.json").exists()


def test_password_never_in_state_or_verbose_output(binary, fresh_moto, tmp_path):
    env = stack_env(fresh_moto.url)
    r = run_in(binary, tmp_path, "create", "-v", env=env)
    assert r.returncode == 0, r.stderr
    assert "AdminSetUserPassword" in r.stderr  # the call is visible ...
    assert PASSWORD not in r.stdout + r.stderr  # ... its secret is not
    assert '"Password":"***"' in r.stderr
    assert PASSWORD not in (tmp_path / "state.json").read_text()
    r = run_in(binary, tmp_path, "delete", "-v", env=env)
    assert r.returncode == 0 and PASSWORD not in r.stdout + r.stderr
