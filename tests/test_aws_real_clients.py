"""boto3, the AWS CLI and the official ``anthropic`` SDK against the lab's STS over real sockets and TLS,
unchanged: boto3 finds the mock through ``AWS_ENDPOINT_URL_STS`` and trusts it through ``AWS_CA_BUNDLE``;
refusals reach boto3 as the ``ClientError`` codes STS sends; the token is exchanged through the SDK; the
example programs run as a workload would. One lab for the module (Anthropic and STS only)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import httpx
import jwt
import pytest

from tests._examples_lab import mock_runbook, reached_claude, register
from tests.helpers import lab_of
from wif_lab import examples
from wif_lab.http import ssl_context
from wif_lab.lab import Lab
from wif_lab.mock.registry import load_spec
from wif_lab.mock.stack import MockStack
from wif_lab.providers.aws import AwsRefused, from_connection, web_identity_token_provider
from wif_lab.runbook import Runbook
from wif_lab.scenarios import aws as aws_lab

AUDIENCE = "https://api.anthropic.com"


@pytest.fixture(scope="module")
def stack(state_dir: Path) -> Iterator[MockStack]:
    home = state_dir / "aws-real"
    for sub in ("keys", "tls"):
        if (state_dir / "shared" / sub).exists():
            shutil.copytree(state_dir / "shared" / sub, home / sub, dirs_exist_ok=True)
    specs = [load_spec("wif_lab.mock.anthropic.service:SPEC"), load_spec("wif_lab.mock.aws_sts:SPEC")]
    with MockStack(home, specs=specs) as running:
        yield running


@pytest.fixture(scope="module")
def the_lab(stack: MockStack) -> Lab:
    return lab_of(stack)


@pytest.fixture(scope="module")
def rb(the_lab: Lab) -> Runbook:
    return mock_runbook(the_lab)


@pytest.fixture(scope="module")
def env(rb: Runbook, the_lab: Lab) -> dict[str, str]:
    section = the_lab.section("aws")
    return {k: str.__str__(v) for k, v in aws_lab.sdk_environment(rb, section).items()}


@pytest.fixture
def sts(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return boto3.client("sts", region_name="us-east-1")


def federation(rb: Runbook, enabled: bool) -> None:
    aws_lab.set_outbound_federation(rb, enabled)


def test_boto3_has_the_operation() -> None:
    assert "GetWebIdentityToken" in boto3.session.Session()._session.get_service_model("sts").operation_names


def test_boto3_refusals_are_stss_codes(sts: Any, rb: Runbook) -> None:
    federation(rb, False)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="RS256", DurationSeconds=900)
    assert caught.value.response["Error"]["Code"] == "OutboundWebIdentityFederationDisabledException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert isinstance(caught.value, sts.exceptions.OutboundWebIdentityFederationDisabledException)
    federation(rb, True)
    with pytest.raises(sts.exceptions.ClientError) as caught:
        sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="HS256")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    wrong = boto3.client("sts", region_name="us-east-1", aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key="w" * 40, aws_session_token=os.environ["AWS_SESSION_TOKEN"])
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        wrong.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="RS256")
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    unsigned = boto3.client("sts", region_name="us-east-1", config=botocore.config.Config(
        signature_version=botocore.UNSIGNED))
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        unsigned.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="RS256")
    assert caught.value.response["Error"]["Code"] == "MissingAuthenticationToken"


def test_boto3_iam_switch(env: dict[str, str], sts: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """boto3's IAM client turns the switch through AWS_ENDPOINT_URL_IAM, with IAM's own error codes."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", env["AWS_ENDPOINT_URL_STS"])
    iam = boto3.client("iam", region_name="us-east-1")
    with contextlib.suppress(iam.exceptions.FeatureDisabledException):  # off, as on a new account
        iam.disable_outbound_web_identity_federation()
    with pytest.raises(iam.exceptions.FeatureDisabledException):
        iam.get_outbound_web_identity_federation_info()
    issuer = iam.enable_outbound_web_identity_federation()["IssuerIdentifier"]
    assert issuer.endswith(".tokens.sts.global.api.aws")
    with pytest.raises(iam.exceptions.FeatureEnabledException):
        iam.enable_outbound_web_identity_federation()
    info = iam.get_outbound_web_identity_federation_info()
    assert info["IssuerIdentifier"] == issuer and info["JwtVendingEnabled"] is True
    sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="RS256")


