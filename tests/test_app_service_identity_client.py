"""The workload-side client for the hosting services' identity endpoint, against the mock over a real
socket: the request it sends, each refusal as one ProviderError with a hint, and the secret header never
shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._azure_lab import azure_specs
from tests.helpers import typed_mock
from wif_lab.errors import ConfigurationError, ProviderError, ProviderUnreachable
from wif_lab.mock.app_service_identity import AppServiceIdentityMock
from wif_lab.mock.entra import EntraMock
from wif_lab.mock.stack import MockStack
from wif_lab.providers.app_service_identity import (
    API_VERSION,
    AppServiceIdentityClient,
    IdentityEndpointToken,
    from_connection,
    identity_endpoint_token_provider,
)


@pytest.fixture(scope="module")
def stack(state_dir: Path) -> Iterator[MockStack]:
    with MockStack(state_dir / "app-service-client", specs=azure_specs("app_service")) as running:
        yield running


@pytest.fixture
def section(stack: MockStack) -> dict:
    return stack.connection()["app_service"]


@pytest.fixture
def entra(stack: MockStack) -> EntraMock:
    return typed_mock(stack, "entra", EntraMock)


@pytest.fixture
def app(stack: MockStack) -> AppServiceIdentityMock:
    return typed_mock(stack, "app_service", AppServiceIdentityMock)


@pytest.fixture(autouse=True)
def no_platform_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IDENTITY_ENDPOINT", raising=False)
    monkeypatch.delenv("IDENTITY_HEADER", raising=False)


def test_user_assigned_token(section: dict, entra: EntraMock) -> None:
    token = from_connection(section, identity="claude-inference").get_token()
    mi = entra.identity("claude-inference")
    assert isinstance(token, IdentityEndpointToken)
    assert token.client_id == mi.client_id and token.claims()["oid"] == mi.object_id
    assert token.resource == section["resource"] and 23 * 3600 < token.expires_in() <= 86400
    assert token.access_token not in repr(token)


def test_the_request_on_the_wire(section: dict) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"access_token": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
                                         "expires_on": "1900000000", "resource": "api://x", "token_type": "Bearer",
                                         "client_id": "c"})

    client = AppServiceIdentityClient("api://x", endpoint="http://localhost:8081/msi/token", header="s3cret-value",
                                      client_id="c", transport=httpx.MockTransport(handler))
    assert client.get_token().expires_on == 1900000000
    (request,) = seen
    assert request.method == "GET" and request.url.path == "/msi/token"
    assert dict(request.url.params) == {"api-version": API_VERSION, "resource": "api://x", "client_id": "c"}
    assert request.headers["X-IDENTITY-HEADER"] == "s3cret-value" and "metadata" not in request.headers
    assert "s3cret-value" not in repr(client)


def test_the_platform_variables_are_the_default(section: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", section["identity_endpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", section["identity_header"])
    client_id = next(i["client_id"] for i in section["identities"] if i["name"] == "batch-reporting")
    assert AppServiceIdentityClient(section["resource"], client_id=client_id).get_token().client_id == client_id


def test_outside_the_platform_says_so() -> None:
    with pytest.raises(ConfigurationError, match="IDENTITY_ENDPOINT and IDENTITY_HEADER not set") as info:
        AppServiceIdentityClient("api://x")
    assert "IMDS" in info.value.hint


def test_one_selector_only() -> None:
    with pytest.raises(ConfigurationError, match="one way"):
        AppServiceIdentityClient("api://x", endpoint="http://e", header="h", client_id="a", object_id="b")


@pytest.mark.parametrize(("case", "status", "hint"), [
    ("stale header", 401, "read it from the environment at runtime"),
    ("no identity selected", 400, "no system-assigned identity"),
    ("unknown client_id", 400, "az webapp identity show"),
    ("unregistered resource", 500, "not registered in this tenant"),
])
def test_refusals_carry_a_hint(section: dict, case: str, status: int, hint: str) -> None:
    resource = "api://not-registered" if case == "unregistered resource" else section["resource"]
    header = "stale" if case == "stale header" else section["identity_header"]
    client_id = {"no identity selected": None, "unknown client_id": "11112222-3333-4444-5555-666677778888"}.get(
        case, next(i["client_id"] for i in section["identities"] if i["name"] == "claude-inference"))
    client = AppServiceIdentityClient(resource, endpoint=section["identity_endpoint"], header=header,
                                      client_id=client_id)
    with pytest.raises(ProviderError) as info:
        client.get_token()
    assert info.value.status == status and hint in info.value.hint
    assert str(info.value).startswith(f"the identity endpoint refused the token request ({status}): ")
    assert section["identity_header"] not in str(info.value)


def test_versioning_layer_refusal_is_understood() -> None:
    body = {"error": {"code": "UnsupportedApiVersion", "message": "… does not support the API version '2017-09-01'.",
                      "innerError": None}}
    client = AppServiceIdentityClient("api://x", endpoint="http://e/msi/token", header="h",
                                      transport=httpx.MockTransport(lambda r: httpx.Response(400, json=body)))
    with pytest.raises(ProviderError) as info:
        client.get_token()
    assert info.value.error == "UnsupportedApiVersion" and API_VERSION in info.value.hint


def test_unreachable_endpoint_names_it(section: dict) -> None:
    client = AppServiceIdentityClient(section["resource"], endpoint="http://127.0.0.1:9/msi/token", header="h",
                                      timeout=2)
    with pytest.raises(ProviderUnreachable) as info:
        client.get_token()
    assert "only reachable inside the app" in info.value.hint


def test_token_provider_feeds_the_sdk(section: dict) -> None:
    provide = identity_endpoint_token_provider(from_connection(section, identity="claude-inference"))
    assert provide() == provide()  # the endpoint's cache answers the second call


def test_unknown_identity_name(section: dict) -> None:
    with pytest.raises(ConfigurationError, match="wif-lab-vm") as info:
        from_connection(section, identity="wif-lab-vm")
    assert "claude-inference" in info.value.hint
