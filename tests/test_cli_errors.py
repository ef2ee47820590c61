"""Bad configuration: one clear line on stderr and a non-zero exit, never a crash."""
import pytest

from conftest import clean_env, run

REQUEST = "GET / HTTP/1.1\nHost:example.amazonaws.com\n\n"


def one_line_error(r, *fragments):
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("secure-api: error: "), lines[0]
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def test_missing_credentials(binary, tmp_path):
    r = run(binary, "doctor", env=clean_env(HOME=str(tmp_path), AWS_REGION="us-east-1"))
    one_line_error(r, "no AWS credentials found")


def test_missing_region(binary, tmp_path):
    r = run(binary, "doctor", env=clean_env(HOME=str(tmp_path), AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b"))
    one_line_error(r, "no AWS region")


def test_half_credentials(binary, tmp_path):
    r = run(binary, "doctor", env=clean_env(HOME=str(tmp_path), AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="a"))
    one_line_error(r, "AWS_SECRET_ACCESS_KEY is not")


def test_malformed_credentials_file(binary, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKID\nthis line is nonsense\n")
    r = run(binary, "sign", "--service", "sts", input=REQUEST,
            env=clean_env(HOME=str(tmp_path), AWS_REGION="us-east-1", AWS_SHARED_CREDENTIALS_FILE=str(creds)))
    one_line_error(r, "malformed AWS credentials file", str(creds), "line 3")


def test_unreadable_credentials_file(binary, tmp_path):
    creds = tmp_path / "credentials"
    creds.mkdir()  # a directory cannot be read as a file, even by root
    r = run(binary, "sign", "--service", "sts", input=REQUEST,
            env=clean_env(HOME=str(tmp_path), AWS_REGION="us-east-1", AWS_SHARED_CREDENTIALS_FILE=str(creds)))
    one_line_error(r, "cannot read AWS credentials file", str(creds))


def test_unknown_profile(binary, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKID\naws_secret_access_key = SECRET\n")
    env = clean_env(HOME=str(tmp_path), AWS_REGION="us-east-1", AWS_SHARED_CREDENTIALS_FILE=str(creds),
                    AWS_PROFILE="nosuch")
    one_line_error(run(binary, "sign", "--service", "sts", input=REQUEST, env=env), "profile 'nosuch'", "not found")
    env.pop("AWS_PROFILE")
    one_line_error(run(binary, "doctor", "--profile", "other", env=env), "profile 'other' (from --profile) not found")


def test_profile_from_files_with_session_token_and_region(binary, tmp_path):
    creds = tmp_path / "credentials"
    config = tmp_path / "config"
    creds.write_text("[dev]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n"
                     "aws_session_token = TOKEN123\n")
    config.write_text("[default]\nregion = us-west-2\n[profile dev]\nregion = eu-west-1 ; comment\n"
                      "s3 =\n  max_concurrent_requests = 4\n")
    env = clean_env(HOME=str(tmp_path), AWS_SHARED_CREDENTIALS_FILE=str(creds), AWS_CONFIG_FILE=str(config),
                    AWS_PROFILE="dev")
    r = run(binary, "sign", "--service", "sts", "--show", "canonical-request", "--time", "2026-01-01T00:00:00Z",
            input=REQUEST, env=env)
    assert r.returncode == 0, r.stderr
    assert "x-amz-security-token:TOKEN123" in r.stdout
    r = run(binary, "sign", "--service", "sts", "--show", "string-to-sign", "--time", "2026-01-01T00:00:00Z",
            input=REQUEST, env=env)
    assert "20260101/eu-west-1/sts/aws4_request" in r.stdout


@pytest.mark.parametrize("url", ["not a url", "ftp://example.com", "http://", "http://host:99999", "http://a b"])
def test_bad_endpoint_url(binary, url):
    env = clean_env(AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b", AWS_REGION="us-east-1", AWS_ENDPOINT_URL=url)
    one_line_error(run(binary, "doctor", env=env), "invalid endpoint URL", "AWS_ENDPOINT_URL")
    env.pop("AWS_ENDPOINT_URL")
    one_line_error(run(binary, "doctor", "--endpoint-url", url, env=env), "invalid endpoint URL", "--endpoint-url")


def test_service_specific_endpoint_variable(binary):
    env = clean_env(AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b", AWS_REGION="us-east-1",
                    AWS_ENDPOINT_URL_COGNITO_IDP="http://127.0.0.1:1", AWS_ENDPOINT_URL_STS="http://127.0.0.1:2")
    r = run(binary, "doctor", env=env)
    assert "http://127.0.0.1:1 (AWS_ENDPOINT_URL_COGNITO_IDP)" in r.stdout
    assert "https://iam.amazonaws.com (AWS default for us-east-1, signed for us-east-1)" in r.stdout
    assert "https://lambda.us-east-1.amazonaws.com" in r.stdout
    # STS at port 2 refuses the connection: a clear error after the retries.
    one_line_error(r, "sts GetCallerIdentity", "could not connect")


def test_malformed_request_and_time(binary):
    env = clean_env(AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b", AWS_REGION="us-east-1")
    one_line_error(run(binary, "sign", "--service", "sts", input="nonsense\n", env=env), "malformed request line")
    one_line_error(run(binary, "sign", "--service", "sts", input="GET / HTTP/1.1\n\n", env=env), "no Host header")
    one_line_error(run(binary, "sign", "--service", "sts", "--time", "yesterday", input=REQUEST, env=env), "invalid --time")
