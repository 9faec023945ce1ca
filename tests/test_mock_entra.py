"""Mock Entra ID in-process: tenant model, discovery, Entra-shaped JWKS, v1/v2 token forms, errors."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from starlette.testclient import TestClient

from tests._azure_lab import ENTRA_BASE, START, FakeClock, azure_context
from wif_lab.mock.entra import MI_TOKEN_LIFETIME, EntraError, EntraMock

V2_CLAIMS = {"aud", "iss", "iat", "nbf", "exp", "aio", "azp", "azpacr", "idtyp", "oid", "rh", "sub", "tid", "uti",
             "ver", "xms_mirid"}
V1_CLAIMS = {"aud", "iss", "iat", "nbf", "exp", "aio", "appid", "appidacr", "idp", "idtyp", "oid", "rh", "sub",
             "tid", "uti", "ver", "xms_mirid", "xms_tcdt"}
DESCRIPTION_TAIL = re.compile(
    r" Trace ID: [0-9a-f-]{36} Correlation ID: [0-9a-f-]{36} Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$"
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def entra(state_dir: Path, clock: FakeClock) -> EntraMock:
    return EntraMock(azure_context(state_dir / "azure", clock))


@pytest.fixture
def http(entra: EntraMock) -> TestClient:
    return TestClient(entra.asgi(), base_url=ENTRA_BASE)


def b64url_uint(b64: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)), "big")


def test_tenant_is_deterministic_per_seed(state_dir: Path) -> None:
    a = EntraMock(azure_context(state_dir / "azure")).connection()
    b = EntraMock(azure_context(state_dir / "azure")).connection()
    other = EntraMock(azure_context(state_dir / "azure", seed=7)).connection()
    assert a == b
    assert a["tenant_id"] != other["tenant_id"]
    assert [i["object_id"] for i in a["identities"]] != [i["object_id"] for i in other["identities"]]
    kinds = [i["kind"] for i in a["identities"]]
    assert kinds.count("system") == 1 and kinds.count("user") >= 2
    ids = [v for i in a["identities"] for v in (i["object_id"], i["client_id"])]
    assert len(set(ids)) == len(ids)


def test_default_resources(entra: EntraMock) -> None:
    claude = entra.app("claude-api-federation")
    assert claude.identifier_uris == [f"api://{claude.app_id}"] and claude.access_token_version == 2
    anthropic = entra.app("anthropic-api")
    assert anthropic.identifier_uris == ["https://api.anthropic.com"] and anthropic.token_version is None
    assert anthropic.access_token_version == 1


@pytest.mark.parametrize(("path", "version"), [("/v2.0/.well-known/openid-configuration", 2),
                                               ("/.well-known/openid-configuration", 1)])
def test_discovery_documents(entra: EntraMock, http: TestClient, path: str, version: int) -> None:
    tid = entra.tenant_id
    response = http.get(f"/{tid}{path}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    doc = response.json()
    if version == 2:
        assert doc["issuer"] == f"{ENTRA_BASE}/{tid}/v2.0"
        assert doc["jwks_uri"] == f"{ENTRA_BASE}/{tid}/discovery/v2.0/keys"
        assert doc["token_endpoint"] == f"{ENTRA_BASE}/{tid}/oauth2/v2.0/token"
    else:
        assert doc["issuer"] == f"{ENTRA_BASE}/{tid}/"
        assert doc["jwks_uri"] == f"{ENTRA_BASE}/{tid}/discovery/keys"
        assert doc["token_endpoint"] == f"{ENTRA_BASE}/{tid}/oauth2/token"
    assert doc["issuer"] == entra.issuer(version)
    # MSAL KeyErrors without these two and parses the tenant out of token_endpoint.
    assert doc["authorization_endpoint"].startswith(f"{ENTRA_BASE}/{tid}/oauth2/")
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]


def test_tenant_aliases(entra: EntraMock, http: TestClient) -> None:
    by_domain = http.get(f"/{entra.tenant.domain}/v2.0/.well-known/openid-configuration").json()
    upper = http.get(f"/{entra.tenant_id.upper()}/v2.0/.well-known/openid-configuration").json()
    assert by_domain["issuer"] == upper["issuer"] == entra.issuer(2)
    common = http.get("/common/v2.0/.well-known/openid-configuration").json()
    assert common["issuer"] == f"{ENTRA_BASE}/{{tenantid}}/v2.0"


def test_jwks_shape_and_certificate_consistency(http: TestClient, entra: EntraMock) -> None:
    v2 = http.get(f"/{entra.tenant_id}/discovery/v2.0/keys").json()["keys"]
    v1 = http.get(f"/{entra.tenant_id}/discovery/keys").json()["keys"]
    assert len(v2) >= 2
    assert [k["kid"] for k in v1] == [k["kid"] for k in v2]  # one key set behind both issuers
    for key in v2:
        assert "alg" not in key
        assert key["kty"] == "RSA" and key["use"] == "sig"
        assert key["issuer"] == f"{ENTRA_BASE}/{{tenantid}}/v2.0"
        der = base64.b64decode(key["x5c"][0], validate=True)  # standard base64, not base64url
        thumb = base64.urlsafe_b64encode(hashlib.sha1(der).digest()).rstrip(b"=").decode()
        assert key["kid"] == key["x5t"] == thumb
        cert = x509.load_der_x509_certificate(der)
        numbers = cert.public_key().public_numbers()
        assert (numbers.n, numbers.e) == (b64url_uint(key["n"]), b64url_uint(key["e"]))
        assert cert.subject == cert.issuer  # self-signed
        assert "accounts.accesscontrol.windows.net" in cert.subject.rfc4514_string()
    for key in v1:
        assert "issuer" not in key and "alg" not in key


def test_signing_kid_is_stable_across_instances(state_dir: Path, entra: EntraMock) -> None:
    again = EntraMock(azure_context(state_dir / "azure"))
    assert again.kid == entra.kid
    assert again.jwks() == entra.jwks()


@pytest.mark.parametrize("path", ["/v2.0/.well-known/openid-configuration", "/.well-known/openid-configuration",
                                  "/discovery/v2.0/keys", "/discovery/keys"])
def test_unknown_tenant_is_aadsts90002(http: TestClient, path: str) -> None:
    bogus = "00000000-1111-2222-3333-444444444444"
    response = http.get(f"/{bogus}{path}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_tenant"
    assert body["error_codes"] == [90002]
    assert body["error_description"].startswith(f"AADSTS90002: Tenant '{bogus}' not found.")
    assert DESCRIPTION_TAIL.search(body["error_description"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", body["timestamp"])
    assert body["error_uri"] == "https://login.microsoftonline.com/error?code=90002"
    assert {"trace_id", "correlation_id"} <= body.keys()


def _verify(entra: EntraMock, token: str, version: int, audience: str) -> dict:
    (jwk,) = [k for k in entra.jwks(version)["keys"] if k["kid"] == jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=audience,
                      issuer=entra.issuer(version), options={"verify_exp": False, "verify_iat": False,
                                                             "verify_nbf": False})


def test_v2_token_for_api_app_id_uri(entra: EntraMock) -> None:
    app = entra.app("claude-api-federation")
    mi = entra.identity("claude-inference")
    minted = entra.mint_access_token(mi, f"api://{app.app_id}")
    claims = _verify(entra, minted.token, 2, audience=app.app_id)
    assert set(claims) == V2_CLAIMS
    assert claims["aud"] == app.app_id  # the bare GUID, not the api:// URI that was asked for
    assert claims["iss"] == f"{ENTRA_BASE}/{entra.tenant_id}/v2.0"
    assert claims["sub"] == claims["oid"] == mi.object_id
    assert claims["azp"] == mi.client_id and claims["azpacr"] == "2"
    assert claims["tid"] == entra.tenant_id and claims["ver"] == "2.0" and claims["idtyp"] == "app"
    assert claims["xms_mirid"] == mi.resource_id
    assert claims["rh"].startswith("1.")
    header = jwt.get_unverified_header(minted.token)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": entra.kid}


def test_v1_token_for_unversioned_registration(entra: EntraMock) -> None:
    mi = entra.identity("wif-lab-vm")
    minted = entra.mint_access_token(mi, "https://api.anthropic.com")
    claims = _verify(entra, minted.token, 1, audience="https://api.anthropic.com")
    assert set(claims) == V1_CLAIMS
    assert claims["iss"] == claims["idp"] == f"{ENTRA_BASE}/{entra.tenant_id}/"
    assert claims["appid"] == mi.client_id and claims["appidacr"] == "2"
    assert claims["sub"] == claims["oid"] == mi.object_id and claims["ver"] == "1.0"
    assert claims["rh"].startswith("0.")
    assert jwt.get_unverified_header(minted.token)["x5t"] == entra.kid


def test_v1_audience_is_the_resource_as_requested(entra: EntraMock) -> None:
    mi = entra.identity("wif-lab-vm")
    assert entra.mint_access_token(mi, "https://management.azure.com").claims["aud"] == "https://management.azure.com"
    assert entra.mint_access_token(mi, "https://management.azure.com/").claims["aud"] == "https://management.azure.com/"


def test_token_version_follows_the_resource_registration(entra: EntraMock) -> None:
    mi = entra.identity("claude-inference")
    app = entra.app("anthropic-api")
    entra.set_token_version("anthropic-api", 2)
    claims = entra.mint_access_token(mi, "https://api.anthropic.com").claims
    assert claims["ver"] == "2.0" and claims["aud"] == app.app_id and "appid" not in claims
    entra.set_token_version(app.app_id, None)
    assert entra.mint_access_token(mi, "https://api.anthropic.com").claims["ver"] == "1.0"
    with pytest.raises(ValueError):
        entra.set_token_version("anthropic-api", 3)


def test_register_and_remove_app(entra: EntraMock) -> None:
    mi = entra.identity("claude-inference")
    app = entra.register_app("my-audience", identifier_uris=["api://{app_id}"], token_version=2)
    assert app.identifier_uris == [f"api://{app.app_id}"]
    by_guid = entra.mint_access_token(mi, app.app_id)  # the app ID itself names the resource too
    assert by_guid.claims["aud"] == app.app_id
    with pytest.raises(ValueError, match="already used"):
        entra.register_app("copycat", identifier_uris=[f"api://{app.app_id}"])
    entra.remove_app("my-audience")
    with pytest.raises(EntraError) as info:
        entra.mint_access_token(mi, f"api://{app.app_id}")
    assert info.value.body["error_codes"] == [500011]


def test_unknown_resource_is_aadsts500011(entra: EntraMock) -> None:
    with pytest.raises(EntraError) as info:
        entra.mint_access_token("claude-inference", "api://not-registered")
    err = info.value
    assert err.status == 400
    assert err.body["error"] == "invalid_resource"
    assert err.body["error_codes"] == [500011]
    assert err.body["error_description"].startswith(
        "AADSTS500011: The resource principal named api://not-registered was not found in the tenant named "
    )
    assert DESCRIPTION_TAIL.search(err.body["error_description"])


def test_managed_identity_lifetime(entra: EntraMock, clock: FakeClock) -> None:
    minted = entra.mint_access_token("claude-inference", "https://api.anthropic.com")
    # As recorded on real VMs: iat/nbf backdated 5 minutes, exp a day after minting, exp - iat = 86,700 s.
    assert minted.issued_at == minted.not_before == int(START) - 300
    assert minted.expires_on == int(START) + 86400
    assert minted.lifetime == MI_TOKEN_LIFETIME == 86700  # more than the Claude docs' 86400 setting allows
    clock.advance(60)
    assert entra.mint_access_token("claude-inference", "https://api.anthropic.com").issued_at == int(START) + 60 - 300


def test_add_identity_and_repr_redacts(entra: EntraMock) -> None:
    mi = entra.add_identity("extra-worker")
    assert mi.kind == "user" and mi.resource_id.endswith("/userAssignedIdentities/extra-worker")
    with pytest.raises(ValueError):
        entra.add_identity("extra-worker")
    minted = entra.mint_access_token(mi, "https://api.anthropic.com")
    signature = minted.token.rsplit(".", 1)[1]
    assert signature not in repr(minted)
    assert "extra-worker" in repr(minted)
