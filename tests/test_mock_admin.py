"""The mock Admin API (federation issuers, rules, service accounts, memberships), in-process.

Each refusal is checked for its exact status, ``error.type`` and field-prefixed message; every
success body is parsed with the ``anthropic`` SDK's own pydantic models, so a shape drift fails here
before it fails a notebook.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anthropic.types.organization import ServiceAccount, ServiceAccountWorkspaceMember, Workspace
from anthropic.types.organization.federation import FederationIssuer, FederationRule, FederationRuleWorkspace
from anthropic.types.organization_info import OrganizationInfo
from starlette.routing import Route
from starlette.testclient import TestClient

from wif_lab.mock.anthropic.admin import Caller, FederationAdmin, admin_routes
from wif_lab.mock.anthropic.service import AnthropicMock
from wif_lab.mock.anthropic.store import Grant
from wif_lab.mock.base import LabContext
from wif_lab.mock.keys import KeyStore, public_jwk
from wif_lab.mock.tls import LabTLS, ensure_lab_tls
from wif_lab.rules import evaluate

BASE = "https://127.0.0.1:7443"
ORG = "/v1/organizations"
ISSUERS = ORG + "/federation_issuers"
RULES = ORG + "/federation_rules"
ACCOUNTS = ORG + "/service_accounts"
BETA = {"anthropic-beta": "oauth-2025-04-20"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Api:
    """A thin caller of the mock with one bearer token; returns the raw response."""

    def __init__(self, client: TestClient, token: str | None) -> None:
        self.client = client
        self.token = token

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}", **BETA} if self.token else dict(BETA)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.headers())

    def post(self, path: str, body: Any = None, *, content: bytes | None = None) -> Any:
        if content is not None:
            headers = {**self.headers(), "content-type": "application/json"}
            return self.client.post(path, content=content, headers=headers)
        if body is None:
            return self.client.post(path, headers=self.headers())
        return self.client.post(path, json=body, headers=self.headers())

    def delete(self, path: str) -> Any:
        return self.client.delete(path, headers=self.headers())

    def ok(self, method: str, path: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        response = getattr(self, method)(path, *args, **kwargs)
        assert response.status_code == 200, response.text
        assert response.headers["request-id"].startswith("req_")
        return response.json()


@pytest.fixture(scope="module")
def lab_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, KeyStore, LabTLS]:
    root = tmp_path_factory.mktemp("admin-unit")
    return root, KeyStore(root), ensure_lab_tls(root)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mock(lab_files: tuple[Path, KeyStore, LabTLS], clock: Clock) -> AnthropicMock:
    root, keys, tls = lab_files
    return AnthropicMock(LabContext(root, keys, tls, {"anthropic": BASE}, clock=clock))


@pytest.fixture
def client(mock: AnthropicMock) -> Iterator[TestClient]:
    with TestClient(mock.asgi(), base_url=BASE) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient, mock: AnthropicMock) -> Api:
    return Api(client, mock.admin_token)


def _error(response: Any, status: int, error_type: str, prefix: str = "") -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert body["request_id"] == response.headers["request-id"]
    assert body["error"]["message"].startswith(prefix), body["error"]["message"]
    return body["error"]["message"]


def _issuer(api: Api, name: str = "okta-lab", **extra: Any) -> dict[str, Any]:
    body = {"name": name, "issuer_url": "https://127.0.0.1:9443/oauth2/default", **extra}
    return api.ok("post", ISSUERS, body)


def _account(api: Api, name: str = "lab-sa", **extra: Any) -> dict[str, Any]:
    return api.ok("post", ACCOUNTS, {"name": name, **extra})


def _join(api: Api, sa_id: str, workspace_id: str, role: str = "workspace_developer") -> dict[str, Any]:
    """Make the service account a member of the workspace (a rule may only name such a workspace)."""
    return api.ok("post", f"{ACCOUNTS}/{sa_id}/workspaces", {"workspace_id": workspace_id, "workspace_role": role})


def _rule_body(issuer_id: str, sa_id: str, name: str = "lab-rule", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "issuer_id": issuer_id,
        "match": {"subject_prefix": "lab-workload", "audience": "https://api.anthropic.com"},
        "oauth_scope": "workspace:inference",
        "target": {"type": "service_account", "service_account_id": sa_id},
        "workspace_id": "default",
        **extra,
    }


@pytest.fixture
def world(api: Api, mock: AnthropicMock) -> dict[str, Any]:
    """An issuer, a developer and an admin service account, a rule, and a second workspace."""
    issuer = _issuer(api)
    sa = _account(api)
    admin_sa = _account(api, "lab-admin-sa", organization_role="admin")
    rule = api.ok("post", RULES, _rule_body(issuer["id"], sa["id"]))
    team = mock.store.create_workspace("Team A")
    return {"issuer": issuer, "sa": sa, "admin_sa": admin_sa, "rule": rule, "team": team}


def _rsa_jwk(lab_files: tuple[Path, KeyStore, LabTLS]) -> dict[str, Any]:
    return public_jwk(lab_files[1].private_key("admin-test-rsa"), "admin-test-1")


# --- auth ----------------------------------------------------------------------------------------


def _concrete(route: Route) -> str:
    return route.path.format(
        issuer_id="fdis_01x", rule_id="fdrl_01x", service_account_id="svac_01x", workspace_id="wrkspc_01x"
    )


def _every_route(mock: AnthropicMock) -> list[tuple[str, str]]:
    return [(method, _concrete(r)) for r in admin_routes(mock) for method in sorted(r.methods - {"HEAD"})]


def test_every_route_needs_an_org_admin_oauth_token(mock: AnthropicMock, client: TestClient) -> None:
    workload = mock.store.mint_grant(
        Grant("svac_01x", mock.store.default_workspace_id, "workspace:inference", expires_at=None, rule_id="fdrl_1")
    )
    expired = mock.store.mint_grant(Grant("svac_01x", None, "org:admin", expires_at=mock.ctx.clock() - 1))
    routes = _every_route(mock)
    assert len(routes) == 29  # every Admin API operation of the SDK reference
    for method, path in routes:
        cases = [
            ({}, 401, "authentication_error"),
            ({"authorization": "Bearer sk-ant-oat01-not-a-token", **BETA}, 401, "authentication_error"),
            ({"authorization": "Bearer sk-ant-admin01-abcdef", **BETA}, 401, "authentication_error"),
            ({"x-api-key": "sk-ant-admin01-abcdef"}, 401, "authentication_error"),
            ({"x-api-key": mock.admin_token}, 401, "authentication_error"),  # OAuth tokens are bearer-only
            ({"authorization": f"Bearer {expired}", **BETA}, 401, "authentication_error"),
            ({"authorization": f"Bearer {workload}", **BETA}, 403, "permission_error"),
        ]
        for headers, status, error_type in cases:
            response = client.request(method, path, headers=headers)
            _error(response, status, error_type)


def test_admin_token_reaches_the_routes(api: Api, mock: AnthropicMock) -> None:
    info = OrganizationInfo.model_validate(api.ok("get", ORG + "/me"))
    assert (info.id, info.type, info.name) == (mock.store.organization_id, "organization", "wif-lab")


def test_malformed_bodies_are_400_never_500(api: Api) -> None:
    for content in (b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"):
        _error(api.post(ISSUERS, content=content), 400, "invalid_request_error")
    _error(api.post(ACCOUNTS, {"name": "ok", "nickname": "x"}), 400, "invalid_request_error",
           "nickname: extra inputs are not permitted")


# --- issuers: validation table ------------------------------------------------------------------

GOOD_URL = "https://127.0.0.1:9443/oauth2/default"

ISSUER_CASES: list[tuple[str, dict[str, Any], int, str, str]] = [
    ("missing issuer_url", {"name": "a"}, 400, "invalid_request_error", "issuer_url: field required"),
    ("missing name", {"issuer_url": GOOD_URL}, 400, "invalid_request_error", "name: field required"),
    ("upper-case name", {"name": "Okta", "issuer_url": GOOD_URL}, 400, "invalid_request_error", "name: must contain"),
    ("underscore name", {"name": "okta_lab", "issuer_url": GOOD_URL}, 400, "invalid_request_error",
     "name: must contain"),
    ("empty name", {"name": "", "issuer_url": GOOD_URL}, 400, "invalid_request_error", "name: must be 1 to 255"),
    ("long name", {"name": "a" * 256, "issuer_url": GOOD_URL}, 400, "invalid_request_error", "name: must be 1 to 255"),
    ("numeric name", {"name": 7, "issuer_url": GOOD_URL}, 400, "invalid_request_error", "name: must be a string"),
    ("http issuer", {"name": "a", "issuer_url": "http://127.0.0.1:9443"}, 400, "invalid_request_error",
     "issuer_url: url must use https scheme"),
    ("http issuer, inline", {"name": "a", "issuer_url": "http://idp.example.com", "jwks": "INLINE"}, 400,
     "invalid_request_error", "issuer_url: url must use https scheme"),
    ("IP literal dialed", {"name": "a", "issuer_url": "https://10.0.0.5/"}, 400, "invalid_request_error",
     "issuer_url: url host must be a public DNS name, not an IP address"),
    ("port dialed", {"name": "a", "issuer_url": "https://idp.example.com:8443"}, 400, "invalid_request_error",
     "issuer_url: url must use port 443"),
    ("private host dialed", {"name": "a", "issuer_url": "https://idp.internal"}, 400, "invalid_request_error",
     "issuer_url: url host must be a public DNS name"),
    ("single-label host dialed", {"name": "a", "issuer_url": "https://keycloak/realms/x"}, 400,
     "invalid_request_error", "issuer_url: url host must be a public DNS name"),
    ("credentials in url", {"name": "a", "issuer_url": "https://u:p@idp.example.com"}, 400,
     "invalid_request_error", "issuer_url: url must not contain credentials"),
    ("http discovery_base", {"name": "a", "issuer_url": GOOD_URL,
                             "jwks": {"type": "discovery", "discovery_base": "http://idp.example.com"}},
     400, "invalid_request_error", "jwks.discovery_base: url must use https scheme"),
    ("discovery_base on a port", {"name": "a", "issuer_url": "https://10.1.1.1:6443",
                                  "jwks": {"type": "discovery", "discovery_base": "https://idp.example.com:8443"}},
     400, "invalid_request_error", "jwks.discovery_base: url must use port 443"),
    ("explicit_url IP literal", {"name": "a", "issuer_url": GOOD_URL,
                                 "jwks": {"type": "explicit_url", "url": "https://192.168.1.10/jwks"}},
     400, "invalid_request_error", "jwks.url: url host must be a public DNS name, not an IP address"),
    ("explicit_url without url", {"name": "a", "issuer_url": GOOD_URL, "jwks": {"type": "explicit_url"}},
     400, "invalid_request_error", "jwks.url: field required"),
    ("unknown jwks type", {"name": "a", "issuer_url": GOOD_URL, "jwks": {"type": "static"}},
     400, "invalid_request_error", "jwks.type: must be one of discovery, explicit_url, inline"),
    ("jwks without type", {"name": "a", "issuer_url": GOOD_URL, "jwks": {}},
     400, "invalid_request_error", "jwks.type: field required"),
    ("jwks not an object", {"name": "a", "issuer_url": GOOD_URL, "jwks": "discovery"},
     400, "invalid_request_error", "jwks: must be an object"),
    ("extra jwks member", {"name": "a", "issuer_url": GOOD_URL, "jwks": {"type": "discovery", "url": "x"}},
     400, "invalid_request_error", "jwks.url: extra inputs are not permitted"),
    ("bad ca_cert_pem", {"name": "a", "issuer_url": GOOD_URL, "jwks": {"type": "discovery", "ca_cert_pem": "nope"}},
     400, "invalid_request_error", "jwks.ca_cert_pem: must be one or more PEM-encoded X.509 certificates"),
    ("inline wrapper", {"name": "a", "issuer_url": GOOD_URL, "jwks": {"type": "inline", "keys": {"keys": ["JWK"]}}},
     400, "invalid_request_error", "jwks.keys: must be the array of JWKs"),
    ("inline wrapper inside", {"name": "a", "issuer_url": GOOD_URL,
                               "jwks": {"type": "inline", "keys": [{"keys": ["JWK"]}]}},
     400, "invalid_request_error", "jwks.keys[0]: is a whole JWKS document"),
    ("inline empty", {"name": "a", "issuer_url": GOOD_URL, "jwks": {"type": "inline", "keys": []}},
     400, "invalid_request_error", "jwks.keys: must be a non-empty array"),
    ("inline missing keys", {"name": "a", "issuer_url": GOOD_URL, "jwks": {"type": "inline"}},
     400, "invalid_request_error", "jwks.keys: must be a non-empty array"),
    ("inline private key", {"name": "a", "issuer_url": GOOD_URL, "jwks": {"type": "inline", "keys": ["PRIVATE"]}},
     400, "invalid_request_error", "jwks.keys[0]: contains private key material (d"),
    ("inline symmetric key", {"name": "a", "issuer_url": GOOD_URL,
                              "jwks": {"type": "inline", "keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
     400, "invalid_request_error", "jwks.keys[0].kty: symmetric keys (oct) are not accepted"),
    ("inline OKP key", {"name": "a", "issuer_url": GOOD_URL,
                        "jwks": {"type": "inline", "keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}]}},
     400, "invalid_request_error", "jwks.keys[0].kty: must be RSA or EC"),
    ("inline broken RSA", {"name": "a", "issuer_url": GOOD_URL,
                           "jwks": {"type": "inline", "keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}},
     400, "invalid_request_error", "jwks.keys[0]: not a valid RSA public key"),
    ("inline HS alg", {"name": "a", "issuer_url": GOOD_URL, "jwks": {"type": "inline", "keys": ["HS256"]}},
     400, "invalid_request_error", "jwks.keys[0].alg: must be one of"),
    ("lifetime 0", {"name": "a", "issuer_url": GOOD_URL, "max_jwt_lifetime_seconds": 0}, 400,
     "invalid_request_error", "max_jwt_lifetime_seconds: must be an integer from 1 to 176400"),
    ("lifetime too long", {"name": "a", "issuer_url": GOOD_URL, "max_jwt_lifetime_seconds": 176401}, 400,
     "invalid_request_error", "max_jwt_lifetime_seconds: must be an integer from 1 to 176400"),
    ("lifetime as string", {"name": "a", "issuer_url": GOOD_URL, "max_jwt_lifetime_seconds": "3600"}, 400,
     "invalid_request_error", "max_jwt_lifetime_seconds: must be an integer"),
    ("lifetime as bool", {"name": "a", "issuer_url": GOOD_URL, "max_jwt_lifetime_seconds": True}, 400,
     "invalid_request_error", "max_jwt_lifetime_seconds: must be an integer"),
    ("lifetime as float", {"name": "a", "issuer_url": GOOD_URL, "max_jwt_lifetime_seconds": 3600.5}, 400,
     "invalid_request_error", "max_jwt_lifetime_seconds: must be an integer"),
    ("check_jti as string", {"name": "a", "issuer_url": GOOD_URL, "check_jti": "yes"}, 400,
     "invalid_request_error", "check_jti: must be a boolean"),
    ("old jwks_source field", {"name": "a", "issuer_url": GOOD_URL, "jwks_source": "discovery"}, 400,
     "invalid_request_error", "jwks_source: extra inputs are not permitted"),
    ("polling flag on create", {"name": "a", "issuer_url": GOOD_URL, "jwks_polling_disabled": False}, 400,
     "invalid_request_error", "jwks_polling_disabled: extra inputs are not permitted"),
]


def _fill_keys(body: dict[str, Any], jwk: dict[str, Any]) -> dict[str, Any]:
    """Replace the table's key placeholders with a real (or deliberately broken) JWK."""
    jwks = body.get("jwks")
    if jwks == "INLINE":
        return {**body, "jwks": {"type": "inline", "keys": [jwk]}}
    if isinstance(jwks, dict) and isinstance(jwks.get("keys"), list):
        filled = []
        for key in jwks["keys"]:
            if key == "JWK":
                key = jwk
            elif key == "PRIVATE":
                key = {**jwk, "d": "AQAB"}
            elif key == "HS256":
                key = {**jwk, "alg": "HS256"}
            elif isinstance(key, dict) and key.get("keys") == ["JWK"]:
                key = {"keys": [jwk]}
            filled.append(key)
        return {**body, "jwks": {**jwks, "keys": filled}}
    if isinstance(jwks, dict) and jwks.get("keys") == {"keys": ["JWK"]}:
        return {**body, "jwks": {**jwks, "keys": {"keys": [jwk]}}}
    return body


