"""Mock IMDS in-process: request checks, identity selection, real error bodies, the token cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from tests._azure_lab import START, FakeClock, azure_context, build_pair
from wif_lab.mock.azure_imds import TOKEN_PATH, ImdsMock
from wif_lab.mock.entra import EntraMock

H = {"Metadata": "true"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pair(state_dir: Path, clock: FakeClock) -> tuple[EntraMock, ImdsMock]:
    return build_pair(azure_context(state_dir / "azure", clock))


@pytest.fixture
def entra(pair: tuple[EntraMock, ImdsMock]) -> EntraMock:
    return pair[0]


@pytest.fixture
def imds(pair: tuple[EntraMock, ImdsMock]) -> ImdsMock:
    return pair[1]


@pytest.fixture
def http(imds: ImdsMock) -> TestClient:
    return TestClient(imds.asgi(), base_url="http://imds.test")


def params(entra: EntraMock, **extra: str) -> dict[str, str]:
    app = entra.app("claude-api-federation")
    return {"api-version": "2018-02-01", "resource": f"api://{app.app_id}", **extra}


def claims_of(body: dict[str, Any]) -> dict[str, Any]:
    return jwt.decode(body["access_token"], options={"verify_signature": False})


def test_success_has_the_real_shape(http: TestClient, entra: EntraMock) -> None:
    response = http.get(TOKEN_PATH, params=params(entra), headers=H)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"access_token", "client_id", "expires_in", "expires_on", "ext_expires_in", "not_before",
                         "resource", "token_type"}
    assert all(isinstance(v, str) for v in body.values())
    assert body["token_type"] == "Bearer"
    assert body["resource"] == params(entra)["resource"]  # echoed as requested
    system = entra.identity("wif-lab-vm")
    assert body["client_id"] == system.client_id
    # As recorded on VMs (azure.md §1.5): not_before lies 5 minutes before minting, so expires_on - not_before
    # is 86,700 s while expires_in starts at a day.
    assert int(body["expires_on"]) - int(body["not_before"]) == 86700
    assert int(body["expires_in"]) == int(body["expires_on"]) - int(START) == int(body["ext_expires_in"]) == 86400


# Each row: query overrides (None drops the parameter), headers, expected status, expected exact body.
NEGATIVE = [
    ("no Metadata header", {}, {}, 400,
     {"error": "invalid_request", "error_description": "Required metadata header not specified"}),
    ("Metadata: false", {}, {"Metadata": "false"}, 400,
     {"error": "invalid_request", "error_description": "Required metadata header not specified"}),
    ("X-Forwarded-For", {}, {**H, "X-Forwarded-For": "203.0.113.7"}, 400,
     {"error": "invalid_request", "error_description": "Requests carrying an X-Forwarded-For header are not accepted"}),
    ("empty X-Forwarded-For", {}, {**H, "x-forwarded-for": ""}, 400,
     {"error": "invalid_request", "error_description": "Requests carrying an X-Forwarded-For header are not accepted"}),
    ("X-Forwarded-For without Metadata", {}, {"X-Forwarded-For": "203.0.113.7"}, 400,
     {"error": "invalid_request", "error_description": "Required metadata header not specified"}),
    ("no api-version", {"api-version": None}, H, 400,
     {"error": "Bad request. api-version was not specified in the request. For more information refer to "
               "aka.ms/azureimds", "newest-versions": ["2023-11-15", "2023-07-01", "2021-12-13"]}),
    ("unsupported api-version", {"api-version": "2017-09-01"}, H, 400,
     {"error": "Bad request. api-version is invalid or was not specified in the request. For more information "
               "refer to aka.ms/azureimds", "newest-versions": ["2023-11-15", "2023-07-01", "2021-12-13"]}),
    ("no resource", {"resource": None}, H, 400,
     {"error": "invalid_request", "error_description": "Required query variable 'resource' is missing"}),
    ("unknown client_id", {"client_id": "11112222-3333-4444-5555-666677778888"}, H, 400,
     {"error": "invalid_request", "error_description": "Identity not found"}),
    ("unknown object_id", {"object_id": "11112222-3333-4444-5555-666677778888"}, H, 400,
     {"error": "invalid_request", "error_description": "Identity not found"}),
    ("unknown msi_res_id", {"msi_res_id": "/subscriptions/x/resourceGroups/y/providers/"
                                          "Microsoft.ManagedIdentity/userAssignedIdentities/nobody"}, H, 400,
     {"error": "invalid_request", "error_description": "Identity not found"}),
]


@pytest.mark.parametrize(("case", "overrides", "headers", "status", "expected"), NEGATIVE,
                         ids=[row[0] for row in NEGATIVE])
def test_refusals(http: TestClient, entra: EntraMock, case: str, overrides: dict[str, str | None],
                  headers: dict[str, str], status: int, expected: dict[str, Any]) -> None:
    query = {k: v for k, v in {**params(entra), **overrides}.items() if v is not None}
    response = http.get(TOKEN_PATH, params=query, headers=headers)
    assert response.status_code == status
    assert response.json() == expected
    assert response.headers["content-type"] == "application/json; charset=utf-8"


def test_identity_not_found_is_byte_exact(http: TestClient, entra: EntraMock) -> None:
    response = http.get(TOKEN_PATH, params=params(entra, client_id="0" * 8), headers=H)
    # A real IMDS answers this with Content-Length: 68 (azure.md §4.2).
    assert response.content == b'{"error":"invalid_request","error_description":"Identity not found"}'
    assert response.headers["content-length"] == "68"


def test_header_less_probe_is_answered(http: TestClient) -> None:
    # azure-identity's availability probe: same path, no Metadata header, no retries, 1 s budget.
    response = http.get(TOKEN_PATH, params={"api-version": "2018-02-01", "resource": "https://x"})
    assert response.status_code == 400


def test_unknown_resource_passes_entra_error_through(http: TestClient, entra: EntraMock) -> None:
    response = http.get(TOKEN_PATH, params=params(entra, resource="api://unregistered"), headers=H)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_resource"
    assert body["error_codes"] == [500011]
    assert body["error_description"].startswith("AADSTS500011: The resource principal named api://unregistered")
    assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= body.keys()


def test_only_get(http: TestClient, entra: EntraMock) -> None:
    assert http.post(TOKEN_PATH, params=params(entra), headers=H).status_code == 405


def test_selection_by_each_selector(http: TestClient, entra: EntraMock) -> None:
    mi = entra.identity("claude-inference")
    for selector in ({"client_id": mi.client_id}, {"object_id": mi.object_id.upper()},
                     {"msi_res_id": mi.resource_id.lower()}):
        body = http.get(TOKEN_PATH, params=params(entra, **selector), headers=H).json()
        assert claims_of(body)["oid"] == mi.object_id, selector
        assert body["client_id"] == mi.client_id


def test_silent_fallback_to_system_assigned(http: TestClient, entra: EntraMock) -> None:
    body = http.get(TOKEN_PATH, params=params(entra), headers=H).json()
    assert claims_of(body)["oid"] == entra.identity("wif-lab-vm").object_id


def test_ambiguity_without_system_identity(http: TestClient, entra: EntraMock, imds: ImdsMock) -> None:
    imds.unassign("wif-lab-vm")
    response = http.get(TOKEN_PATH, params=params(entra), headers=H)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "Multiple user assigned identities exist, please specify the clientId / resourceId "
                             "of the identity in the token request",
    }
    imds.unassign("batch-reporting")  # one user-assigned identity left: it is the default
    body = http.get(TOKEN_PATH, params=params(entra), headers=H).json()
    assert claims_of(body)["oid"] == entra.identity("claude-inference").object_id
    imds.unassign("claude-inference")  # a VM with no identity at all
    assert http.get(TOKEN_PATH, params=params(entra), headers=H).json()["error_description"] == "Identity not found"


def test_identity_of_the_tenant_but_not_on_this_vm(http: TestClient, entra: EntraMock, imds: ImdsMock) -> None:
    other = entra.add_identity("elsewhere")
    response = http.get(TOKEN_PATH, params=params(entra, client_id=other.client_id), headers=H)
    assert response.json()["error_description"] == "Identity not found"
    imds.assign("elsewhere")
    response = http.get(TOKEN_PATH, params=params(entra, client_id=other.client_id), headers=H)
    assert claims_of(response.json())["oid"] == other.object_id


def test_cache_returns_the_same_token_until_near_expiry(http: TestClient, entra: EntraMock,
                                                        clock: FakeClock) -> None:
    first = http.get(TOKEN_PATH, params=params(entra), headers=H).json()
    clock.advance(3600)
    second = http.get(TOKEN_PATH, params=params(entra), headers=H).json()
    assert second["access_token"] == first["access_token"]
    assert int(second["expires_in"]) == int(first["expires_in"]) - 3600  # counts down, as real IMDS does
    assert second["ext_expires_in"] == first["ext_expires_in"]
    clock.now = int(first["expires_on"]) - 301
    assert http.get(TOKEN_PATH, params=params(entra), headers=H).json()["access_token"] == first["access_token"]
    clock.advance(2)  # under 5 minutes left: a fresh token
    third = http.get(TOKEN_PATH, params=params(entra), headers=H).json()
    assert third["access_token"] != first["access_token"]
    assert int(third["expires_on"]) > int(first["expires_on"])


def test_cache_is_per_identity_and_resource(http: TestClient, entra: EntraMock) -> None:
    system = http.get(TOKEN_PATH, params=params(entra), headers=H).json()["access_token"]
    user = http.get(TOKEN_PATH, params=params(entra, client_id=entra.identity("claude-inference").client_id),
                    headers=H).json()["access_token"]
    other = http.get(TOKEN_PATH, params=params(entra, resource="https://api.anthropic.com"),
                     headers=H).json()["access_token"]
    assert len({system, user, other}) == 3


def test_cached_token_keeps_its_version_until_flushed(http: TestClient, entra: EntraMock, imds: ImdsMock) -> None:
    query = params(entra, resource="https://api.anthropic.com")
    assert claims_of(http.get(TOKEN_PATH, params=query, headers=H).json())["ver"] == "1.0"
    entra.set_token_version("anthropic-api", 2)
    # The real trap: IMDS keeps serving the cached v1 token after the registration changes.
    assert claims_of(http.get(TOKEN_PATH, params=query, headers=H).json())["ver"] == "1.0"
    imds.flush_cache()
    assert claims_of(http.get(TOKEN_PATH, params=query, headers=H).json())["ver"] == "2.0"


def test_needs_entra(state_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="entra"):
        ImdsMock(azure_context(state_dir / "azure"))


def test_connection_section(imds: ImdsMock, entra: EntraMock) -> None:
    section = imds.connection()
    assert section["imds_url"] == "http://imds.test"
    assert section["tenant_id"] == entra.tenant_id
    assert section["resource"] == f"api://{entra.app('claude-api-federation').app_id}"
    assert [(i["name"], i["kind"]) for i in section["identities"]] == [
        ("wif-lab-vm", "system"), ("claude-inference", "user"), ("batch-reporting", "user")]
    assert all({"object_id", "client_id"} <= i.keys() for i in section["identities"])