def test_boto3_token_exchanged_through_the_sdk(sts: Any, rb: Runbook, the_lab: Lab) -> None:
    federation(rb, True)
    section = the_lab.section("aws")
    answer = sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="ES384", DurationSeconds=900)
    claims = jwt.decode(answer["WebIdentityToken"], options={"verify_signature": False})
    assert claims["sub"] == section["role_arn"] and claims["iss"] == section["issuer"]
    assert answer["Expiration"].timestamp() == claims["exp"]
    rule = register(rb, "aws-real-boto3", section["issuer"], {"subject_prefix": section["role_arn"],
                                                               "audience": AUDIENCE})

    def provide() -> str:
        return sts.get_web_identity_token(Audience=[AUDIENCE], SigningAlgorithm="RS256",
                                          DurationSeconds=900)["WebIdentityToken"]

    reply = rb.client(provide, rule=rule).messages.create(
        model="claude-haiku-4-5", max_tokens=50, messages=[{"role": "user", "content": "hi"}])
    assert rule.target.service_account_id in reply.content[0].text
    assert the_lab.last_event(rule.id)["status"]["outcome"] == "success"


def test_lab_client_and_its_refusal(rb: Runbook, the_lab: Lab) -> None:
    federation(rb, True)
    client = from_connection(the_lab.section("aws"), ca_bundle=str(the_lab.ca_bundle))
    assert client.get_caller_identity()["Arn"].startswith(f"arn:aws:sts::{the_lab.section('aws')['account_id']}:")
    assert web_identity_token_provider(client)().count(".") == 2
    with pytest.raises(AwsRefused) as caught:
        client.get_web_identity_token(duration_seconds=4000)
    assert caught.value.code == "ValidationError" and "DurationSeconds" in caught.value.hint


def aws_cli(env: dict[str, str], *audience: str) -> subprocess.CompletedProcess[str]:
    cli = Path(sys.executable).parent / "aws"
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run([str(cli), "sts", "get-web-identity-token", "--region", "us-east-1", "--audience", *audience,
                           "--signing-algorithm", "RS256", "--duration-seconds", "900", "--output", "json"],
                          env={**base, **env, "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull},
                          capture_output=True, text=True, timeout=120, check=False)


def test_aws_cli(env: dict[str, str], rb: Runbook) -> None:
    """`aws sts get-web-identity-token` as the guide shows it; the audience as a JSON list, because AWS CLI v1
    downloads a bare https:// parameter value (the guide's form) instead of sending it."""
    federation(rb, True)
    done = aws_cli(env, json.dumps([AUDIENCE]))
    assert done.returncode == 0, done.stderr
    token = json.loads(done.stdout)["WebIdentityToken"]
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == AUDIENCE


@pytest.mark.parametrize("program", ["aws/sdk_sts.py", "aws/cli.sh"])
def test_example_programs(program: str, rb: Runbook, the_lab: Lab) -> None:
    federation(rb, True)
    section = the_lab.section("aws")
    name = "examples-" + re.sub(r"[^a-z0-9]+", "-", program)
    rule = register(rb, name, section["issuer"], {"subject_prefix": section["role_arn"], "audience": AUDIENCE})
    run = examples.run(program, rb, rule=rule)
    reached_claude(run, rule, the_lab)
    assert section["credentials"]["secret_access_key"].reveal() not in repr(run)


def test_sts_issuer_documents_over_tls(the_lab: Lab) -> None:
    issuer = the_lab.section("aws")["issuer"]
    with httpx.Client(verify=ssl_context(the_lab.ca_bundle)) as client:
        doc = client.get(f"{issuer}/.well-known/openid-configuration").json()
        assert doc["issuer"] == issuer
        assert len(client.get(doc["jwks_uri"]).json()["keys"]) == 2