@pytest.mark.parametrize(("case", "body", "status", "error_type", "prefix"), ISSUER_CASES,
                         ids=[case[0] for case in ISSUER_CASES])
def test_issuer_create_refusals(api: Api, lab_files: Any, case: str, body: dict[str, Any], status: int,
                                error_type: str, prefix: str) -> None:
    response = api.post(ISSUERS, _fill_keys(body, _rsa_jwk(lab_files)))
    _error(response, status, error_type, prefix)


ISSUER_ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("loopback with port (lab relaxation)", {"issuer_url": "https://127.0.0.1:9443/oauth2/default"}),
    ("localhost with port", {"issuer_url": "https://localhost:9443"}),
    ("IPv6 loopback with port", {"issuer_url": "https://[::1]:9443/realm"}),
    ("public host, default port", {"issuer_url": "https://dev-123456.okta.com/oauth2/default"}),
    ("public host, explicit 443", {"issuer_url": "https://login.example.com:443/tenant/v2.0"}),
    ("internal issuer, inline keys", {"issuer_url": "https://kubernetes.default.svc.cluster.local", "jwks": "INLINE"}),
    ("IP issuer, inline keys", {"issuer_url": "https://10.0.0.1:6443", "jwks": "INLINE"}),
    ("internal issuer, explicit JWKS URL", {"issuer_url": "https://10.0.0.1:6443",
                                            "jwks": {"type": "explicit_url", "url": "https://keys.example.com/jwks"}}),
    ("internal issuer, discovery_base", {"issuer_url": "https://idp.internal:8443",
                                         "jwks": {"type": "discovery", "discovery_base": "https://127.0.0.1:9443"}}),
    ("limits", {"issuer_url": GOOD_URL, "max_jwt_lifetime_seconds": 176400, "check_jti": False}),
    ("lifetime 1", {"issuer_url": GOOD_URL, "max_jwt_lifetime_seconds": 1}),
    ("EC key inline", {"issuer_url": GOOD_URL, "jwks": "INLINE_EC"}),
]


