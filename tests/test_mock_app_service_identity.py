"""The hosting services' identity endpoint in-process: the X-IDENTITY-HEADER check, the refusals in the
endpoint's own shape, identity selection (no lone-user default, unlike IMDS), the shared Entra tokens
and cache."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from tests._azure_lab import START, FakeClock, azure_context, build_app_service, build_pair
from wif_lab.mock.app_service_identity import (
    API_VERSION,
    ENTRA_FAILED,
    NO_IDENTITY,
    TOKEN_PATH,
    AppServiceIdentityMock,
)
from wif_lab.mock.azure_imds import ImdsMock
from wif_lab.mock.entra import MI_TOKEN_BACKDATE, MI_TOKEN_VALIDITY, EntraMock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mocks(state_dir: Path, clock: FakeClock) -> tuple[EntraMock, ImdsMock, AppServiceIdentityMock]:
    ctx = azure_context(state_dir / "azure", clock)
    entra, imds = build_pair(ctx)
    return entra, imds, build_app_service(ctx)


@pytest.fixture
def entra(mocks: tuple[EntraMock, ImdsMock, AppServiceIdentityMock]) -> EntraMock:
    return mocks[0]


@pytest.fixture
def app(mocks: tuple[EntraMock, ImdsMock, AppServiceIdentityMock]) -> AppServiceIdentityMock:
    return mocks[2]


@pytest.fixture
def http(app: AppServiceIdentityMock) -> TestClient:
    return TestClient(app.asgi(), base_url="http://app-service.test")


def header(app: AppServiceIdentityMock) -> dict[str, str]:
    return {"X-IDENTITY-HEADER": app.identity_header}


def params(entra: EntraMock, **extra: str) -> dict[str, str]:
    selected = {"client_id": entra.identity("claude-inference").client_id}
    return {"api-version": API_VERSION, "resource": f"api://{entra.app('claude-api-federation').app_id}",
            **selected, **extra}


def claims_of(body: dict[str, Any]) -> dict[str, Any]:
    return jwt.decode(body["access_token"], options={"verify_signature": False})


def test_success_has_the_real_shape(http: TestClient, entra: EntraMock, app: AppServiceIdentityMock) -> None:
    response = http.get(TOKEN_PATH, params=params(entra), headers=header(app))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert all(isinstance(v, str) for v in body.values())
    mi = entra.identity("claude-inference")
    claims = claims_of(body)
    assert body["client_id"] == mi.client_id and claims["oid"] == mi.object_id and claims["azp"] == mi.client_id
    assert body["resource"] == params(entra)["resource"] and body["token_type"] == "Bearer"
    # minted as on Azure: iat backdated 5 minutes, exp a day after minting (exp - iat = 86,700)
    assert int(body["expires_on"]) == claims["exp"] == int(START) + MI_TOKEN_VALIDITY
    assert claims["iat"] == int(START) - MI_TOKEN_BACKDATE


def test_the_same_tokens_as_imds(mocks: tuple[EntraMock, ImdsMock, AppServiceIdentityMock],
                                 http: TestClient) -> None:
    entra, imds, app = mocks
    from_app = claims_of(http.get(TOKEN_PATH, params=params(entra), headers=header(app)).json())
    vm_query = {**params(entra), "api-version": "2018-02-01"}
    from_vm = claims_of(imds.token_response(vm_query, {"metadata": "true"}))
    same = ("iss", "aud", "sub", "oid", "azp", "tid", "ver", "xms_mirid", "exp")
    assert {k: from_app[k] for k in same} == {k: from_vm[k] for k in same}


# Each row: query overrides (None drops the parameter), header value (None: not sent), status, message.
NEGATIVE = [
    ("no X-IDENTITY-HEADER", {}, None, 401, "The request did not carry the X-IDENTITY-HEADER value of this app."),
    ("wrong X-IDENTITY-HEADER", {}, "stale-value", 401,
     "The request did not carry the X-IDENTITY-HEADER value of this app."),
    ("no resource", {"resource": None}, "ok", 400, "The query parameter 'resource' is required."),
    ("unknown client_id", {"client_id": "11112222-3333-4444-5555-666677778888"}, "ok", 400, NO_IDENTITY),
    ("the VM's system-assigned identity", {"client_id": "vm"}, "ok", 400, NO_IDENTITY),
    ("unknown object_id", {"client_id": None, "object_id": str(uuid.UUID(int=7))}, "ok", 400, NO_IDENTITY),
    ("unknown mi_res_id", {"client_id": None, "mi_res_id": "/subscriptions/x/resourceGroups/y/providers/"
                                                          "Microsoft.ManagedIdentity/userAssignedIdentities/nobody"},
     "ok", 400, NO_IDENTITY),
    ("no selector and no system-assigned identity", {"client_id": None}, "ok", 400, NO_IDENTITY),
    ("unregistered resource", {"resource": "api://not-registered"}, "ok", 500, ENTRA_FAILED),
]


@pytest.mark.parametrize(("case", "overrides", "sent", "status", "message"), NEGATIVE, ids=[r[0] for r in NEGATIVE])
def test_refusals(http: TestClient, entra: EntraMock, app: AppServiceIdentityMock, case: str,
                  overrides: dict[str, str | None], sent: str | None, status: int, message: str) -> None:
    if overrides.get("client_id") == "vm":
        overrides = {**overrides, "client_id": entra.identity("wif-lab-vm").client_id}
    query = {k: v for k, v in {**params(entra), **overrides}.items() if v is not None}
    headers = {} if sent is None else {"X-IDENTITY-HEADER": app.identity_header if sent == "ok" else sent}
    response = http.get(TOKEN_PATH, params=query, headers=headers)
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"statusCode", "message", "correlationId"}
    assert body["statusCode"] == status and body["message"] == message
    assert response.headers["x-correlation-id"] == body["correlationId"]
    assert str(uuid.UUID(body["correlationId"])) == body["correlationId"]
    assert response.headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize("version", [None, "2017-09-01", "2018-02-01"])
def test_api_version_is_checked_by_the_versioning_layer(http: TestClient, entra: EntraMock,
                                                        app: AppServiceIdentityMock, version: str | None) -> None:
    query = {k: v for k, v in {**params(entra), "api-version": version}.items() if v is not None}
    response = http.get(TOKEN_PATH, params=query, headers=header(app))
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"code", "message", "innerError"}
    if version is None:
        assert error["code"] == "ApiVersionUnspecified"
    else:
        assert error["code"] == "UnsupportedApiVersion"
        assert error["message"].startswith("The HTTP resource that matches the request URI 'http://app-service.test")
        assert error["message"].endswith(f"does not support the API version '{version}'.")


def test_the_header_is_checked_first(http: TestClient, entra: EntraMock) -> None:
    response = http.get(TOKEN_PATH, params={"api-version": "1999-01-01"})
    assert response.status_code == 401


def test_selection_by_each_selector(http: TestClient, entra: EntraMock, app: AppServiceIdentityMock) -> None:
    mi = entra.identity("batch-reporting")
    for selector in ({"client_id": mi.client_id.upper()}, {"object_id": mi.object_id},
                     {"principal_id": mi.object_id}, {"mi_res_id": mi.resource_id.lower()}):
        query = {**params(entra), "client_id": "", **selector}
        body = http.get(TOKEN_PATH, params=query, headers=header(app)).json()
        assert claims_of(body)["oid"] == mi.object_id, selector
        assert body["client_id"] == mi.client_id


def test_no_lone_user_assigned_default(http: TestClient, entra: EntraMock, app: AppServiceIdentityMock) -> None:
    """Unlike IMDS, the endpoint does not pick a lone user-assigned identity: it looks for the app's own."""
    app.unassign("batch-reporting")
    query = {**params(entra), "client_id": ""}
    assert http.get(TOKEN_PATH, params=query, headers=header(app)).json()["message"] == NO_IDENTITY
    own = entra.add_identity("wif-lab-webapp", "system")  # `az webapp identity assign`: the app's own identity
    app.assign("wif-lab-webapp")
    body = http.get(TOKEN_PATH, params=query, headers=header(app)).json()
    assert claims_of(body)["oid"] == own.object_id  # the silent fallback, as on a VM


