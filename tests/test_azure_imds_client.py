"""The workload-side IMDS client against the mock over a real socket, plus canned answers for the
statuses the mock does not produce (IMDS updating, throttling, a non-IMDS endpoint)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._azure_lab import azure_specs
from tests.helpers import typed_mock
from wif_lab.errors import ConfigurationError, ProviderError, ProviderUnreachable
from wif_lab.mock.azure_imds import ImdsMock
from wif_lab.mock.entra import EntraMock
from wif_lab.mock.stack import MockStack
from wif_lab.providers.azure_imds import (
    API_VERSION,
    IMDS_HOST,
    ImdsClient,
    ImdsToken,
    from_connection,
    imds_token_provider,
)


@pytest.fixture(scope="module")
def stack(state_dir: Path) -> Iterator[MockStack]:
    with MockStack(state_dir / "azure-client", specs=azure_specs()) as running:
        yield running


@pytest.fixture
def section(stack: MockStack) -> dict:
    return stack.connection()["azure"]


@pytest.fixture
def entra(stack: MockStack) -> EntraMock:
    return typed_mock(stack, "entra", EntraMock)


@pytest.fixture
def imds(stack: MockStack) -> ImdsMock:
    return typed_mock(stack, "imds", ImdsMock)


def canned(status: int, body: bytes, content_type: str = "application/json; charset=utf-8",
           seen: list[httpx.Request] | None = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    return httpx.MockTransport(handler)


def test_system_assigned_token(section: dict, entra: EntraMock) -> None:
    token = from_connection(section).get_token()
    claims = token.claims()
    assert claims["oid"] == entra.identity("wif-lab-vm").object_id
    assert claims["aud"] == entra.app("claude-api-federation").app_id
    assert token.resource == section["resource"]
    assert 86000 < token.expires_in <= 86400 and token.ext_expires_in == 86400
    assert token.expires_on - token.not_before == 86700  # 24 h + 5 min: iat/nbf backdated, as on real VMs


def test_user_assigned_by_name(section: dict, entra: EntraMock) -> None:
    mi = entra.identity("claude-inference")
    token = from_connection(section, identity="claude-inference").get_token()
    assert token.client_id == mi.client_id
    assert token.claims()["oid"] == mi.object_id


@pytest.mark.parametrize("selector", ["object_id", "msi_res_id"])
def test_other_selectors(section: dict, entra: EntraMock, selector: str) -> None:
    mi = entra.identity("batch-reporting")
    value = mi.object_id if selector == "object_id" else mi.resource_id
    client = ImdsClient(section["resource"], base_url=section["imds_url"], **{selector: value})
    assert client.get_token().claims()["oid"] == mi.object_id


def test_request_shape() -> None:
    seen: list[httpx.Request] = []
    body = b'{"access_token":"eyJ.eyJ.sig","expires_in":"86399","resource":"api://x"}'
    ImdsClient("api://x", base_url="http://imds.test/", client_id="abc",
               transport=canned(200, body, seen=seen)).get_token()
    (request,) = seen
    assert request.method == "GET"
    assert request.url.path == "/metadata/identity/oauth2/token"
    assert dict(request.url.params) == {"api-version": API_VERSION, "resource": "api://x", "client_id": "abc"}
    assert request.headers["metadata"] == "true"


def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:1234/")
    assert ImdsClient("api://x").token_url == "http://127.0.0.1:1234/metadata/identity/oauth2/token"
    monkeypatch.delenv("AZURE_POD_IDENTITY_AUTHORITY_HOST")
    assert ImdsClient("api://x").base_url == IMDS_HOST


def test_proxy_settings_are_ignored(section: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # IMDS is link-local; a configured (here: dead) proxy must not be used for it.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    assert from_connection(section).get_token().access_token


def test_provider_callable_returns_the_cached_token(section: dict, imds: ImdsMock) -> None:
    provide = imds_token_provider(from_connection(section, identity="claude-inference"))
    before = imds.requests
    first, second = provide(), provide()
    assert first == second  # IMDS serves its cached token; the callable just asks again
    assert imds.requests == before + 2


def test_repr_is_redacted(section: dict) -> None:
    token = from_connection(section).get_token()
    signature = token.access_token.rsplit(".", 1)[1]
    assert signature not in repr(token)
    assert signature not in repr(from_connection(section))
    assert "ImdsToken(" in repr(token)


def test_unknown_client_id(section: dict) -> None:
    client = ImdsClient(section["resource"], base_url=section["imds_url"], client_id="0" * 8)
    with pytest.raises(ProviderError) as info:
        client.get_token()
    err = info.value
    assert (err.status, err.error, err.description) == (400, "invalid_request", "Identity not found")
    assert "client_id" in err.hint


def test_ambiguous_identity(section: dict, imds: ImdsMock) -> None:
    imds.unassign("wif-lab-vm")
    try:
        with pytest.raises(ProviderError) as info:
            from_connection(section).get_token()
    finally:
        imds.assign("wif-lab-vm")
    assert "Multiple user assigned identities" in (info.value.description or "")
    assert "pass client_id" in info.value.hint


def test_unregistered_resource(section: dict) -> None:
    with pytest.raises(ProviderError) as info:
        from_connection(section, resource="api://not-registered").get_token()
    err = info.value
    assert err.error == "invalid_resource" and "AADSTS500011" in (err.description or "")
    assert "api://<APP_ID>" in err.hint
    assert "AADSTS500011" in str(err)


# Answers the mock has no reason to give, with the hint each deserves.
CANNED = [
    (400, b'{"error":"invalid_request","error_description":"Required metadata header not specified"}', "Metadata"),
    (400, b'{"error":"invalid_resource","error_description":"AADSTS50001: The application named api://x was '
          b'not found in the tenant named t."}', "api://<APP_ID>"),
    (410, b"", "retry"),
    (429, b'{"error":"too_many_requests"}', "retry"),
    (500, b'{"error":"server_error","error_description":"injected"}', "retry"),
]


@pytest.mark.parametrize(("status", "body", "hint_word"), CANNED)
def test_canned_refusals(status: int, body: bytes, hint_word: str) -> None:
    client = ImdsClient("api://x", base_url="http://imds.test", transport=canned(status, body))
    with pytest.raises(ProviderError) as info:
        client.get_token()
    assert info.value.status == status
    assert hint_word in info.value.hint


def test_non_json_success_is_an_error() -> None:
    client = ImdsClient("api://x", base_url="http://imds.test", transport=canned(200, b"<html>", "text/html"))
    with pytest.raises(ProviderError, match="without a usable token"):
        client.get_token()


def test_unreachable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ProviderUnreachable) as info:
        ImdsClient("api://x", base_url=f"http://127.0.0.1:{port}", timeout=1).get_token()
    assert "IDENTITY_ENDPOINT" in info.value.hint


def test_configuration_errors(section: dict) -> None:
    with pytest.raises(ConfigurationError):
        ImdsClient("api://x", client_id="a", object_id="b")
    with pytest.raises(ConfigurationError):
        ImdsClient("")
    with pytest.raises(ConfigurationError, match="nobody"):
        from_connection(section, identity="nobody")


def test_token_from_body_parses_strings() -> None:
    token = ImdsToken.from_body({"access_token": "t", "expires_in": "10", "expires_on": "20", "not_before": "5",
                                 "ext_expires_in": "15", "resource": "r", "client_id": "c"})
    assert (token.expires_in, token.expires_on, token.not_before, token.ext_expires_in) == (10, 20, 5, 15)