@pytest.mark.parametrize(("case", "body"), ISSUER_ACCEPTED, ids=[case[0] for case in ISSUER_ACCEPTED])
def test_issuer_create_accepts(api: Api, lab_files: Any, case: str, body: dict[str, Any]) -> None:
    if body.get("jwks") == "INLINE_EC":
        ec = public_jwk(lab_files[1].private_key("admin-test-ec", "ec"), "admin-ec-1")
        body = {**body, "jwks": {"type": "inline", "keys": [ec]}}
    created = api.ok("post", ISSUERS, {"name": "ok", **_fill_keys(body, _rsa_jwk(lab_files))})
    issuer = FederationIssuer.model_validate(created)
    assert issuer.issuer_url == body["issuer_url"]
    assert created["jwks"]["type"] in ("discovery", "explicit_url", "inline")


def test_issuer_defaults_and_shape(api: Api, mock: AnthropicMock, lab_files: Any) -> None:
    created = _issuer(api)
    assert created == mock.store.issuers[created["id"]]
    assert created["id"].startswith("fdis_01")
    assert created["jwks"] == {"type": "discovery", "ca_cert_pem": None, "discovery_base": None}
    assert (created["check_jti"], created["max_jwt_lifetime_seconds"]) == (True, 3600)
    assert created["created_at"] == created["updated_at"] == "2027-01-15T08:00:00Z"
    assert created["created_by_actor_id"] == mock.admin_service_account["id"]
    for nullable in ("archived_at", "archived_by_actor_id", "jwks_polling_disabled_at", "poll_status"):
        assert created[nullable] is None
    with_ca = api.ok("post", ISSUERS, {"name": "private-ca", "issuer_url": GOOD_URL,
                                       "jwks": {"type": "discovery", "ca_cert_pem": lab_files[2].ca_pem}})
    assert with_ca["jwks"]["ca_cert_pem"] == lab_files[2].ca_pem
    assert FederationIssuer.model_validate(with_ca).jwks.type == "discovery"
    assert api.ok("get", f"{ISSUERS}/{created['id']}") == created


def test_issuer_update(api: Api, mock: AnthropicMock, world: dict[str, Any], clock: Clock) -> None:
    issuer_id = world["issuer"]["id"]
    clock.now += 60
    updated = api.ok("post", f"{ISSUERS}/{issuer_id}",
                     {"name": "okta-renamed", "max_jwt_lifetime_seconds": 7500, "check_jti": False,
                      "jwks_polling_disabled": False})
    assert (updated["name"], updated["max_jwt_lifetime_seconds"], updated["check_jti"]) == (
        "okta-renamed", 7500, False)
    assert updated["updated_at"] == "2027-01-15T08:01:00Z" != updated["created_at"]
    assert mock.store.rules[world["rule"]["id"]]["issuer_name"] == "okta-renamed"
    assert api.ok("get", f"{RULES}/{world['rule']['id']}")["issuer_name"] == "okta-renamed"
    # Explicit nulls leave non-nullable fields as they are.
    assert api.ok("post", f"{ISSUERS}/{issuer_id}", {"name": None, "check_jti": None})["name"] == "okta-renamed"
    _error(api.post(f"{ISSUERS}/{issuer_id}", {"jwks_polling_disabled": True}), 400, "invalid_request_error",
           "jwks_polling_disabled: only false is accepted")
    _error(api.post(f"{ISSUERS}/{issuer_id}", {"issuer_url": "http://127.0.0.1:1"}), 400,
           "invalid_request_error", "issuer_url: url must use https scheme")
    _error(api.post(f"{ISSUERS}/fdis_01nope", {"name": "x"}), 404, "not_found_error")
    _error(api.get(f"{ISSUERS}/fdis_01nope"), 404, "not_found_error")


