"""Real clients against the mock GitHub Actions over sockets and TLS (the lab CA, verification on).

The ``id`` package (sigstore's ambient-credential client, used by PyPI's trusted publishing) finds the
mock through the runner's own variables only: ``GITHUB_ACTIONS``, ``ACTIONS_ID_TOKEN_REQUEST_URL`` and
``ACTIONS_ID_TOKEN_REQUEST_TOKEN``, trusting the lab CA through ``SSL_CERT_FILE`` as a job behind a
TLS-inspecting proxy would. pyjwt's ``PyJWKClient`` verifies what it gets against the JWKS the discovery
document names. The token is then exchanged through the official ``anthropic`` SDK (the example program),
and through the guide's cURL when curl is installed.
"""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import id as oidc
import jwt
import pytest
from id import AmbientCredentialError, GitHubOidcPermissionCredentialError

from tests._examples_lab import mock_runbook, reached_claude
from tests.helpers import lab_of
from wif_lab import examples
from wif_lab.lab import Lab
from wif_lab.mock.registry import default_specs
from wif_lab.mock.stack import MockStack
from wif_lab.runbook import Runbook
from wif_lab.scenarios import github_actions as github_lab

AUDIENCE = "https://api.anthropic.com"
ISSUER = "https://token.actions.githubusercontent.com"


@pytest.fixture(scope="module")
def stack(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockStack]:
    specs = [s for s in default_specs() if s.name in ("anthropic", "github_actions")]
    own = tmp_path_factory.mktemp("github-real-clients")
    with MockStack(state_dir / "shared", specs=specs, connection_file=own / "connection.json") as running:
        yield running


@pytest.fixture(scope="module")
def the_lab(stack: MockStack) -> Lab:
    return lab_of(stack)


@pytest.fixture(scope="module")
def section(the_lab: Lab) -> dict[str, Any]:
    return dict(the_lab.section("github_actions"))


@pytest.fixture
def in_job(monkeypatch: pytest.MonkeyPatch, the_lab: Lab, section: dict[str, Any]):  # type: ignore[no-untyped-def]
    """This process as a step of one of the lab's jobs: exactly the variables the runner sets."""

    def enter(name: str) -> None:
        for variable in ("GITHUB_ACTIONS", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
            monkeypatch.delenv(variable, raising=False)
        for variable, value in section["jobs"][name]["env"].items():
            monkeypatch.setenv(variable, value)
        monkeypatch.setenv("SSL_CERT_FILE", str(the_lab.ca_bundle))

    return enter


def test_id_detects_the_job_and_the_token_verifies(in_job, section: dict[str, Any], the_lab: Lab) -> None:  # type: ignore[no-untyped-def]
    in_job("main-push")
    token = oidc.detect_credential(AUDIENCE)
    assert token is not None
    lab_ssl = ssl.create_default_context(cafile=str(the_lab.ca_bundle))
    discovery = httpx.get(f"{section['discovery_base']}/.well-known/openid-configuration", verify=lab_ssl).json()
    assert discovery["issuer"] == ISSUER
    key = jwt.PyJWKClient(discovery["jwks_uri"], ssl_context=lab_ssl).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)
    assert claims["sub"] == "repo:wif-lab-org/claude-ci:ref:refs/heads/main"
    assert claims["repository_owner"] == "wif-lab-org" and isinstance(claims["run_id"], str)


def test_id_without_the_permission(in_job) -> None:  # type: ignore[no-untyped-def]
    in_job("no-id-token-permission")
    with pytest.raises(GitHubOidcPermissionCredentialError, match="missing or insufficient OIDC token permissions"):
        oidc.detect_credential(AUDIENCE)


def test_id_after_the_job_completed(in_job) -> None:  # type: ignore[no-untyped-def]
    in_job("completed")
    with pytest.raises(AmbientCredentialError, match="code=401"):
        oidc.detect_credential(AUDIENCE)


@pytest.fixture(scope="module")
def rb(the_lab: Lab) -> Runbook:
    return mock_runbook(the_lab)


@pytest.fixture(scope="module")
def page_rule(rb: Runbook, section: dict[str, Any]) -> Any:
    """The guide's issuer and rule; in the lab, Anthropic reads discovery on the mock (jwks.discovery_base)."""
    issuer = rb.register_issuer(name="github-actions", issuer_url=ISSUER,
                                jwks={"type": "discovery", "discovery_base": section["discovery_base"]})
    account = rb.register_service_account(name="github-ci", description="runs examples/github_actions")
    claims = {"repository": section["repository"], "repository_owner": section["repository_owner"]}
    return rb.register_rule(name="github-ci", issuer=issuer, service_account=account,
                            match=github_lab.page_match(claims), token_lifetime_seconds=600)


def test_sdk_program_with_id(rb: Runbook, page_rule: Any, the_lab: Lab) -> None:
    run = examples.run("github_actions/sdk_token_function.py", rb, rule=page_rule)
    assert isinstance(run, examples.ExampleRun)
    assert run.env["GITHUB_ACTIONS"] == "true" and run.env["SSL_CERT_FILE"] == str(the_lab.ca_bundle)
    reached_claude(run, page_rule, the_lab)


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("jq") is None, reason="curl and jq not installed")
def test_the_guides_curl(rb: Runbook, page_rule: Any, the_lab: Lab) -> None:
    reached_claude(examples.run("github_actions/curl.sh", rb, rule=page_rule), page_rule, the_lab)