def test_cache_returns_the_same_token_until_near_expiry(http: TestClient, entra: EntraMock,
                                                        app: AppServiceIdentityMock, clock: FakeClock) -> None:
    first = http.get(TOKEN_PATH, params=params(entra), headers=header(app)).json()
    clock.advance(3600)
    assert http.get(TOKEN_PATH, params=params(entra), headers=header(app)).json() == first
    clock.now = int(first["expires_on"]) - 299
    fresh = http.get(TOKEN_PATH, params=params(entra), headers=header(app)).json()
    assert fresh["access_token"] != first["access_token"] and int(fresh["expires_on"]) > int(first["expires_on"])


def test_the_header_is_fixed_per_seed(state_dir: Path, entra: EntraMock, app: AppServiceIdentityMock) -> None:
    again = AppServiceIdentityMock(azure_context(state_dir / "azure"), entra)
    other_ctx = azure_context(state_dir / "azure", seed=7)
    other = AppServiceIdentityMock(other_ctx, EntraMock(other_ctx))
    assert again.identity_header == app.identity_header != other.identity_header
    assert len(app.identity_header) == 32


def test_needs_entra(state_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="Entra"):
        AppServiceIdentityMock(azure_context(state_dir / "azure"))


def test_only_get(http: TestClient, entra: EntraMock, app: AppServiceIdentityMock) -> None:
    assert http.post(TOKEN_PATH, params=params(entra), headers=header(app)).status_code == 405


def test_connection_section(app: AppServiceIdentityMock, entra: EntraMock) -> None:
    section = app.connection()
    assert section["identity_endpoint"] == "http://app-service.test/msi/token"
    assert section["env"] == {"IDENTITY_ENDPOINT": section["identity_endpoint"],
                              "IDENTITY_HEADER": section["identity_header"]}
    assert section["api_version"] == "2019-08-01" and section["tenant_id"] == entra.tenant_id
    assert section["resource"] == f"api://{entra.app('claude-api-federation').app_id}"
    assert [(i["name"], i["kind"]) for i in section["identities"]] == [("claude-inference", "user"),
                                                                       ("batch-reporting", "user")]


@pytest.mark.parametrize("escape", ["%ff", "%ed%a0%80", "%c3"])
def test_a_query_that_is_not_utf8_is_refused_in_the_endpoints_shape(http: TestClient, app: AppServiceIdentityMock,
                                                                      escape: str) -> None:
    r = http.get(f"/msi/token?api-version=2019-08-01&resource=api://x{escape}", headers=header(app))
    assert r.status_code == 400
    body = r.json()
    assert body["statusCode"] == 400 and body["message"].startswith("The request is not valid:")