def test_issuer_update_checks_urls_against_the_new_jwks_mode(api: Api, lab_files: Any) -> None:
    internal = api.ok("post", ISSUERS, {"name": "k8s", "issuer_url": "https://kubernetes.default.svc.cluster.local",
                                        "jwks": {"type": "inline", "keys": [_rsa_jwk(lab_files)]}})
    # Switching to discovery would make Anthropic dial the internal issuer URL: refused.
    _error(api.post(f"{ISSUERS}/{internal['id']}", {"jwks": {"type": "discovery"}}), 400,
           "invalid_request_error", "issuer_url: url host must be a public DNS name")
    replaced = api.ok("post", f"{ISSUERS}/{internal['id']}",
                      {"jwks": {"type": "explicit_url", "url": "https://127.0.0.1:9443/keys"}})
    assert replaced["jwks"] == {"type": "explicit_url", "url": "https://127.0.0.1:9443/keys", "ca_cert_pem": None}


def test_duplicate_issuer_name_is_409_without_retry(api: Api, world: dict[str, Any]) -> None:
    for response in (api.post(ISSUERS, {"name": "okta-lab", "issuer_url": GOOD_URL}),
                     api.post(f"{ISSUERS}/{_issuer(api, 'other')['id']}", {"name": "okta-lab"})):
        _error(response, 409, "conflict_error", "name: a federation issuer named 'okta-lab' already exists")
        assert response.headers["x-should-retry"] == "false"


def test_issuer_archive_guard_and_idempotency(api: Api, world: dict[str, Any], clock: Clock) -> None:
    issuer_id, rule_id = world["issuer"]["id"], world["rule"]["id"]
    _error(api.post(f"{ISSUERS}/{issuer_id}/archive"), 400, "invalid_request_error",
           f"federation issuer '{issuer_id}' is still referenced by live federation rules ({rule_id})")
    api.ok("post", f"{RULES}/{rule_id}/archive")
    clock.now += 30
    first = api.ok("post", f"{ISSUERS}/{issuer_id}/archive")
    clock.now += 30
    again = api.ok("post", f"{ISSUERS}/{issuer_id}/archive")
    assert first["archived_at"] == again["archived_at"] == "2027-01-15T08:00:30Z"
    assert first["archived_by_actor_id"] == world["issuer"]["created_by_actor_id"]
    _error(api.post(f"{ISSUERS}/{issuer_id}", {"check_jti": False}), 400, "invalid_request_error",
           f"federation issuer '{issuer_id}' is archived")
    _error(api.post(f"{ISSUERS}/{issuer_id}/archive", {"reason": "x"}), 400, "invalid_request_error",
           "reason: extra inputs are not permitted")
    # Archiving frees the name (decision documented in the module).
    assert _issuer(api, "okta-lab")["id"] != issuer_id


# --- paging --------------------------------------------------------------------------------------


def test_cursor_paging_is_stable_newest_first_and_hides_archived(api: Api) -> None:
    ids = [_issuer(api, f"issuer-{i}")["id"] for i in range(5)]
    seen, page, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"page": page} if page else {})}
        body = api.ok("get", ISSUERS, **params)
        assert len(body["data"]) <= 2
        seen += [item["id"] for item in body["data"]]
        pages += 1
        page = body["next_page"]
        if page is None:
            break
        assert isinstance(page, str) and "issuer" not in page
    assert (seen, pages) == (ids[::-1], 3)
    assert [i["id"] for i in api.ok("get", ISSUERS)["data"]] == ids[::-1]  # default limit 20
    api.ok("post", f"{ISSUERS}/{ids[2]}/archive")
    assert ids[2] not in [i["id"] for i in api.ok("get", ISSUERS)["data"]]
    assert ids[2] in [i["id"] for i in api.ok("get", ISSUERS, include_archived="true")["data"]]


@pytest.mark.parametrize(("params", "prefix"), [
    ({"limit": 0}, "limit: must be an integer from 1 to 100"),
    ({"limit": 101}, "limit: must be an integer from 1 to 100"),
    ({"limit": "ten"}, "limit: must be an integer from 1 to 100"),
    ({"page": "garbage!"}, "page: not a pagination cursor from this list"),
    ({"page": "WyJmZHJsIiwzXQ"}, "page: not a pagination cursor from this list"),  # a rules cursor
    ({"include_archived": "yes"}, "include_archived: must be true or false"),
])
def test_bad_list_parameters(api: Api, params: dict[str, Any], prefix: str) -> None:
    _error(api.get(ISSUERS, **params), 400, "invalid_request_error", prefix)


def test_rule_list_filters_by_issuer(api: Api, world: dict[str, Any]) -> None:
    other = _issuer(api, "other-issuer")
    api.ok("post", RULES, _rule_body(other["id"], world["sa"]["id"], "other-rule"))
    by_issuer = api.ok("get", RULES, issuer_id=world["issuer"]["id"])
    assert [r["id"] for r in by_issuer["data"]] == [world["rule"]["id"]]
    assert len(api.ok("get", RULES)["data"]) == 2
    assert api.ok("get", RULES, issuer_id="fdis_01unknown")["data"] == []


# --- rules ---------------------------------------------------------------------------------------


def test_rule_shape_matches_the_store_and_the_sdk(api: Api, mock: AnthropicMock, world: dict[str, Any]) -> None:
    rule = world["rule"]
    assert rule == mock.store.rules[rule["id"]]
    parsed = FederationRule.model_validate(rule)
    assert parsed.target.service_account_name == "lab-sa"
    assert parsed.issuer_name == "okta-lab"
    assert rule["match"] == {"subject_prefix": "lab-workload", "audience": "https://api.anthropic.com",
                             "claims": None, "condition": None}
    default = mock.store.default_workspace_id
    assert (rule["workspace_id"], rule["workspace_ids"]) == (default, [default])
    assert (rule["oauth_scope"], rule["token_lifetime_seconds"], rule["applies_to_all_workspaces"]) == (
        "workspace:inference", 3600, False)
    assert rule["description"] is None and rule["attributes"] is None
    # The store's record is what the token endpoint evaluates.
    verdict = evaluate(mock.store.issuers[rule["issuer_id"]], mock.store.rules[rule["id"]],
                       {"iss": world["issuer"]["issuer_url"], "sub": "lab-workload", "aud": "https://api.anthropic.com"},
                       default_audience="https://api.anthropic.com")
    assert verdict.passed, verdict.failures


DROP = object()  # a rule-table value meaning "leave this member out"


