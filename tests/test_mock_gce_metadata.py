"""The mock GCE/GKE metadata server and Google's issuer, in-process: the identity endpoint's token shapes
(standard and full), the headers, the root ping, and each documented refusal with its status and body."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from tests._google_lab import FLAVOR, GOOGLE_BASE, GoogleLab
from wif_lab.mock.google import IDENTITY_PATH, ISSUER, MISSING_AUDIENCE, MISSING_FLAVOR

AUDIENCE = "https://api.anthropic.com"


@pytest.fixture(scope="module")
def gcp(state_dir: Path) -> GoogleLab:
    return GoogleLab(state_dir / "google-unit")


def identity(gcp: GoogleLab, prefix: str = "", headers: dict[str, str] | None = None, **params: str):
    return gcp.http.get(prefix + IDENTITY_PATH, params=params, headers=FLAVOR if headers is None else headers)


def verified(gcp: GoogleLab, token: str, audience: str = AUDIENCE) -> dict:
    header = jwt.get_unverified_header(token)
    (jwk,) = [k for k in gcp.issuer_http.get("/oauth2/v3/certs").json()["keys"] if k["kid"] == header["kid"]]
    return jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience=audience, issuer=ISSUER,
                      options={"verify_exp": False, "verify_iat": False})


def test_root_ping_answers_without_the_header_and_names_the_flavor(gcp: GoogleLab) -> None:
    r = gcp.http.get("/")
    assert r.status_code == 200 and r.headers["metadata-flavor"] == "Google"
    assert r.headers["server"] == "Metadata Server for VM"


def test_format_full_token_has_googles_claims(gcp: GoogleLab) -> None:
    r = identity(gcp, audience=AUDIENCE, format="full")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["metadata-flavor"] == "Google"
    header = jwt.get_unverified_header(r.text)
    assert header["alg"] == "RS256" and len(header["kid"]) == 40 and header["typ"] == "JWT"
    claims = verified(gcp, r.text)
    sa = gcp.metadata.cloud.workload
    assert claims["iss"] == "https://accounts.google.com" and claims["aud"] == AUDIENCE
    assert claims["sub"] == claims["azp"] == sa.unique_id and sa.unique_id.isdigit() and len(sa.unique_id) == 21
    assert claims["email"] == sa.email and claims["email_verified"] is True
    engine = claims["google"]["compute_engine"]
    assert engine["project_id"] == "wif-lab-project" and isinstance(engine["project_number"], int)
    assert engine["instance_name"] == "inference-vm" and engine["zone"] == "us-central1-a"
    assert isinstance(engine["instance_creation_timestamp"], int) and engine["instance_id"].isdigit()
    assert claims["exp"] - claims["iat"] == 3600 and "jti" not in claims and "nbf" not in claims


def test_without_format_full_there_is_no_email(gcp: GoogleLab) -> None:
    for params in ({}, {"format": "standard"}):
        claims = verified(gcp, identity(gcp, audience=AUDIENCE, **params).text)
        assert set(claims) == {"aud", "azp", "exp", "iat", "iss", "sub"}


def test_every_request_mints_a_new_token_and_licenses_add_a_list(gcp: GoogleLab) -> None:
    first = identity(gcp, audience=AUDIENCE, format="full").text
    gcp.clock.advance(1)
    assert identity(gcp, audience=AUDIENCE, format="full").text != first
    claims = verified(gcp, identity(gcp, audience=AUDIENCE, format="full", licenses="TRUE").text)
    assert claims["google"]["compute_engine"]["license_id"] == []


def test_the_email_names_the_same_account_as_default(gcp: GoogleLab) -> None:
    email = gcp.metadata.cloud.workload.email
    r = gcp.http.get(IDENTITY_PATH.replace("/default/", f"/{email}/"), params={"audience": "x"}, headers=FLAVOR)
    assert r.status_code == 200
    assert identity(gcp, prefix="", audience="x").status_code == 200
    other = gcp.http.get(IDENTITY_PATH.replace("/default/", "/someone@else.iam.gserviceaccount.com/"),
                         params={"audience": "x"}, headers=FLAVOR)
    assert other.status_code == 404 and "Error 404 (Not Found)!!1" in other.text


# ── the documented refusals ────────────────────────────────────────────────────────────────────────


def test_missing_flavor_header_is_403_with_the_servers_sentence(gcp: GoogleLab) -> None:
    r = identity(gcp, headers={}, audience=AUDIENCE)
    assert r.status_code == 403 and r.text.strip() == MISSING_FLAVOR
    assert r.headers["metadata-flavor"] == "Google" and r.headers["content-type"].startswith("text/html")


def test_wrong_flavor_value_is_googles_404_page(gcp: GoogleLab) -> None:
    r = identity(gcp, headers={"Metadata-Flavor": "google"}, audience=AUDIENCE)
    assert r.status_code == 404 and "Error 404 (Not Found)!!1" in r.text


@pytest.mark.parametrize("params", [{}, {"audience": ""}, {"format": "full"}], ids=["absent", "empty", "full-only"])
def test_missing_or_empty_audience_is_400(gcp: GoogleLab, params: dict[str, str]) -> None:
    r = identity(gcp, **params)
    assert r.status_code == 400 and r.text.strip() == MISSING_AUDIENCE


def test_a_forwarded_request_is_403_even_at_the_root(gcp: GoogleLab) -> None:
    for path in ("/", IDENTITY_PATH + "?audience=x"):
        r = gcp.http.get(path, headers={**FLAVOR, "X-Forwarded-For": "203.0.113.7"})
        assert r.status_code == 403 and r.text.strip() == "Forbidden"


def test_other_methods_formats_and_unknown_paths(gcp: GoogleLab) -> None:
    assert gcp.http.post(IDENTITY_PATH, params={"audience": "x"}, headers=FLAVOR).status_code == 405
    assert identity(gcp, audience="x", format="compact").status_code == 400
    assert identity(gcp, audience="x", format="full", licenses="yes").status_code == 400
    r = gcp.http.get("/computeMetadata/v1/instance/service-accounts/default/token", headers=FLAVOR)
    assert r.status_code == 404 and r.headers["metadata-flavor"] == "Google"
    assert gcp.http.get("/nowhere", headers={}).status_code == 403  # the header check comes first
    assert gcp.http.get(IDENTITY_PATH + "?audience=%FF", headers=FLAVOR).status_code == 400


# ── what google-auth reads besides the token, and the other machines ──────────────────────────────


def test_service_account_info_is_json_when_recursive(gcp: GoogleLab) -> None:
    r = gcp.http.get("/computeMetadata/v1/instance/service-accounts/default/", params={"recursive": "true"},
                     headers=FLAVOR)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json()["email"] == gcp.metadata.cloud.workload.email and r.json()["aliases"] == ["default"]
    listing = gcp.http.get("/computeMetadata/v1/instance/service-accounts/default/", headers=FLAVOR)
    assert "identity" in listing.text.split()
    moved = gcp.http.get("/computeMetadata/v1/instance/service-accounts/default", headers=FLAVOR,
                         follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"].endswith("/default/")
    assert gcp.http.get("/computeMetadata/v1/project/project-id", headers=FLAVOR).text == "wif-lab-project"


@pytest.mark.parametrize("prefix, email_part, project", [
    ("/vms/stranger-vm", "@someone-elses-project.iam", "someone-elses-project"),
    ("/vms/default-sa-vm", "-compute@developer.gserviceaccount.com", "wif-lab-project"),
    ("/pods/inference/claude-inference", "claude-inference@wif-lab-project.iam", "wif-lab-project"),
])
def test_other_machines_answer_under_their_prefix(gcp: GoogleLab, prefix: str, email_part: str, project: str) -> None:
    claims = verified(gcp, identity(gcp, prefix=prefix, audience=AUDIENCE, format="full").text)
    assert email_part in claims["email"] and claims["google"]["compute_engine"]["project_id"] == project
    assert identity(gcp, prefix=prefix, headers={}, audience=AUDIENCE).status_code == 403
    assert identity(gcp, prefix="/vms/no-such-vm", audience=AUDIENCE).status_code == 404


def test_the_gke_pod_speaks_for_its_annotated_google_account_from_its_node(gcp: GoogleLab) -> None:
    pod = identity(gcp, prefix="/pods/inference/claude-inference", audience=AUDIENCE, format="full").text
    vm = identity(gcp, audience=AUDIENCE, format="full").text
    pod_claims, vm_claims = verified(gcp, pod), verified(gcp, vm)
    assert pod_claims["sub"] == vm_claims["sub"] and pod_claims["email"] == vm_claims["email"]
    assert pod_claims["google"]["compute_engine"]["instance_name"].startswith("gke-")


def test_discovery_names_googles_issuer_and_the_labs_jwks(gcp: GoogleLab) -> None:
    doc = gcp.issuer_http.get("/.well-known/openid-configuration").json()
    assert doc["issuer"] == ISSUER and doc["jwks_uri"] == f"{GOOGLE_BASE}/oauth2/v3/certs"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    keys = gcp.issuer_http.get("/oauth2/v3/certs").json()["keys"]
    assert len(keys) == 2 and all(k["alg"] == "RS256" and k["use"] == "sig" and k["kty"] == "RSA" for k in keys)


def test_connection_section_names_what_google_auth_needs(gcp: GoogleLab) -> None:
    section = gcp.metadata.connection()
    assert section["base_url"] == "http://metadata.test" and section["metadata_host"] == "metadata.test"
    hosts = {h["name"]: h for h in section["hosts"]}
    assert hosts["gke-pod"]["metadata_host"] == "metadata.test/pods/inference/claude-inference"
    assert hosts["gke-pod"]["kubernetes"]["annotation"].startswith("iam.gke.io/gcp-service-account: ")
    assert gcp.google.connection()["issuer"] == ISSUER
