"""Everything mock Entra's discovery documents advertise answers, and answers as Entra does for a request it
cannot serve: the token endpoints' method rule, the sign-in and sign-out pages, device code, the session
iframe, v1 userinfo and the Kerberos proxy."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests._azure_lab import ENTRA_BASE, FakeClock, azure_context
from wif_lab.mock.entra import ERROR_DESCRIPTION_TAIL, EntraMock

CORRELATION = "8c1f2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"  # MSAL sends a GUID
AADSTS_LAYOUT = ["error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id", "error_uri"]
# URLs real Entra advertises on other Microsoft hosts; the mock advertises them unchanged and does not serve them.
OFF_HOST = {
    2: {"userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo", "rbac_url": "https://pas.windows.net"},
    1: {"rbac_url": "https://pas.windows.net"},
}
PAGE_DETAILS = re.compile(r"<span>Message:</span> <span>(?P<message>[^<]*)</span>")


@pytest.fixture
def entra(state_dir: Path) -> EntraMock:
    return EntraMock(azure_context(state_dir / "azure", FakeClock()))


@pytest.fixture
def http(entra: EntraMock) -> TestClient:
    return TestClient(entra.asgi(), base_url=ENTRA_BASE)


def aadsts(response: httpx.Response, status: int, error: str, code: int, text: str) -> dict[str, Any]:
    """A JSON refusal in Entra's layout with this status, error, code and description text."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert list(body) == AADSTS_LAYOUT
    assert (body["error"], body["error_codes"]) == (error, [code])
    assert body["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"
    tail = ERROR_DESCRIPTION_TAIL.search(body["error_description"])
    assert tail is not None and tail["trace_id"] == body["trace_id"] == response.headers["x-ms-request-id"]
    assert ERROR_DESCRIPTION_TAIL.sub("", body["error_description"]) == f"AADSTS{code}: {text}"
    return body


def signin_page(response: httpx.Response, code: int, text: str) -> None:
    """Entra's sign-in error page: HTTP 200 HTML whose troubleshooting block carries the AADSTS message."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "trouble signing you in" in response.text
    found = PAGE_DETAILS.search(response.text)
    assert found is not None and html.unescape(found["message"]) == f"AADSTS{code}: {text}"
    assert f"Request Id:</span> <span>{response.headers['x-ms-request-id']}<" in response.text


def not_post(method: str) -> str:
    return f"The endpoint only accepts POST, OPTIONS requests. Received a {method} request."


MISSING_CLIENT_ID = "The request body must contain the following parameter: 'client_id'."


# Each advertised endpoint on the mock's host: the request a discovery-reading client might make with no
# parameters, and the answer Entra gives it.
def _token(http: TestClient, path: str) -> None:
    aadsts(http.get(path), 400, "invalid_request", 900561, not_post("GET"))
    aadsts(http.post(path), 400, "invalid_request", 900144,
           "The request body must contain the following parameter: 'grant_type'.")


def _keys(http: TestClient, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 200 and len(response.json()["keys"]) == 2


def _authorize(http: TestClient, path: str) -> None:
    signin_page(http.get(path), 900144, MISSING_CLIENT_ID)


def _devicecode(http: TestClient, path: str) -> None:
    aadsts(http.get(path), 400, "invalid_request", 900561, not_post("GET"))
    aadsts(http.post(path), 400, "invalid_request", 900144, MISSING_CLIENT_ID)


def _logout(http: TestClient, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    assert "You signed out of your account" in response.text


def _kerberos(http: TestClient, path: str) -> None:
    response = http.get(path)
    assert (response.status_code, response.headers["allow"]) == (405, "POST")


def _check_session(http: TestClient, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    assert 'addEventListener("message"' in response.text and "postMessage" in response.text


def _userinfo(http: TestClient, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and "error=" not in challenge  # RFC 6750 §3: no token, no error code


ANSWERS: dict[int, dict[str, Callable[[TestClient, str], None]]] = {
    2: {"token_endpoint": _token, "jwks_uri": _keys, "authorization_endpoint": _authorize,
        "device_authorization_endpoint": _devicecode, "end_session_endpoint": _logout, "kerberos_endpoint": _kerberos},
    1: {"token_endpoint": _token, "jwks_uri": _keys, "authorization_endpoint": _authorize,
        "device_authorization_endpoint": _devicecode, "end_session_endpoint": _logout, "kerberos_endpoint": _kerberos,
        "check_session_iframe": _check_session, "userinfo_endpoint": _userinfo},
}


@pytest.mark.parametrize("segment", ["TENANT", "common", "organizations"])
@pytest.mark.parametrize(("version", "discovery"), [(2, "v2.0/.well-known/openid-configuration"),
                                                   (1, ".well-known/openid-configuration")])
def test_every_advertised_url_answers(entra: EntraMock, http: TestClient, segment: str, version: int,
                                      discovery: str) -> None:
    segment = entra.tenant_id if segment == "TENANT" else segment
    doc = http.get(f"/{segment}/{discovery}").raise_for_status().json()
    urls = {key: value for key, value in doc.items()
            if isinstance(value, str) and value.startswith("https://") and key != "issuer"}  # issuer names, not serves
    on_host = {key: url for key, url in urls.items() if url.startswith(f"{ENTRA_BASE}/{segment}/")}
    assert {key: url for key, url in urls.items() if key not in on_host} == OFF_HOST[version]
    assert set(on_host) == set(ANSWERS[version]), "every advertised endpoint needs a documented answer"
    for key, url in on_host.items():
        ANSWERS[version][key](http, url.removeprefix(ENTRA_BASE))


# --- the token endpoints' method rule ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/TENANT/oauth2/v2.0/token", "/TENANT/oauth2/token", "/common/oauth2/v2.0/token",
                                  "/TENANT/oauth2/v2.0/devicecode"])
def test_token_endpoints_take_only_post(entra: EntraMock, http: TestClient, method: str, path: str) -> None:
    path = path.replace("TENANT", entra.tenant_id)
    response = http.request(method, path, headers={"client-request-id": CORRELATION})
    body = aadsts(response, 400, "invalid_request", 900561, not_post(method))
    assert body["correlation_id"] == CORRELATION  # a GUID client-request-id is echoed, as on every Entra refusal
    assert "no-store" in response.headers["cache-control"]


def test_head_and_options_on_the_token_endpoint(entra: EntraMock, http: TestClient) -> None:
    path = f"/{entra.tenant_id}/oauth2/v2.0/token"
    head = http.head(path)
    assert (head.status_code, head.content) == (400, b"")
    preflight = http.options(path)
    assert preflight.status_code == 200 and preflight.content == b""
    assert preflight.headers["allow"] == preflight.headers["access-control-allow-methods"] == "POST, OPTIONS"


def test_v1_token_endpoint_needs_a_resource(entra: EntraMock, http: TestClient) -> None:
    form = {"grant_type": "client_credentials", "client_id": entra.identity("claude-inference").client_id,
            "scope": "https://api.anthropic.com/.default"}  # v1 ignores scope: the resource parameter names it
    aadsts(http.post(f"/{entra.tenant_id}/oauth2/token", data=form), 400, "invalid_request", 900144,
           "The request body must contain the following parameter: 'resource'.")


# --- sign-in and sign-out pages ---------------------------------------------------------------------


def test_authorize_with_a_client(entra: EntraMock, http: TestClient) -> None:
    path = f"/{entra.tenant_id}/oauth2/v2.0/authorize"
    unknown = http.get(path, params={"client_id": "<script>x</script>", "response_type": "code"})
    signin_page(unknown, 700016, "Application with identifier '<script>x</script>' was not found in the directory "
                "'wif-lab'. This can happen if the application has not been installed by the administrator of the "
                "tenant or consented to by any user in the tenant. You may have sent your authentication request to "
                "the wrong tenant.")
    assert "<script>x" not in unknown.text  # the echoed client_id is escaped
    app_id = entra.app("claude-api-federation").app_id
    for client_id in (app_id, entra.identity("claude-inference").client_id):
        known = http.get(path, params={"client_id": client_id, "response_type": "code",
                                       "redirect_uri": "https://localhost/callback"})
        signin_page(known, 500113, "No reply address is registered for the application.")
    posted = http.post(f"/{entra.tenant_id}/oauth2/authorize", data={"client_id": app_id})
    signin_page(posted, 500113, "No reply address is registered for the application.")
    assert http.post(path, data={}).status_code == 200  # form_post with nothing in it: the 900144 page


def test_pages_for_an_unknown_tenant(http: TestClient) -> None:
    for path in ("/nobody.example/oauth2/v2.0/authorize", "/nobody.example/oauth2/logout"):
        response = http.get(path, params={"client_id": "x"})
        assert response.status_code == 200
        assert "AADSTS90002: Tenant &#x27;nobody.example&#x27; not found." in response.text


def test_logout_ignores_an_unregistered_redirect(entra: EntraMock, http: TestClient) -> None:
    response = http.get(f"/{entra.tenant_id}/oauth2/v2.0/logout",
                        params={"post_logout_redirect_uri": "https://evil.example/"}, follow_redirects=False)
    assert response.status_code == 200 and "evil.example" not in response.text


# --- device code ------------------------------------------------------------------------------------


def test_device_code(entra: EntraMock, http: TestClient) -> None:
    path = f"/{entra.tenant_id}/oauth2/v2.0/devicecode"
    aadsts(http.post(path, data={"client_id": "11112222-3333-4444-5555-666677778888", "scope": "openid"}), 400,
           "unauthorized_client", 700016, "Application with identifier '11112222-3333-4444-5555-666677778888' was "
           "not found in the directory 'wif-lab'. This can happen if the application has not been installed by the "
           "administrator of the tenant or consented to by any user in the tenant. You may have sent your "
           "authentication request to the wrong tenant.")
    app_id = entra.app("claude-api-federation").app_id
    aadsts(http.post(path, data={"client_id": app_id}), 400, "invalid_request", 900144,
           "The request body must contain the following parameter: 'scope'.")
    issued = http.post(path, data={"client_id": app_id, "scope": "openid profile"})
    assert issued.status_code == 200
    body = issued.json()
    assert list(body) == ["user_code", "device_code", "verification_uri", "expires_in", "interval", "message"]
    assert re.fullmatch(r"[A-Z0-9]{9}", body["user_code"]) and len(body["device_code"]) > 64
    assert (body["verification_uri"], body["expires_in"], body["interval"]) == (
        "https://microsoft.com/devicelogin", 900, 5)
    assert body["user_code"] in body["message"]
    v1 = http.post(f"/{entra.tenant_id}/oauth2/devicecode", data={"client_id": app_id})
    aadsts(v1, 400, "invalid_request", 900144, "The request body must contain the following parameter: 'resource'.")
    v1_issued = http.post(f"/{entra.tenant_id}/oauth2/devicecode",
                          data={"client_id": app_id, "resource": "https://api.anthropic.com"}).json()
    assert v1_issued["verification_url"] == "https://microsoft.com/devicelogin" and "verification_uri" not in v1_issued


# --- userinfo and kerberos --------------------------------------------------------------------------


def test_userinfo_refuses_every_lab_token(entra: EntraMock, http: TestClient) -> None:
    token = entra.mint_access_token("claude-inference", "https://api.anthropic.com").token
    response = http.get(f"/{entra.tenant_id}/openid/userinfo", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.headers["www-authenticate"].startswith(
        f'Bearer authorization_uri="{ENTRA_BASE}/{entra.tenant_id}/oauth2/authorize"')


def test_kerberos_proxy_takes_only_kdc_messages(entra: EntraMock, http: TestClient) -> None:
    path = f"/{entra.tenant_id}/kerberos"
    assert http.post(path).status_code == 400
    assert http.post(path, content=b"0\x00", headers={"content-type": "application/kerberos"}).status_code == 400
    assert http.put(path).status_code == 405
    huge = http.post(path, content=b"\x00" * (2 * 1024 * 1024), headers={"content-type": "application/kerberos"})
    assert huge.status_code == 413 and "larger than" in huge.text  # read in chunks and given up on, never whole