def _rule_cases() -> list[tuple[str, dict[str, Any], int, str, str]]:
    ok_match = {"subject_prefix": "x"}
    return [
        ("missing workspace", {"workspace_id": DROP}, 400, "invalid_request_error",
         "workspace_id: field required unless applies_to_all_workspaces is true"),
        ("unknown workspace", {"workspace_id": "wrkspc_01nope"}, 400, "invalid_request_error",
         "workspace_id: workspace 'wrkspc_01nope' does not exist"),
        ("archived workspace", {"workspace_id": "ARCHIVED_WS"}, 400, "invalid_request_error",
         "workspace_id: workspace"),
        ("unknown issuer", {"issuer_id": "fdis_01nope"}, 400, "invalid_request_error",
         "issuer_id: federation issuer 'fdis_01nope' does not exist"),
        ("archived issuer", {"issuer_id": "ARCHIVED_ISSUER"}, 400, "invalid_request_error",
         "issuer_id: federation issuer"),
        ("unknown target", {"target": {"type": "service_account", "service_account_id": "svac_01nope"}}, 400,
         "invalid_request_error", "target.service_account_id: service account 'svac_01nope' does not exist"),
        ("archived target", {"target": "ARCHIVED_SA"}, 400, "invalid_request_error", "target.service_account_id:"),
        ("user target", {"target": {"type": "user", "service_account_id": "svac_01x"}}, 400,
         "invalid_request_error", "target.type: must be 'service_account'"),
        ("target extra member", {"target": {"type": "service_account", "service_account_id": "svac_01x", "id": 1}},
         400, "invalid_request_error", "target.id: extra inputs are not permitted"),
        ("target not an object", {"target": "svac_01x"}, 400, "invalid_request_error", "target: must be an object"),
        ("empty match", {"match": {}}, 400, "invalid_request_error", "match: needs at least one of"),
        ("audience only", {"match": {"audience": "https://api.anthropic.com"}}, 400, "invalid_request_error",
         "match: needs at least one of"),
        ("wildcard-only subject", {"match": {"subject_prefix": "*"}}, 400, "invalid_request_error",
         "match.subject_prefix:"),
        ("constant-true condition", {"match": {"condition": "true"}}, 400, "invalid_request_error", "match.condition:"),
        ("unknown matcher", {"match": {**ok_match, "issuer": "x"}}, 400, "invalid_request_error",
         "match.issuer: unknown field"),
        ("match not an object", {"match": ["sub"]}, 400, "invalid_request_error", "match: must be an object"),
        ("unknown scope", {"oauth_scope": "workspace:admin"}, 400, "invalid_request_error",
         "oauth_scope: unknown scope 'workspace:admin'"),
        ("blank scope", {"oauth_scope": "  "}, 400, "invalid_request_error", "oauth_scope: at least one scope"),
        ("org:admin scope", {"oauth_scope": "org:admin"}, 403, "permission_error",
         "a rule with oauth_scope 'org:admin' requires a Console session"),
        ("tunnels scope", {"oauth_scope": "workspace:inference org:manage_tunnels"}, 403, "permission_error", "a rule"),
        ("lifetime 59", {"token_lifetime_seconds": 59}, 400, "invalid_request_error",
         "token_lifetime_seconds: must be an integer from 60 to 86400"),
        ("lifetime 86401", {"token_lifetime_seconds": 86401}, 400, "invalid_request_error", "token_lifetime_seconds:"),
        ("bool all-workspaces", {"applies_to_all_workspaces": "yes"}, 400, "invalid_request_error",
         "applies_to_all_workspaces: must be a boolean"),
        ("numeric description", {"description": 5}, 400, "invalid_request_error", "description: must be a string"),
        ("bad name", {"name": "Lab Rule"}, 400, "invalid_request_error", "name: must contain only"),
        ("missing match", {"match": DROP}, 400, "invalid_request_error", "match: field required"),
        ("duplicate name", {"name": "lab-rule"}, 409, "conflict_error", "name: a federation rule named 'lab-rule'"),
        ("extra field", {"audience": "x"}, 400, "invalid_request_error", "audience: extra inputs are not permitted"),
    ]


RULE_CASES = _rule_cases()


@pytest.mark.parametrize(("case", "change", "status", "error_type", "prefix"), RULE_CASES,
                         ids=[case[0] for case in RULE_CASES])
def test_rule_create_refusals(api: Api, mock: AnthropicMock, world: dict[str, Any], case: str,
                              change: dict[str, Any], status: int, error_type: str, prefix: str) -> None:
    body = _rule_body(world["issuer"]["id"], world["sa"]["id"], "new-rule")
    if change.get("workspace_id") == "ARCHIVED_WS":
        mock.store.workspaces[world["team"]["id"]]["archived_at"] = mock.store.now_iso()
        change = {"workspace_id": world["team"]["id"]}
    if change.get("issuer_id") == "ARCHIVED_ISSUER":
        spare = _issuer(api, "spare")
        api.ok("post", f"{ISSUERS}/{spare['id']}/archive")
        change = {"issuer_id": spare["id"]}
    if change.get("target") == "ARCHIVED_SA":
        spare = _account(api, "spare-sa")
        api.ok("post", f"{ACCOUNTS}/{spare['id']}/archive")
        change = {"target": {"type": "service_account", "service_account_id": spare["id"]}}
    body.update(change)
    body = {key: value for key, value in body.items() if value is not DROP}
    response = api.post(RULES, body)
    _error(response, status, error_type, prefix)
    if status == 409:
        assert response.headers["x-should-retry"] == "false"


def test_rule_create_variants(api: Api, mock: AnthropicMock, world: dict[str, Any]) -> None:
    issuer_id, sa_id, team = world["issuer"]["id"], world["sa"]["id"], world["team"]["id"]
    everywhere = api.ok("post", RULES, {k: v for k, v in _rule_body(issuer_id, sa_id, "everywhere").items()
                                        if k != "workspace_id"} | {"applies_to_all_workspaces": True})
    assert (everywhere["applies_to_all_workspaces"], everywhere["workspace_ids"], everywhere["workspace_id"]) == (
        True, [], None)
    repeated = "workspace:developer workspace:inference workspace:developer"
    _join(api, sa_id, team)
    in_team = api.ok("post", RULES, _rule_body(issuer_id, sa_id, "in-team", workspace_id=team,
                                                token_lifetime_seconds=60, description="team rule",
                                                oauth_scope=repeated))
    assert in_team["workspace_ids"] == [team] and in_team["token_lifetime_seconds"] == 60
    assert in_team["oauth_scope"] == "workspace:developer workspace:inference"
    assert api.ok("post", RULES, _rule_body(issuer_id, sa_id, "longest", token_lifetime_seconds=86400))
    # service_account_name is read-only: accepted on writes and replaced by the real name.
    named = api.ok("post", RULES, _rule_body(issuer_id, sa_id, "named", target={
        "type": "service_account", "service_account_id": sa_id, "service_account_name": "whatever"}))
    assert named["target"]["service_account_name"] == "lab-sa"
    claims_rule = api.ok("post", RULES, _rule_body(issuer_id, sa_id, "by-claims", match={
        "claims": {"tid": "t-1"}, "condition": "claims.sub.startsWith('lab')"}))
    assert claims_rule["match"]["claims"] == {"tid": "t-1"}


