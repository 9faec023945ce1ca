"""google-auth, unchanged, against the mock metadata server over a real socket, pointed at it through its
own variables (GCE_METADATA_HOST, GCE_METADATA_IP); its tokens verified the way relying parties do
(google-auth's own verify_token, and discovery → JWKS over TLS with the lab CA), and exchanged through the
official anthropic SDK.

google-auth reads GCE_METADATA_HOST once, when ``google.auth.compute_engine._metadata`` is first imported
(providers.md §2.5); a test process imports it once for all tests, so the fixture also sets the module's
copy. The example program (a fresh process) gets the variables alone, as a workload does.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import google.auth.transport.requests
import google.oauth2.id_token
import pytest
from google.auth import compute_engine
from google.auth.compute_engine import _metadata

from tests._examples_lab import mock_runbook, reached_claude
from tests.helpers import lab_of
from wif_lab import examples
from wif_lab.lab import Lab
from wif_lab.mock.registry import default_specs
from wif_lab.mock.stack import MockStack
from wif_lab.scenarios import google_cloud as scenario
from wif_lab.tokens import verify

AUDIENCE = "https://api.anthropic.com"
STEERING = ("GOOGLE_APPLICATION_CREDENTIALS", "NO_GCE_CHECK", "GCE_METADATA_MTLS_MODE", "GCE_METADATA_ROOT")


@pytest.fixture(scope="module")
def stack(state_dir: Path) -> Iterator[MockStack]:
    specs = [s for s in default_specs() if s.name in ("anthropic", "google", "gce_metadata")]
    home = state_dir / "google-real"
    for sub in ("keys", "tls"):  # warm: the session's cached keys and CA
        if (state_dir / "shared" / sub).exists():
            shutil.copytree(state_dir / "shared" / sub, home / sub, dirs_exist_ok=True)
    with MockStack(home, specs=specs) as running:
        yield running


@pytest.fixture(scope="module")
def the_lab(stack: MockStack) -> Lab:
    return lab_of(stack)


@pytest.fixture(autouse=True)
def metadata_env(the_lab: Lab, monkeypatch: pytest.MonkeyPatch) -> dict:
    gcp = the_lab.section("gcp")
    for name in STEERING:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GCE_METADATA_HOST", gcp["metadata_host"])
    monkeypatch.setenv("GCE_METADATA_IP", gcp["metadata_ip"])
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", gcp["metadata_host"])
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(the_lab.ca_bundle))
    return gcp


@pytest.fixture(scope="module")
def rule(the_lab: Lab) -> object:
    request = google.auth.transport.requests.Request()
    gcp = the_lab.section("gcp")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_metadata, "_GCE_METADATA_HOST", gcp["metadata_host"])
        patch.setenv("GCE_METADATA_IP", gcp["metadata_ip"])
        token = google.oauth2.id_token.fetch_id_token(request, AUDIENCE)
        claims = verify(token, issuer=scenario.ISSUER, audience=AUDIENCE,
                        jwks_uri=the_lab.section("google")["jwks_uri"], verify=the_lab.ca_bundle).claims
    rb = mock_runbook(the_lab)
    issuer = rb.register_issuer(name="gcp-real-clients", **scenario.issuer_registration(rb, the_lab.section("google")))
    account = rb.register_service_account(name="gcp-real-clients")
    return rb.register_rule(name="gcp-real-clients", issuer=issuer, service_account=account,
                            match=scenario.page_match(claims), token_lifetime_seconds=600)


def test_fetch_id_token_pings_then_asks_with_format_full(the_lab: Lab, stack: MockStack) -> None:
    metadata = stack.mocks["gce_metadata"]
    before = metadata.requests  # type: ignore[attr-defined]
    token = google.oauth2.id_token.fetch_id_token(google.auth.transport.requests.Request(), AUDIENCE)
    assert metadata.requests - before == 3  # the ping, the account's info, the identity request  # type: ignore
    assert metadata.identity_requests[-1]["format"] == "full"  # type: ignore[attr-defined]
    claims = verify(token, issuer="https://accounts.google.com", audience=AUDIENCE,
                    jwks_uri=the_lab.section("google")["jwks_uri"], verify=the_lab.ca_bundle).claims
    assert claims["email"] == the_lab.section("gcp")["service_account"] and claims["email_verified"] is True


def test_google_auths_own_verifier_accepts_the_token(the_lab: Lab) -> None:
    request = google.auth.transport.requests.Request()
    token = google.oauth2.id_token.fetch_id_token(request, AUDIENCE)
    claims = google.oauth2.id_token.verify_token(token, request, audience=AUDIENCE,
                                                 certs_url=the_lab.section("google")["jwks_uri"])
    assert claims["iss"] == "https://accounts.google.com" and claims["sub"] == the_lab.section("gcp")["unique_id"]


def test_compute_engine_id_token_credentials(the_lab: Lab) -> None:
    request = google.auth.transport.requests.Request()
    credentials = compute_engine.IDTokenCredentials(request, AUDIENCE, use_metadata_identity_endpoint=True)
    assert credentials.service_account_email == the_lab.section("gcp")["service_account"]
    credentials.refresh(request)
    assert credentials.token.count(".") == 2 and credentials.expiry is not None
    assert not credentials.expired


def test_google_auths_ping_finds_the_mock_and_nothing_where_none_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    request = google.auth.transport.requests.Request()
    assert _metadata.ping(request, timeout=2, retry_count=1)
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")  # nothing listens on the discard port
    assert not _metadata.ping(request, timeout=2, retry_count=1)


def test_the_sdk_exchanges_google_auths_token_and_calls_claude(the_lab: Lab, rule: object) -> None:
    rb = mock_runbook(the_lab)
    request = google.auth.transport.requests.Request()
    claude = rb.client(lambda: google.oauth2.id_token.fetch_id_token(request, AUDIENCE), rule=rule)
    reply = claude.messages.create(model="claude-haiku-4-5", max_tokens=50,
                                   messages=[{"role": "user", "content": "hello"}])
    assert reply.type == "message"
    event = the_lab.last_event(rule.id)  # type: ignore[attr-defined]
    assert event is not None and event["status"]["outcome"] == "success"


@pytest.mark.parametrize("program", ["gcp/sdk_metadata_identity.py", "gcp/curl.sh"])  # ~5 s and ~0.5 s
def test_the_example_programs_reach_claude(the_lab: Lab, rule: object, program: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GCE_METADATA_HOST", "GCE_METADATA_IP", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name)  # the program gets them from examples.environment, as the notebook runs it
    run = examples.run(program, mock_runbook(the_lab), rule=rule, check=False)
    assert run.env["GCE_METADATA_HOST"] == the_lab.section("gcp")["metadata_host"]
    reached_claude(run, rule, the_lab)  # type: ignore[arg-type]
