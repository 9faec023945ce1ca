"""The official ``anthropic`` SDK, unchanged, against the mock over real TLS."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest
from anthropic.lib.credentials import WorkloadIdentityError

from tests.helpers import Federation, federate, lab_of
from wif_lab.lab import Lab
from wif_lab.mock.oidc import OidcIssuer
from wif_lab.mock.stack import MockStack
from wif_lab.sdk import federated_client
from wif_lab.tokens import ssl_context

SUB = "sdk-workload"
WIF_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE", "ANTHROPIC_CONFIG_DIR",
           "ANTHROPIC_FEDERATION_RULE_ID", "ANTHROPIC_ORGANIZATION_ID", "ANTHROPIC_SERVICE_ACCOUNT_ID",
           "ANTHROPIC_WORKSPACE_ID", "ANTHROPIC_IDENTITY_TOKEN", "ANTHROPIC_IDENTITY_TOKEN_FILE", "ANTHROPIC_BASE_URL")


@pytest.fixture(scope="module")
def setup(lab: MockStack) -> tuple[Lab, OidcIssuer, Federation]:
    the_lab = lab_of(lab)
    oidc = lab.mocks["oidc"]
    fed = federate(the_lab, issuer_url=oidc.issuer, match={"subject_prefix": SUB,
                                                           "audience": "https://api.anthropic.com"})
    return the_lab, oidc, fed


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    for name in WIF_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path / "anthropic-config"))
    yield monkeypatch


def _token_posts(lab: Lab, rule_id: str) -> int:
    return sum(1 for e in lab.events(federation_rule_id=rule_id, limit=1000))


def test_workload_identity_credentials_to_messages(setup: tuple[Lab, OidcIssuer, Federation]) -> None:
    lab, oidc, fed = setup
    calls: list[str] = []

    def provider() -> str:
        calls.append("fresh")
        return oidc.mint({"sub": SUB})

    client = federated_client(identity_token_provider=provider, base_url=lab.base_url,
                              federation_rule_id=fed.rule.id, organization_id=lab.organization_id,
                              service_account_id=fed.service_account.id, verify=lab.ca_bundle)
    first = client.messages.create(model="claude-haiku-4-5", max_tokens=64,
                                   messages=[{"role": "user", "content": "hello"}])
    second = client.messages.create(model="claude-haiku-4-5", max_tokens=64,
                                    messages=[{"role": "user", "content": "again"}])
    assert calls == ["fresh"]  # the SDK cached the access token for the second call
    assert fed.service_account.id in first.content[0].text
    assert lab.default_workspace_id in second.content[0].text
    assert first.usage.input_tokens >= 1 and first.stop_reason == "end_turn"
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=64,
                                messages=[{"role": "user", "content": "stream"}]) as stream:
        text = "".join(stream.text_stream)
    assert text == first.content[0].text


def test_plain_client_configured_only_by_environment(
    setup: tuple[Lab, OidcIssuer, Federation], clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    lab, oidc, fed = setup
    token_file = tmp_path / "identity.jwt"
    token_file.write_text(oidc.mint({"sub": SUB}) + "\n")
    clean_env.setenv("ANTHROPIC_FEDERATION_RULE_ID", fed.rule.id)
    clean_env.setenv("ANTHROPIC_ORGANIZATION_ID", lab.organization_id)
    clean_env.setenv("ANTHROPIC_SERVICE_ACCOUNT_ID", fed.service_account.id)
    clean_env.setenv("ANTHROPIC_IDENTITY_TOKEN_FILE", str(token_file))
    clean_env.setenv("ANTHROPIC_BASE_URL", lab.base_url)
    clean_env.setenv("SSL_CERT_FILE", str(lab.ca_bundle))  # how the SDK's httpx2 trusts a private CA
    client = anthropic.Anthropic()
    message = client.messages.create(model="claude-haiku-4-5", max_tokens=32,
                                     messages=[{"role": "user", "content": "hi"}])
    assert fed.service_account.id in message.content[0].text
    event = lab.last_event(fed.rule.id)
    assert event["status"]["outcome"] == "success"
    assert event["event_data"]["requested_service_account_id"] == fed.service_account.id


def test_refused_exchange_surfaces_as_workload_identity_error(setup: tuple[Lab, OidcIssuer, Federation]) -> None:
    lab, oidc, fed = setup
    client = federated_client(identity_token_provider=lambda: oidc.mint({"sub": "intruder"}),
                              base_url=lab.base_url, federation_rule_id=fed.rule.id,
                              organization_id=lab.organization_id, service_account_id=fed.service_account.id,
                              verify=lab.ca_bundle)
    before = _token_posts(lab, fed.rule.id)
    with pytest.raises(WorkloadIdentityError) as info:
        client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 401
    assert info.value.body["error"] == {"type": "authentication_error", "message": "Authentication failed"}
    assert info.value.request_id and info.value.request_id.startswith("req_")
    assert _token_posts(lab, fed.rule.id) == before + 2  # the SDK retries a 401 once with a fresh token
    assert lab.last_event(fed.rule.id)["status"]["reason"] == "subject_mismatch"


def test_replayed_identity_token_gets_one_sdk_retry_and_its_hint(
    setup: tuple[Lab, OidcIssuer, Federation], caplog: pytest.LogCaptureFixture
) -> None:
    """A token file that is not refreshed: the second process re-presents the same jti."""
    lab, oidc, fed = setup
    stale = oidc.mint({"sub": SUB})

    def client() -> anthropic.Anthropic:
        return federated_client(identity_token_provider=lambda: stale, base_url=lab.base_url,
                                federation_rule_id=fed.rule.id, organization_id=lab.organization_id,
                                service_account_id=fed.service_account.id, workspace_id=lab.default_workspace_id,
                                verify=lab.ca_bundle)

    client().messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    before = _token_posts(lab, fed.rule.id)
    with caplog.at_level(logging.WARNING), pytest.raises(WorkloadIdentityError) as info:
        client().messages.create(model="claude-haiku-4-5", max_tokens=8,
                                 messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 401
    message = str(info.value)
    assert "Ensure your federation rule matches your identity token." in message
    assert "View your authentication events" in message
    assert "ANTHROPIC_WORKSPACE_ID" not in message  # workspace was pinned, so that sentence is left out
    assert _token_posts(lab, fed.rule.id) == before + 2  # the SDK retried the 401 exactly once
    assert [e["status"]["reason"] for e in lab.events(federation_rule_id=fed.rule.id, limit=2)] == [
        "jti_reused", "jti_reused"]


def test_unknown_bearer_gets_401_and_the_sdk_re_exchanges(setup: tuple[Lab, OidcIssuer, Federation]) -> None:
    lab, oidc, fed = setup
    client = federated_client(identity_token_provider=lambda: oidc.mint({"sub": SUB}), base_url=lab.base_url,
                              federation_rule_id=fed.rule.id, organization_id=lab.organization_id,
                              service_account_id=fed.service_account.id, verify=lab.ca_bundle)
    client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    store = lab.stack.mocks["anthropic"].store
    with store.lock:  # the mock "restarts" and forgets every access token
        store.grants = {t: g for t, g in store.grants.items() if g.scope == "org:admin"}
    before = _token_posts(lab, fed.rule.id)
    client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert _token_posts(lab, fed.rule.id) == before + 1


def test_messages_refuses_tokens_it_should(setup: tuple[Lab, OidcIssuer, Federation]) -> None:
    lab, _, _ = setup
    bad = anthropic.Anthropic(base_url=lab.base_url, api_key="sk-ant-api03-not-a-real-key",
                              http_client=anthropic.DefaultHttpxClient(verify=ssl_context(lab.ca_bundle)),
                              max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as info:
        bad.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert info.value.request_id and info.value.type == "authentication_error"


def test_unknown_paths_and_methods_answer_in_the_api_error_shape(setup: tuple[Lab, OidcIssuer, Federation]) -> None:
    import httpx

    lab, _, _ = setup
    with httpx.Client(verify=ssl_context(lab.ca_bundle)) as http:
        missing = http.get(lab.base_url + "/v1/no-such-thing")
        wrong = http.get(lab.base_url + "/v1/oauth/token")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    assert wrong.status_code == 405 and wrong.json()["type"] == "error"
    assert missing.headers["request-id"].startswith("req_")


def test_archiving_the_service_account_stops_its_tokens(fresh_stack: MockStack) -> None:
    lab = lab_of(fresh_stack)
    oidc = fresh_stack.mocks["oidc"]
    fed = federate(lab, issuer_url=oidc.issuer, match={"subject_prefix": SUB})
    client = federated_client(identity_token_provider=lambda: oidc.mint({"sub": SUB}), base_url=lab.base_url,
                              federation_rule_id=fed.rule.id, organization_id=lab.organization_id,
                              service_account_id=fed.service_account.id, verify=lab.ca_bundle)
    client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    admin = lab.admin()
    admin.organization.federation.rules.archive(fed.rule.id)
    admin.organization.service_accounts.archive(fed.service_account.id)
    with pytest.raises(WorkloadIdentityError):  # cached token now 401s; the re-exchange is refused too
        client.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "x"}])


def _federation_token(lab: Lab, oidc: OidcIssuer, fed: Federation) -> str:
    from wif_lab.exchange import exchange

    return exchange(oidc.mint({"sub": SUB}), base_url=lab.base_url, federation_rule_id=fed.rule.id,
                    organization_id=lab.organization_id, service_account_id=fed.service_account.id,
                    verify=lab.ca_bundle).access_token


MESSAGE = {"model": "claude-haiku-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("headers", "body", "status", "error_type", "message"),
    [
        # the guides' cURL: bearer + anthropic-version, no anthropic-beta
        ({"anthropic-version": "2023-06-01"}, MESSAGE, 200, None, None),
        # the SDK: the OAuth beta flag in a list
        ({"anthropic-version": "2026-10-21", "anthropic-beta": "context-management-2025-06-27,oauth-2025-04-20"},
         MESSAGE, 200, None, None),
        ({}, MESSAGE, 400, "invalid_request_error", "anthropic-version: header is required"),
        ({"anthropic-version": "2023-10-01"}, MESSAGE, 400, "invalid_request_error",
         'anthropic-version: "2023-10-01" is not a valid version'),
        ({"anthropic-version": "2023-06-01"}, {**MESSAGE, "model": "claude-nonexistent-9"}, 404, "not_found_error",
         "model: claude-nonexistent-9"),
    ],
    ids=["curl-no-beta", "sdk-beta-list", "no-version", "unknown-version", "unknown-model"],
)
def test_messages_with_a_federation_token_as_the_api_answers(
    setup: tuple[Lab, OidcIssuer, Federation], headers: dict[str, str], body: dict, status: int,
    error_type: str | None, message: str | None,
) -> None:
    import httpx

    lab, oidc, fed = setup
    token = _federation_token(lab, oidc, fed)
    with httpx.Client(verify=ssl_context(lab.ca_bundle)) as http:
        r = http.post(lab.base_url + "/v1/messages", json=body, headers={"authorization": f"Bearer {token}", **headers})
    assert r.status_code == status, r.text
    if error_type is None:
        assert fed.service_account.id in r.json()["content"][0]["text"]
    else:
        assert r.json()["error"] == {"type": error_type, "message": message}


def test_a_federation_token_is_not_an_api_key(setup: tuple[Lab, OidcIssuer, Federation]) -> None:
    import httpx

    lab, oidc, fed = setup
    token = _federation_token(lab, oidc, fed)
    with httpx.Client(verify=ssl_context(lab.ca_bundle)) as http:
        r = http.post(lab.base_url + "/v1/messages", json=MESSAGE,
                      headers={"x-api-key": token, "anthropic-version": "2023-06-01"})
    assert r.status_code == 401
    assert r.json()["error"] == {"type": "authentication_error", "message": "invalid x-api-key"}


def test_sdk_without_a_service_account_is_told_the_field_is_required(
    setup: tuple[Lab, OidcIssuer, Federation],
) -> None:
    lab, oidc, fed = setup
    client = federated_client(identity_token_provider=lambda: oidc.mint({"sub": SUB}), base_url=lab.base_url,
                              federation_rule_id=fed.rule.id, organization_id=lab.organization_id,
                              verify=lab.ca_bundle)
    with pytest.raises(WorkloadIdentityError) as info:
        client.messages.create(**MESSAGE)
    assert info.value.status_code == 400
    assert info.value.body["error"] == {"type": "invalid_request_error",
                                        "message": "service_account_id: Field required"}