def test_console_managed_scopes(api: Api, mock: AnthropicMock, world: dict[str, Any]) -> None:
    """Rules granting more than workspace access are made in the Console; OAuth callers cannot touch them."""
    console = FederationAdmin(mock.store)
    as_console = Caller(mock.admin_service_account["id"], interactive=True, console=True)
    body = _rule_body(world["issuer"]["id"], world["sa"]["id"], "admin-rule", oauth_scope="org:admin")
    with pytest.raises(Exception, match="org:admin may only be granted") as refused:
        console.create_rule(body, as_console)
    assert getattr(refused.value, "status", None) == 400
    body["target"] = {"type": "service_account", "service_account_id": world["admin_sa"]["id"]}
    rule = console.create_rule(body, as_console)
    assert FederationRule.model_validate(rule).oauth_scope == "org:admin"
    rule_path = f"{RULES}/{rule['id']}"
    for response in (
        api.post(rule_path, {"description": "x"}),
        api.post(rule_path + "/archive"),
        api.post(rule_path + "/workspaces", {"workspace_id": world["team"]["id"]}),
        api.delete(rule_path + "/workspaces/" + mock.store.default_workspace_id),
        api.post(f"{ISSUERS}/{world['issuer']['id']}", {"check_jti": False}),
        api.post(f"{RULES}/{world['rule']['id']}", {"oauth_scope": "org:admin"}),
    ):
        _error(response, 403, "permission_error")
        assert "requires a Console session" in response.json()["error"]["message"]
    # Reading them is fine.
    assert api.ok("get", rule_path)["oauth_scope"] == "org:admin"


def test_rule_update(api: Api, mock: AnthropicMock, world: dict[str, Any], clock: Clock) -> None:
    rule_id, team = world["rule"]["id"], world["team"]["id"]
    path = f"{RULES}/{rule_id}"
    other_sa = _account(api, "other-sa")
    _join(api, other_sa["id"], team)
    clock.now += 5
    updated = api.ok("post", path, {
        "match": {"claims": {"tid": "tenant-1"}},
        "target": {"type": "service_account", "service_account_id": other_sa["id"]},
        "description": "changed", "token_lifetime_seconds": 600, "oauth_scope": "workspace:developer",
        "workspace_id": team, "name": "renamed-rule",
    })
    assert updated["match"] == {"subject_prefix": None, "audience": None, "claims": {"tid": "tenant-1"},
                                "condition": None}  # replaced whole
    assert updated["target"] == {"type": "service_account", "service_account_id": other_sa["id"],
                                 "service_account_name": "other-sa"}
    assert (updated["workspace_id"], updated["workspace_ids"]) == (team, [team])
    assert list(mock.store.rule_workspaces[rule_id]) == [team]
    assert updated["updated_at"] == "2027-01-15T08:00:05Z"
    assert updated == mock.store.rules[rule_id]
    enabled_at = mock.store.rule_workspaces[rule_id][team]["created_at"]
    clock.now += 5
    assert api.ok("post", path, {"workspace_id": team})["workspace_ids"] == [team]
    assert mock.store.rule_workspaces[rule_id][team]["created_at"] == enabled_at  # same enablement kept
    assert api.ok("post", path, {"description": None})["description"] == ""
    _error(api.post(path, {"issuer_id": world["issuer"]["id"]}), 400, "invalid_request_error",
           "issuer_id: is immutable")
    _error(api.post(path, {"match": {"audience": "x"}}), 400, "invalid_request_error", "match: needs at least one")
    _error(api.post(path, {"target": {"type": "service_account", "service_account_id": "svac_01nope"}}), 400,
           "invalid_request_error", "target.service_account_id:")
    _error(api.post(path, {"workspace_id": "wrkspc_01nope"}), 400, "invalid_request_error", "workspace_id:")
    _error(api.post(f"{RULES}/fdrl_01nope", {"description": "x"}), 404, "not_found_error")
    # A second enablement makes workspace_id ambiguous.
    api.ok("post", path + "/workspaces", {"workspace_id": "default"})
    _error(api.post(path, {"workspace_id": "default"}), 400, "invalid_request_error",
           "workspace_id: the rule is enabled for more than one workspace")
    # Duplicate names on update.
    api.ok("post", RULES, _rule_body(world["issuer"]["id"], world["sa"]["id"], "taken"))
    response = api.post(path, {"name": "taken"})
    _error(response, 409, "conflict_error", "name: a federation rule named 'taken'")
    assert response.headers["x-should-retry"] == "false"


def test_applies_to_all_false_needs_a_workspace(api: Api, world: dict[str, Any]) -> None:
    rule = api.ok("post", RULES, {k: v for k, v in _rule_body(world["issuer"]["id"], world["sa"]["id"], "all").items()
                                  if k != "workspace_id"} | {"applies_to_all_workspaces": True})
    path = f"{RULES}/{rule['id']}"
    _error(api.post(path, {"applies_to_all_workspaces": False}), 400, "invalid_request_error",
           "applies_to_all_workspaces: cannot be false")
    _join(api, world["sa"]["id"], world["team"]["id"])
    narrowed = api.ok("post", path, {"applies_to_all_workspaces": False, "workspace_id": world["team"]["id"]})
    assert (narrowed["applies_to_all_workspaces"], narrowed["workspace_ids"]) == (False, [world["team"]["id"]])


GITHUB = "https://token.actions.githubusercontent.com"


def test_shared_issuer_rules_must_pin_the_tenant(api: Api, world: dict[str, Any]) -> None:
    """GitHub Actions signs every customer's tokens: a rule on a repo wildcard of nobody in particular
    would let any GitHub user in, so the Admin API refuses it on create and on every update."""
    github = api.ok("post", ISSUERS, {"name": "github", "issuer_url": GITHUB})
    sa_id = world["sa"]["id"]

    def body(name: str, match: dict[str, Any]) -> dict[str, Any]:
        return _rule_body(github["id"], sa_id, name) | {"match": match}

    for match in ({"subject_prefix": "repo:*"}, {"subject_prefix": "repo:my-org*"},
                  {"claims": {"ref": "refs/heads/main"}}, {"condition": 'claims.ref == "refs/heads/main"'}):
        message = _error(api.post(RULES, body("loose", match)), 400, "invalid_request_error", "match: GitHub Actions")
        assert "repository_owner" in message and "repo:YOUR_ORG/" in message
    pinned = [
        {"subject_prefix": "repo:my-org/my-repo:ref:refs/heads/main"},
        {"subject_prefix": "repo:my-org/*"},
        {"claims": {"repository_owner": "my-org"}, "subject_prefix": "repo:*"},
        {"condition": 'claims.repository_owner == "my-org" && claims.ref == "refs/heads/main"'},
        {"condition": 'claims["repository_id"] == "123"'},
    ]
    rules = [api.ok("post", RULES, body(f"pinned-{i}", match)) for i, match in enumerate(pinned)]

    # Updating a pinned rule to an unpinned match is refused; another field alone is fine.
    path = f"{RULES}/{rules[0]['id']}"
    _error(api.post(path, {"match": {"subject_prefix": "repo:*"}}), 400, "invalid_request_error", "match: GitHub")
    assert api.ok("post", path, {"token_lifetime_seconds": 900})["token_lifetime_seconds"] == 900

    # Moving an issuer to the shared platform is refused while a live rule under it pins nothing.
    own = api.ok("post", ISSUERS, {"name": "moving", "issuer_url": "https://ci.example.com"})
    loose = api.ok("post", RULES, _rule_body(own["id"], sa_id, "moving-rule") | {"match": {"subject_prefix": "repo:*"}})
    message = _error(api.post(f"{ISSUERS}/{own['id']}", {"issuer_url": GITHUB + "/"}), 400, "invalid_request_error",
                     "issuer_url: live rule")
    assert loose["id"] in message
    api.ok("post", f"{RULES}/{loose['id']}/archive")
    assert api.ok("post", f"{ISSUERS}/{own['id']}", {"issuer_url": GITHUB})["issuer_url"] == GITHUB


