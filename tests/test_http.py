"""wif_lab.http: one builder for every outbound client, with an overall deadline a dripping server
cannot stretch, and failures turned into one typed error naming the URL. Figures (time to the
timeout) are printed, never asserted: the proof of the deadline is that the call fails at all, since
the drip server's answer would otherwise arrive, complete, after two minutes."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from pathlib import Path

import anthropic
import httpx
import httpx2
import pytest

from tests._drip import drip_server
from wif_lab import errors, http, sdk
from wif_lab.exchange import exchange
from wif_lab.mock.stack import MockStack

DEADLINE = 2.0
ROOT = Path(__file__).resolve().parent.parent
ORG = "00000000-0000-4000-8000-000000000001"


def _timed(label: str, call: Callable[[], object]) -> Exception:
    start = time.monotonic()
    try:
        call()
    except Exception as exc:
        print(f"\n{label}: {type(exc).__name__} after {time.monotonic() - start:.2f} s (deadline {DEADLINE:g} s)")
        return exc
    pytest.fail(f"{label}: no error; the dripped answer was awaited in full")


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_dripping_server_meets_the_overall_deadline(phase: str) -> None:
    with drip_server(phase=phase) as drip:
        url = f"{drip.url}/.well-known/openid-configuration"
        exc = _timed(f"http.request, dripped {phase}",
                     lambda: http.request("GET", url, what="the issuer", deadline=DEADLINE))
    assert isinstance(exc, errors.ProviderUnreachable)
    assert str(exc).splitlines()[0] == f"no complete answer from the issuer at {url} within the 2 s deadline"
    assert "→ Check next: " in str(exc) and exc.hint == http.TIMEOUT_HINT


def test_proxies_from_the_environment_get_the_deadline_too(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    with drip_server() as proxy:
        monkeypatch.setenv("ALL_PROXY", proxy.url)
        with http.client(deadline=DEADLINE) as client:
            assert len(client._mounts) == 1 and http.clamps_sockets(client)
        exc = _timed("http.request through a dripping proxy",
                     lambda: http.request("GET", "http://issuer.example/jwks", what="the JWKS", deadline=DEADLINE))
        assert proxy.requests == ["http://issuer.example/jwks"]  # it went through the proxy
    assert isinstance(exc, errors.ProviderUnreachable) and "within the 2 s deadline" in str(exc)


def test_every_client_clamps_its_sockets() -> None:
    with http.client() as ours:
        assert http.clamps_sockets(ours)
    assert http.clamps_sockets(http.bound(httpx2.Client(), deadline=1))
    assert http.clamps_sockets(http.bound(anthropic.DefaultHttpxClient(), deadline=1))
    with pytest.raises(TypeError):
        http.bound(object(), deadline=1)


def test_a_prompt_answer_passes_and_carries_the_user_agent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    response = http.request("GET", "https://issuer.example/x", what="x", transport=httpx.MockTransport(handler))
    assert response.json() == {"ok": True}
    assert re.fullmatch(r"wif-lab(/\S+)?", seen[0].headers["user-agent"])


def test_a_transport_without_sockets_still_gets_the_deadline() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        def slow() -> object:
            for _ in range(50):
                time.sleep(0.1)
                yield b"x"
        return httpx.Response(200, content=slow())

    with pytest.raises(errors.ProviderUnreachable, match="within the 1 s deadline"):
        http.request("GET", "https://slow.example/", what="x", deadline=1, transport=httpx.MockTransport(handler))


def test_unreachable_and_untrusted_name_the_url(lab: MockStack, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(errors.ProviderUnreachable) as refused:
        http.request("GET", f"http://127.0.0.1:{port}/token", what="Okta", hint="the issuer URL")
    assert f"no answer from Okta at http://127.0.0.1:{port}/token: ConnectError" in str(refused.value)
    assert refused.value.hint == "the issuer URL"

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    url = lab.connection()["anthropic"]["base_url"]
    with pytest.raises(errors.ProviderUnreachable) as untrusted:
        http.request("GET", url, what="the lab")  # system CAs: the lab CA is not among them
    assert "CERTIFICATE_VERIFY_FAILED" in str(untrusted.value) and untrusted.value.hint == http.TLS_HINT

    with pytest.raises(errors.ConfigurationError, match="cannot use the CA bundle"):
        http.client(ROOT / "no-such-ca.pem")
    for bad in ("http://[::1/token", "api.anthropic.com/v1/oauth/token"):
        with pytest.raises(errors.ConfigurationError, match="not a usable URL for x"):
            http.request("GET", bad, what="x")


def test_the_exchange_is_bounded_too() -> None:
    with drip_server(phase="body") as drip:
        exc = _timed("exchange against a dripping token endpoint", lambda: exchange(
            "a.b.c", base_url=drip.url, federation_rule_id="fdrl_01x", organization_id=ORG, timeout=DEADLINE))
    assert isinstance(exc, errors.ProviderUnreachable)
    assert f"the token endpoint at {drip.url}/v1/oauth/token within the 2 s deadline" in str(exc)


# --- the official SDK's clients --------------------------------------------------------------------


def _claude(base_url: str, **kwargs: object) -> anthropic.Anthropic:
    return sdk.federated_client(identity_token_provider=lambda: "a.b.c", base_url=base_url,
                                federation_rule_id="fdrl_01x", organization_id=ORG, max_retries=0, **kwargs)


def _ask(claude: anthropic.Anthropic) -> None:
    claude.messages.create(model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}])


def test_the_sdk_exchange_names_the_token_endpoint_when_it_drips() -> None:
    with drip_server(phase="body") as drip:
        exc = _timed("SDK exchange, dripped body",
                     lambda: _ask(_claude(drip.url, exchange_deadline=DEADLINE, deadline=30)))
    assert isinstance(exc, sdk.DeadlineExceeded)
    assert str(exc).splitlines()[0] == (
        f"no complete answer from POST {drip.url}/v1/oauth/token within the 2 s deadline")


def test_the_sdk_api_call_is_a_clear_timeout_naming_the_url() -> None:
    with drip_server(phase="headers", fast_paths=("/v1/oauth/token",)) as drip:
        exc = _timed("SDK messages.create, dripped answer", lambda: _ask(_claude(drip.url, deadline=DEADLINE)))
        assert drip.requests[0] == "/v1/oauth/token"  # the exchange went through; the API call dripped
    # Still the SDK's timeout type (its retry policy and callers' except clauses hold) ...
    assert isinstance(exc, anthropic.APITimeoutError) and isinstance(exc, errors.WifLabError)
    # ... but one line that says which URL and how long, plus what to check.
    first, check = str(exc).splitlines()
    assert first == f"no complete answer from POST {drip.url}/v1/messages within the 2 s deadline"
    assert check.startswith("→ Check next: ") and "base_url" in check
    assert exc._render_traceback_() == [f"DeadlineExceeded: {exc}"]


def test_the_admin_client_is_bounded_too() -> None:
    with drip_server(phase="body") as drip:
        admin = sdk.admin_client(base_url=drip.url, admin_token="sk-ant-oat01-admin", deadline=DEADLINE,
                                 max_retries=0)
        exc = _timed("SDK admin call, dripped body", lambda: admin.organization.service_accounts.list())
    assert isinstance(exc, sdk.DeadlineExceeded) and f"{drip.url}/v1/organizations/service_accounts" in str(exc)


# --- one builder: nothing else in wif_lab builds or calls an HTTP client ------------------------------


def test_only_wif_lab_http_builds_outbound_clients() -> None:
    pattern = re.compile(r"\bhttpx2?\.(get|post|put|delete|request|stream|Client|AsyncClient)\(|DefaultHttpxClient\(")
    allowed = {"wif_lab/http.py", "wif_lab/sdk.py"}  # sdk.py builds the SDK's clients and bounds them via http
    offenders = [f"{path.relative_to(ROOT)}:{number}" for path in sorted((ROOT / "wif_lab").rglob("*.py"))
                 if "mock" not in path.relative_to(ROOT).parts and str(path.relative_to(ROOT)) not in allowed
                 for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


# --- a wrong base URL --------------------------------------------------------------------------------


def test_exchange_against_a_url_that_is_not_the_claude_api_shows_the_404(lab: MockStack) -> None:
    conn = lab.connection()
    okta = conn["okta"]["org_url"]  # a real server, but not the Claude API
    with pytest.raises(errors.ExchangeRefused) as info:
        exchange("a.b.c", base_url=okta, federation_rule_id="fdrl_01x", organization_id=ORG,
                 verify=conn["ca_bundle"])
    first, check = str(info.value).splitlines()
    assert first == f"{okta}/v1/oauth/token answered HTTP 404: Not Found"
    assert info.value.status == 404 and "base_url" in check and "Claude API" in check


def test_a_404_page_is_shown_as_is_but_tokens_in_it_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    jwt_like = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrbG9hZCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    page = f"<html><body><h1>404 Not Found</h1><p>nginx: no route for {jwt_like}</p></body></html>"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text=page, headers={"content-type": "text/html"})

    real_client = http.client
    monkeypatch.setattr(http, "client", lambda verify=True, **kw: real_client(
        verify, **{**kw, "transport": httpx.MockTransport(handler)}))
    with pytest.raises(errors.ExchangeRefused) as info:
        exchange("a.b.c", base_url="https://gateway.example", federation_rule_id="fdrl_01x", organization_id=ORG)
    message = str(info.value)
    assert "<h1>404 Not Found</h1><p>nginx: no route for eyJhbGciOi" in message
    assert "c2lnbmF0dXJlLXNpZ25hdHVyZQ" not in message and "signature redacted" in message
    assert "https://gateway.example/v1/oauth/token answered HTTP 404" in message
