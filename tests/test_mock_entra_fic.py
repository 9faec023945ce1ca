"""Mock Entra's federated credentials in-process: the client-assertion token endpoint, FIC matching, the
AADSTS refusals (codes, statuses, body layout), key discovery at the cluster issuer, seeded lifetimes."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from starlette.testclient import TestClient

from tests._azure_lab import ENTRA_BASE, START, FakeClock, azure_context
from wif_lab.mock.aks import aks_cluster
from wif_lab.mock.entra import (
    CLIENT_ASSERTION_TYPE,
    CLIENT_CREDENTIALS_LIFETIME,
    ERROR_DESCRIPTION_TAIL,
    EntraMock,
    FederatedCredential,
)
from wif_lab.mock.kubernetes import ANTHROPIC_AUDIENCE, TOKEN_EXCHANGE_AUDIENCE, KubernetesMock

K8S_BASE = "https://oic.aks.test"
SUBJECT = "system:serviceaccount:inference:claude-inference"


@dataclass
class Tenantry:
    clock: FakeClock
    k8s: KubernetesMock
    entra: EntraMock
    http: TestClient

    @property
    def token_path(self) -> str:
        return f"/{self.entra.tenant_id}/oauth2/v2.0/token"

    @property
    def app_id(self) -> str:
        return self.entra.app("claude-api-federation").app_id

    def assertion(self, **mint: Any) -> str:
        sa = self.k8s.default_pod.service_account
        audience = mint.pop("audience", TOKEN_EXCHANGE_AUDIENCE)
        return self.k8s.mint(sa, audience, pod=self.k8s.default_pod, **mint)

    def form(self, **overrides: str | None) -> dict[str, str]:
        form = {
            "client_assertion": self.k8s.default_pod.volumes["azure-identity-token"].path.read_text(),
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_id": self.entra.identity("claude-inference").client_id,
            "grant_type": "client_credentials",
            "scope": f"api://{self.app_id}/.default",
        }
        form.update(overrides)  # type: ignore[arg-type]
        return {k: v for k, v in form.items() if v is not None}

    def post(self, form: dict[str, str], path: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(path or self.token_path, data=form, **kwargs)

    def replace_fic(self, **changes: str) -> None:
        self.entra.remove_federated_credential("claude-inference", "aks-claude-inference")
        spec = {"issuer": self.k8s.issuer, "subject": SUBJECT, **changes}
        self.entra.add_federated_credential("claude-inference", name="aks-claude-inference", **spec)


def in_process(state_dir: Path, clock: FakeClock, seed: int = 20260617) -> Tenantry:
    ctx = azure_context(state_dir / "aks", clock, seed=seed)
    ctx.base_urls["kubernetes"] = K8S_BASE
    ctx.state_dir = state_dir / "aks" / f"run-{uuid.uuid4().hex[:8]}"
    entra = EntraMock(ctx, outbound=lambda: httpx.AsyncClient(transport=httpx.ASGITransport(app=cluster_app)))
    ctx.mocks["entra"] = entra
    k8s = aks_cluster(ctx, entra)
    ctx.mocks["kubernetes"] = k8s
    cluster_app = k8s.asgi()
    return Tenantry(clock, k8s, entra, TestClient(entra.asgi(), base_url=ENTRA_BASE))


@pytest.fixture
def lab(state_dir: Path) -> Tenantry:
    return in_process(state_dir, FakeClock())


def test_default_federated_credential(lab: Tenantry) -> None:
    (fic,) = lab.entra.federated_credentials("claude-inference")
    assert fic == FederatedCredential("aks-claude-inference", lab.k8s.issuer, SUBJECT, (TOKEN_EXCHANGE_AUDIENCE,))
    assert fic.issuer.endswith("/")
    assert lab.entra.connection()["federated_credentials"] == {"claude-inference": [fic.summary()]}
    assert lab.entra.connection()["token_endpoint"] == f"{ENTRA_BASE}{lab.token_path}"


def test_no_default_credential_without_a_cluster(state_dir: Path) -> None:
    entra = EntraMock(azure_context(state_dir / "azure"))
    assert entra.federated_credentials("claude-inference") == []
    assert entra.connection()["federated_credentials"] == {}


def test_federated_client_credentials_success(lab: Tenantry) -> None:
    response = lab.post(lab.form())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert "no-store" in response.headers["cache-control"]
    body = response.json()
    assert list(body) == ["token_type", "expires_in", "ext_expires_in", "access_token"]
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and body["ext_expires_in"] == body["expires_in"]
    low, high = CLIENT_CREDENTIALS_LIFETIME
    assert low <= body["expires_in"] <= high
    (jwk,) = lab.entra.jwks()["keys"][:1]
    claims = jwt.decode(body["access_token"], jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=lab.app_id,
                        issuer=lab.entra.issuer(2), options={"verify_exp": False, "verify_iat": False,
                                                               "verify_nbf": False})
    mi = lab.entra.identity("claude-inference")
    assert claims["sub"] == claims["oid"] == mi.object_id and claims["azp"] == mi.client_id
    assert claims["tid"] == lab.entra.tenant_id and claims["ver"] == "2.0"
    assert claims["exp"] - claims["iat"] == body["expires_in"] and claims["iat"] == int(START)
    record = lab.entra.federated_requests[-1]
    assert record.issued and record.claims is not None and record.claims["sub"] == SUBJECT
    assert record.lifetime == body["expires_in"]


def test_assertion_with_trailing_newline_and_tenant_domain(lab: Tenantry) -> None:
    form = lab.form(client_assertion=lab.form()["client_assertion"] + "\n")
    assert lab.post(form, path=f"/{lab.entra.tenant.domain}/oauth2/v2.0/token").status_code == 200


def test_v1_resource_and_app_id_scope(lab: Tenantry) -> None:
    v1 = lab.post(lab.form(scope="https://api.anthropic.com/.default")).json()["access_token"]
    assert jwt.decode(v1, options={"verify_signature": False})["ver"] == "1.0"
    by_guid = lab.post(lab.form(scope=f"{lab.app_id}/.default")).json()["access_token"]
    assert jwt.decode(by_guid, options={"verify_signature": False})["aud"] == lab.app_id


def test_v1_token_endpoint(lab: Tenantry) -> None:
    """``POST /<tenant>/oauth2/token``: the resource parameter names the resource, the answer is the v1 shape
    (every value a string, plus expires_on, not_before and resource); the registration still picks the claims."""
    v1_path = f"/{lab.entra.tenant_id}/oauth2/token"
    form = lab.form(scope=None, resource=f"api://{lab.app_id}")
    response = lab.post(form, path=v1_path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["token_type", "expires_in", "ext_expires_in", "expires_on", "not_before", "resource",
                          "access_token"]
    assert all(isinstance(value, str) for value in body.values())
    assert body["resource"] == f"api://{lab.app_id}" and body["token_type"] == "Bearer"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["ver"], claims["aud"]) == ("2.0", lab.app_id)  # requestedAccessTokenVersion=2 wins
    assert int(body["expires_on"]) == claims["exp"] and int(body["not_before"]) == claims["nbf"]
    assert int(body["expires_in"]) == claims["exp"] - claims["iat"]
    v1 = lab.post(lab.form(scope=None, resource="https://api.anthropic.com"), path=v1_path).json()
    assert jwt.decode(v1["access_token"], options={"verify_signature": False})["ver"] == "1.0"
    # The same assertion checks run on both endpoints.
    lab.replace_fic(subject="system:serviceaccount:other:other")
    refused = lab.post(form, path=v1_path)
    assert (refused.status_code, refused.json()["error_codes"]) == (401, [700213])


def test_lifetimes_are_random_60_to_90_minutes_and_seeded(state_dir: Path) -> None:
    def lifetimes(seed: int) -> list[int]:
        t = in_process(state_dir, FakeClock(), seed=seed)
        return [t.post(t.form()).json()["expires_in"] for _ in range(6)]

    first = lifetimes(20260617)
    assert all(3600 <= n <= 5400 for n in first) and len(set(first)) > 1
    assert lifetimes(20260617) == first  # a fresh lab replays the same sequence
    assert lifetimes(7) != first


def test_keys_are_discovered_once_and_refetched_for_an_unknown_kid(lab: Tenantry) -> None:
    assert lab.post(lab.form()).status_code == 200
    assert lab.post(lab.form()).status_code == 200
    assert (lab.entra.issuer_keys.fetches, lab.k8s.jwks_fetches) == (1, 1)  # cached after the first request
    foreign = lab.assertion(signing_key="aks-foreign-signer")
    assert lab.post(lab.form(client_assertion=foreign)).json()["error_codes"] == [7000272]
    assert lab.k8s.jwks_fetches == 2  # one early re-fetch for the unknown kid…
    assert lab.post(lab.form(client_assertion=foreign)).json()["error_codes"] == [7000272]
    assert lab.k8s.jwks_fetches == 2  # …rate-limited


def test_rotated_token_is_what_entra_sees(lab: Tenantry) -> None:
    old = lab.k8s.default_pod.volumes["azure-identity-token"].claims
    lab.clock.advance(2880)
    lab.k8s.refresh_due()
    assert lab.post(lab.form()).status_code == 200
    seen = lab.entra.federated_requests[-1].claims
    assert seen is not None
    assert seen["jti"] != old["jti"] and seen["iat"] == old["iat"] + 2880


# --- refusals, table-driven --------------------------------------------------------------------

Setup = Callable[[Tenantry], dict[str, str]]


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0xFF
    return ".".join([header, payload, base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()])


def _expired(t: Tenantry) -> dict[str, str]:
    t.clock.advance(3600 + 301)  # past exp and Entra's 5-minute skew
    return t.form()


def _other_issuer(t: Tenantry, issuer: str) -> dict[str, str]:
    t.entra.add_federated_credential("claude-inference", name="elsewhere", issuer=issuer, subject=SUBJECT)
    return t.form(client_assertion=t.assertion(claims={"iss": issuer}))


def _other_sa(t: Tenantry) -> dict[str, str]:
    sa = t.k8s.add_service_account("inference", "batch-worker")
    return t.form(client_assertion=t.k8s.deploy(sa).volumes["azure-identity-token"].token)


def _unsigned(t: Tenantry, alg: str) -> dict[str, str]:
    claims = jwt.decode(t.form()["client_assertion"], options={"verify_signature": False})
    key = "a-shared-secret-of-at-least-32-bytes!" if alg == "HS256" else None
    return t.form(client_assertion=jwt.encode(claims, key, algorithm=alg, headers={"kid": t.k8s.kid}))


CASES: list[tuple[str, Setup, int, str, int]] = [
    ("grant_type missing", lambda t: t.form(grant_type=None), 400, "invalid_request", 900144),
    ("grant_type password", lambda t: t.form(grant_type="password"), 400, "unsupported_grant_type", 70003),
    ("client_id missing", lambda t: t.form(client_id=None), 400, "invalid_request", 900144),
    ("scope missing", lambda t: t.form(scope=None), 400, "invalid_request", 900144),
    ("scope without /.default", lambda t: t.form(scope=f"api://{t.app_id}"), 400, "invalid_scope", 1002012),
    ("two resources", lambda t: t.form(scope=f"api://{t.app_id}/.default https://api.anthropic.com/.default"),
     400, "invalid_scope", 28000),
    ("assertion missing", lambda t: t.form(client_assertion=None), 401, "invalid_client", 7000218),
    ("assertion type missing", lambda t: t.form(client_assertion_type=None), 400, "invalid_request", 900144),
    ("assertion type wrong", lambda t: t.form(client_assertion_type="urn:ietf:params:oauth:grant-type:jwt-bearer"),
     400, "invalid_request", 90011),
    ("not a JWT", lambda t: t.form(client_assertion="not-a-jwt"), 400, "invalid_request", 50027),
    ("alg none", lambda t: _unsigned(t, "none"), 400, "invalid_request", 50027),
    ("alg HS256", lambda t: _unsigned(t, "HS256"), 400, "invalid_request", 50027),
    ("no iat", lambda t: t.form(client_assertion=t.assertion(omit=("iat",))), 400, "invalid_request", 70023),
    ("lives 26 h", lambda t: t.form(client_assertion=t.assertion(lifetime=26 * 3600)), 400, "invalid_request",
     70023),
    ("expired (file not refreshed)", _expired, 401, "invalid_client", 700024),
    ("nbf in the future", lambda t: t.form(client_assertion=t.assertion(now=START + 600)), 401, "invalid_client",
     700024),
    ("unknown client", lambda t: t.form(client_id="11112222-3333-4444-5555-666677778888"), 400,
     "unauthorized_client", 700016),
    ("identity without FICs", lambda t: t.form(client_id=t.entra.identity("batch-reporting").client_id), 401,
     "invalid_client", 70021),
    ("FIC issuer lacks the slash", lambda t: (t.replace_fic(issuer=t.k8s.issuer.rstrip("/")), t.form())[1], 401,
     "invalid_client", 700211),
    ("Entra token as assertion", lambda t: t.form(
        client_assertion=t.entra.mint_access_token("claude-inference", f"api://{t.app_id}").token), 401,
     "invalid_client", 700211),
    ("other service account", _other_sa, 401, "invalid_client", 700213),
    ("subject differs in case", lambda t: (t.replace_fic(subject=SUBJECT.replace("inference:", "Inference:")),
                                           t.form())[1], 401, "invalid_client", 7002138),
    ("direct-path token (wrong aud)", lambda t: t.form(client_assertion=t.assertion(audience=ANTHROPIC_AUDIENCE)),
     401, "invalid_client", 700212),
    ("aud not a string or list", lambda t: t.form(client_assertion=t.assertion(claims={"aud": 5})), 401,
     "invalid_client", 700212),
    ("issuer discovery fails", lambda t: _other_issuer(t, f"{K8S_BASE}/no/such-cluster/"), 400, "invalid_request",
     90061),
    ("plain-http issuer", lambda t: _other_issuer(t, "http://oic.aks.test/x/y/"), 400, "invalid_request", 90061),
    ("kid not published", lambda t: t.form(client_assertion=t.assertion(signing_key="aks-foreign-signer")), 401,
     "invalid_client", 7000272),
    ("signature altered", lambda t: t.form(client_assertion=_tamper(t.form()["client_assertion"])), 401,
     "invalid_client", 700027),
    ("unregistered resource", lambda t: t.form(scope="api://not-registered/.default"), 400, "invalid_resource",
     500011),
]


@pytest.mark.parametrize(("setup", "status", "error", "code"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refusals(lab: Tenantry, setup: Setup, status: int, error: str, code: int) -> None:
    form = setup(lab)
    response = lab.post(form, headers={"client-request-id": "7e1d9a3c-0000-4000-8000-00000000abcd"})
    assert response.status_code == status, response.text
    assert "retry-after" not in response.headers  # a 4xx with Retry-After makes azure-identity retry
    body = response.json()
    assert list(body) == ["error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id",
                          "error_uri"]
    assert (body["error"], body["error_codes"]) == (error, [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    tail = ERROR_DESCRIPTION_TAIL.search(body["error_description"])
    assert tail is not None
    assert tail["trace_id"] == body["trace_id"] and tail["timestamp"] == body["timestamp"]
    assert body["correlation_id"] == tail["correlation_id"] == "7e1d9a3c-0000-4000-8000-00000000abcd"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", body["timestamp"])
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    if code not in (900144, 70003, 7000218, 90011, 1002012, 28000):  # refused before the assertion was read
        assert lab.entra.federated_requests[-1].error_code == code


def test_refusal_texts_name_what_was_presented(lab: Tenantry) -> None:
    lab.replace_fic(issuer=lab.k8s.issuer.rstrip("/"))
    text = lab.post(lab.form()).json()["error_description"]
    assert f"assertion issuer '{lab.k8s.issuer}'" in text
    lab.replace_fic()
    other = _other_sa(lab)
    assert "subject 'system:serviceaccount:inference:batch-worker'" in lab.post(other).json()["error_description"]
    lab.clock.advance(4000)
    expired = lab.post(lab.form()).json()["error_description"]
    assert re.search(r"Current time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z, assertion valid from", expired)


def test_unknown_tenant_and_common(lab: Tenantry) -> None:
    unknown = lab.post(lab.form(), path="/00000000-1111-2222-3333-444444444444/oauth2/v2.0/token")
    assert (unknown.status_code, unknown.json()["error"], unknown.json()["error_codes"]) == (400, "invalid_tenant",
                                                                                             [90002])
    common = lab.post(lab.form(), path="/common/oauth2/v2.0/token")
    assert (common.status_code, common.json()["error_codes"]) == (400, [9001023])
    assert "correlation_id" in common.json()


def test_time_is_checked_before_the_credential_match(lab: Tenantry) -> None:
    lab.replace_fic(subject="system:serviceaccount:other:other")
    lab.clock.advance(4000)
    assert lab.post(lab.form()).json()["error_codes"] == [700024]


def test_json_body_is_not_a_form(lab: Tenantry) -> None:
    response = lab.http.post(lab.token_path, json=lab.form())
    assert (response.status_code, response.json()["error_codes"]) == (400, [900144])


def test_removed_credential_stops_the_exchange(lab: Tenantry) -> None:
    assert lab.post(lab.form()).status_code == 200
    lab.entra.remove_federated_credential("claude-inference", "aks-claude-inference")
    assert lab.post(lab.form()).json()["error_codes"] == [70021]
    with pytest.raises(KeyError):
        lab.entra.remove_federated_credential("claude-inference", "aks-claude-inference")


def test_admin_api_validates_like_the_real_one(lab: Tenantry) -> None:
    add = lab.entra.add_federated_credential
    with pytest.raises(ValueError, match="system-assigned"):
        add("wif-lab-vm", name="vm-fic", issuer=lab.k8s.issuer, subject=SUBJECT)
    with pytest.raises(ValueError, match="already exists"):
        add("claude-inference", name="aks-claude-inference", issuer=lab.k8s.issuer, subject="x")
    with pytest.raises(ValueError, match="issuer and subject"):
        add("claude-inference", name="copy", issuer=lab.k8s.issuer, subject=SUBJECT)
    with pytest.raises(ValueError, match="exactly one"):
        add("claude-inference", name="two-auds", issuer=lab.k8s.issuer, subject="s",
            audiences=[TOKEN_EXCHANGE_AUDIENCE, ANTHROPIC_AUDIENCE])
    with pytest.raises(ValueError, match="name"):
        add("claude-inference", name="x", issuer=lab.k8s.issuer, subject="s")
    with pytest.raises(ValueError, match="not a URL"):
        add("claude-inference", name="no-url", issuer="cluster-issuer", subject="s")
    with pytest.raises(KeyError):
        add("nobody", name="ghost", issuer=lab.k8s.issuer, subject="s")
    for n in range(19):
        add("claude-inference", name=f"extra-{n:02d}", issuer=lab.k8s.issuer, subject=f"s{n}")
    with pytest.raises(ValueError, match="at most 20"):
        add("claude-inference", name="one-too-many", issuer=lab.k8s.issuer, subject="s99")
    assert len(lab.entra.federated_credentials("claude-inference")) == 20