def test_rule_archive(api: Api, mock: AnthropicMock, world: dict[str, Any], clock: Clock) -> None:
    rule_id = world["rule"]["id"]
    path = f"{RULES}/{rule_id}"
    api.ok("post", path + "/workspaces", {"workspace_id": world["team"]["id"]})
    clock.now += 10
    first = api.ok("post", path + "/archive")
    clock.now += 10
    again = api.ok("post", path + "/archive")
    assert first["archived_at"] == again["archived_at"] == "2027-01-15T08:00:10Z"
    assert (again["workspace_id"], again["workspace_ids"]) == (None, [])
    assert mock.store.rule_workspaces[rule_id] == {}
    assert api.ok("get", path + "/workspaces") == {"data": [], "next_page": None}
    _error(api.post(path, {"description": "x"}), 400, "invalid_request_error",
           f"federation rule '{rule_id}' is archived")
    _error(api.post(path + "/workspaces", {"workspace_id": "default"}), 400, "invalid_request_error",
           f"federation rule '{rule_id}' is archived")
    assert rule_id not in [r["id"] for r in api.ok("get", RULES)["data"]]
    assert rule_id in [r["id"] for r in api.ok("get", RULES, include_archived="true")["data"]]
    _error(api.post(f"{RULES}/fdrl_01nope/archive"), 404, "not_found_error")


def test_rule_workspaces(api: Api, mock: AnthropicMock, world: dict[str, Any], clock: Clock) -> None:
    rule_id, team = world["rule"]["id"], world["team"]["id"]
    default = mock.store.default_workspace_id
    path = f"{RULES}/{rule_id}/workspaces"
    clock.now += 1
    added = api.ok("post", path, {"workspace_id": team})
    assert FederationRuleWorkspace.model_validate(added).workspace_name is None
    assert added == {"type": "federation_rule_workspace", "federation_rule_id": rule_id, "workspace_id": team,
                     "workspace_name": None, "created_at": "2027-01-15T08:00:01Z",
                     "created_by_actor_id": mock.admin_service_account["id"]}
    clock.now += 1
    assert api.ok("post", path, {"workspace_id": team}) == added  # idempotent: the existing enablement
    listed = api.ok("get", path, limit=1, page="ignored")
    names = [(w["workspace_id"], w["workspace_name"]) for w in listed["data"]]
    assert names == [(default, "Default"), (team, "Team A")]
    assert listed["next_page"] is None
    assert mock.store.rules[rule_id]["workspace_ids"] == [default, team] == list(mock.store.rule_workspaces[rule_id])
    _error(api.post(path, {"workspace_id": "wrkspc_01nope"}), 400, "invalid_request_error", "workspace_id:")
    _error(api.post(path, {}), 400, "invalid_request_error", "workspace_id: field required")
    _error(api.get(f"{RULES}/fdrl_01nope/workspaces"), 404, "not_found_error")

    removed = api.ok("delete", f"{path}/{default}")
    assert removed == {"type": "federation_rule_workspace_deleted", "federation_rule_id": rule_id,
                       "workspace_id": default}
    assert api.ok("delete", f"{path}/{default}") == removed  # idempotent
    rule = api.ok("get", f"{RULES}/{rule_id}")
    # The legacy workspace_id followed its enablement out, so exchanges there really stop.
    assert (rule["workspace_id"], rule["workspace_ids"]) == (None, [team])
    assert list(mock.store.rule_workspaces[rule_id]) == [team]
    _error(api.delete(f"{path}/wrkspc_01nope"), 404, "not_found_error")


# --- service accounts ----------------------------------------------------------------------------


def test_service_account_create(api: Api, mock: AnthropicMock, client: TestClient) -> None:
    sa = _account(api, "worker", description="runs jobs")
    assert sa == mock.store.service_accounts[sa["id"]]
    parsed = ServiceAccount.model_validate(sa)
    assert (parsed.organization_role, parsed.description, parsed.type) == ("developer", "runs jobs", "service_account")
    assert _account(api, "boss", organization_role="admin")["organization_role"] == "admin"
    for body, prefix in [
        ({"name": "x", "organization_role": "owner"}, "organization_role: must be one of admin, developer"),
        ({"name": "Bad Name"}, "name: must contain only"),
        ({}, "name: field required"),
        ({"name": "x", "workspace_id": "default"}, "workspace_id: extra inputs are not permitted"),
    ]:
        _error(api.post(ACCOUNTS, body), 400, "invalid_request_error", prefix)
    response = api.post(ACCOUNTS, {"name": "worker"})
    _error(response, 409, "conflict_error", "name: a service account named 'worker' already exists")
    assert response.headers["x-should-retry"] == "false"
    # A workload holding org:admin (token minted through a rule) may only create developers.
    workload = Api(client, mock.store.mint_grant(Grant(sa["id"], None, "org:admin", None, rule_id="fdrl_01x")))
    _error(workload.post(ACCOUNTS, {"name": "boss-2", "organization_role": "admin"}), 403, "permission_error",
           "organization_role: admin requires an interactive credential")
    made = workload.ok("post", ACCOUNTS, {"name": "helper"})
    assert made["created_by_actor_id"] == sa["id"]
    _error(workload.post(f"{ACCOUNTS}/{made['id']}", {"organization_role": "admin"}), 403, "permission_error")


def test_service_account_list_update_archive(api: Api, mock: AnthropicMock, world: dict[str, Any]) -> None:
    names = [sa["name"] for sa in api.ok("get", ACCOUNTS)["data"]]
    assert names == ["lab-admin-sa", "lab-sa", "lab-admin"]  # newest first
    page1 = api.ok("get", ACCOUNTS, limit=2)
    page2 = api.ok("get", ACCOUNTS, limit=2, page=page1["next_page"])
    assert [s["name"] for s in page1["data"] + page2["data"]] == names and page2["next_page"] is None

    sa_id = world["sa"]["id"]
    path = f"{ACCOUNTS}/{sa_id}"
    updated = api.ok("post", path, {"description": "now described", "organization_role": None})
    assert (updated["description"], updated["organization_role"]) == ("now described", "developer")
    assert api.ok("post", path, {"description": None})["description"] == ""
    _error(api.post(path, {"name": "new-name"}), 400, "invalid_request_error", "name: is immutable")
    _error(api.get(f"{ACCOUNTS}/svac_01nope"), 404, "not_found_error")

    _error(api.post(path + "/archive"), 400, "invalid_request_error",
           f"service account '{sa_id}' is still the target of live federation rules ({world['rule']['id']})")
    api.ok("post", f"{RULES}/{world['rule']['id']}/archive")
    first = api.ok("post", path + "/archive")
    assert api.ok("post", path + "/archive")["archived_at"] == first["archived_at"] is not None
    _error(api.post(path, {"description": "x"}), 400, "invalid_request_error", f"service account '{sa_id}' is archived")
    assert sa_id not in [s["id"] for s in api.ok("get", ACCOUNTS)["data"]]
    assert sa_id in [s["id"] for s in api.ok("get", ACCOUNTS, include_archived="true")["data"]]
    # The archived account can no longer be a rule target.
    _error(api.post(RULES, _rule_body(world["issuer"]["id"], sa_id, "late")), 400, "invalid_request_error",
           "target.service_account_id:")


def test_memberships(api: Api, mock: AnthropicMock, world: dict[str, Any]) -> None:
    sa_id, team = world["sa"]["id"], world["team"]["id"]
    default = mock.store.default_workspace_id
    path = f"{ACCOUNTS}/{sa_id}/workspaces"
    implicit = {"type": "service_account_workspace_member", "service_account_id": sa_id, "workspace_id": default,
                "workspace_role": "workspace_user", "implicit": True, "created_by_actor_id": None}
    assert api.ok("get", path) == {"data": [implicit], "next_page": None}

    member = api.ok("post", path, {"workspace_id": team, "workspace_role": "workspace_developer"})
    assert ServiceAccountWorkspaceMember.model_validate(member).implicit is False
    assert mock.store.is_member(sa_id, team)
    assert api.ok("post", path, {"workspace_id": team, "workspace_role": "workspace_user"})["workspace_role"] == (
        "workspace_user")  # re-adding replaces the role
    assert [m["workspace_id"] for m in api.ok("get", path)["data"]] == [default, team]

    for body, status, prefix in [
        ({"workspace_id": team, "workspace_role": "workspace_billing"}, 400,
         "workspace_role: service accounts cannot hold the workspace_billing role"),
        ({"workspace_id": team, "workspace_role": "owner"}, 400, "workspace_role: must be one of"),
        ({"workspace_id": team}, 400, "workspace_role: field required"),
        ({"workspace_id": "wrkspc_01nope", "workspace_role": "workspace_user"}, 400, "workspace_id: workspace"),
    ]:
        _error(api.post(path, body), status, "invalid_request_error", prefix)
    archived = mock.store.create_workspace("Old")
    archived["archived_at"] = mock.store.now_iso()
    _error(api.post(path, {"workspace_id": archived["id"], "workspace_role": "workspace_user"}), 400,
           "invalid_request_error", f"workspace_id: workspace '{archived['id']}' is archived")
    _error(api.delete(f"{path}/{archived['id']}"), 400, "invalid_request_error")
    _error(api.get(f"{ACCOUNTS}/svac_01nope/workspaces"), 404, "not_found_error")

    # Deleting the implicit default membership is a 200 no-op.
    gone = {"type": "service_account_workspace_member_deleted", "service_account_id": sa_id, "workspace_id": default}
    assert api.ok("delete", f"{path}/{default}") == gone
    assert api.ok("get", path)["data"][0] == implicit
    # An explicit default row replaces the implicit one; deleting it reverts to implicit.
    api.ok("post", path, {"workspace_id": default, "workspace_role": "workspace_developer"})
    rows = api.ok("get", path)["data"]
    assert [(m["workspace_id"], m["implicit"]) for m in rows] == [(team, False), (default, False)]
    api.ok("delete", f"{path}/{default}")
    assert api.ok("get", path)["data"][0] == implicit
    assert api.ok("delete", f"{path}/{team}")["workspace_id"] == team
    assert api.ok("delete", f"{path}/{team}")["workspace_id"] == team  # idempotent
    assert not mock.store.is_member(sa_id, team)
    _error(api.delete(f"{path}/wrkspc_01nope"), 404, "not_found_error")


def test_membership_paging(api: Api, mock: AnthropicMock, world: dict[str, Any]) -> None:
    sa_id = world["sa"]["id"]
    path = f"{ACCOUNTS}/{sa_id}/workspaces"
    extra = [mock.store.create_workspace(f"WS {i}")["id"] for i in range(3)]
    for ws in [world["team"]["id"], *extra]:
        api.ok("post", path, {"workspace_id": ws, "workspace_role": "workspace_developer"})
    first = api.ok("get", path, limit=1)
    # The implicit entry rides on top of the first page, so limit=1 can return two rows.
    assert [m["implicit"] for m in first["data"]] == [True, False]
    seen = [m["workspace_id"] for m in first["data"]]
    page = first["next_page"]
    while page:
        body = api.ok("get", path, limit=1, page=page)
        assert len(body["data"]) == 1
        seen += [m["workspace_id"] for m in body["data"]]
        page = body["next_page"]
    assert seen == [mock.store.default_workspace_id, world["team"]["id"], *extra]
    # A cursor whose membership was removed no longer matches: 400, restart from page one.
    api.ok("delete", f"{path}/{world['team']['id']}")
    _error(api.get(path, limit=1, page=first["next_page"]), 400, "invalid_request_error",
           "page: the cursor does not match an active membership")
    _error(api.get(path, page="not-a-cursor"), 400, "invalid_request_error", "page:")
    # Archived accounts list nothing.
    api.ok("post", f"{RULES}/{world['rule']['id']}/archive")
    api.ok("post", f"{ACCOUNTS}/{sa_id}/archive")
    assert api.ok("get", path) == {"data": [], "next_page": None}
    _error(api.post(path, {"workspace_id": extra[0], "workspace_role": "workspace_user"}), 400,
           "invalid_request_error", f"service account '{sa_id}' is archived")


# --- organization workspaces (SyncPage shape) -----------------------------------------------------


def test_workspaces_list(api: Api, mock: AnthropicMock) -> None:
    made = [mock.store.create_workspace(f"Team {i}")["id"] for i in range(3)]
    body = api.ok("get", ORG + "/workspaces")
    assert [w["id"] for w in body["data"]] == made
    assert (body["has_more"], body["first_id"], body["last_id"]) == (False, made[0], made[-1])
    for item in body["data"]:
        Workspace.model_validate(item)
    with_default = api.ok("get", ORG + "/workspaces", include_default="true")
    assert with_default["data"][0]["id"] == mock.store.default_workspace_id
    page = api.ok("get", ORG + "/workspaces", limit=2)
    assert ([w["id"] for w in page["data"]], page["has_more"]) == (made[:2], True)
    rest = api.ok("get", ORG + "/workspaces", limit=2, after_id=page["last_id"])
    assert ([w["id"] for w in rest["data"]], rest["has_more"]) == (made[2:], False)
    back = api.ok("get", ORG + "/workspaces", limit=1, before_id=made[2])
    assert [w["id"] for w in back["data"]] == [made[1]] and back["has_more"] is True
    picked = api.client.get(ORG + "/workspaces", params=[("ids[]", made[0]), ("ids[]", made[2])],
                            headers=api.headers())
    assert [w["id"] for w in picked.json()["data"]] == [made[0], made[2]]
    _error(api.get(ORG + "/workspaces", limit=1001), 400, "invalid_request_error", "limit:")
    _error(api.get(ORG + "/workspaces", after_id="wrkspc_01nope"), 400, "invalid_request_error", "after_id:")
    assert Workspace.model_validate(api.ok("get", f"{ORG}/workspaces/{made[0]}")).name == "Team 0"
    _error(api.get(f"{ORG}/workspaces/wrkspc_01nope"), 404, "not_found_error")
