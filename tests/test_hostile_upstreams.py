"""Slow and huge upstreams: every discovery/JWKS fetch has a total deadline and a streamed size cap.

A local https server (the lab's certificate) plays the hostile issuer: ``/drip`` sends its headers at
once and then one body byte per second (a per-read timeout never fires on it), ``/huge`` streams up
to 64 MiB, ``/declared`` announces a gigabyte, and ``/ok`` serves a good discovery document whose
``jwks_uri`` drips. A drip is cut short after 15 bytes, so an implementation without a total
deadline fails these tests on the wrong error instead of hanging.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests._hostile import assert_exchange_denied, examples
from wif_lab.errors import DiscoveryError
from wif_lab.mock.anthropic.service import AnthropicMock
from wif_lab.mock.anthropic.token import key_source
from wif_lab.mock.base import LabContext
from wif_lab.mock.entra import ISSUER_KEYS_CACHE_SECONDS, ISSUER_KEYS_REFETCH_SECONDS
from wif_lab.mock.issuer_keys import IssuerKeys, KeySource, KeysUnavailable
from wif_lab.mock.keys import KeyStore
from wif_lab.mock.outbound import FetchFailed, fetch_json
from wif_lab.mock.tls import LabTLS, ensure_lab_tls
from wif_lab.tokens import discover

HUGE = 64 * 1024 * 1024
DEADLINE = 0.5


class Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: LabTLS) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(tls.server_cert_chain, tls.server_key)
        self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.server_address[1]}"
        self.huge_sent: list[int] = []  # bytes written before the client hung up, per /huge request


class _Handler(BaseHTTPRequestHandler):
    server: Upstream

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # http.server's name for it
        kind = self.path.split("/")[1]
        try:
            if kind == "ok":
                self._send(json.dumps({"issuer": f"{self.server.base}/ok",
                                       "jwks_uri": f"{self.server.base}/drip/jwks"}).encode())
            elif kind == "drip":
                self._head({"content-length": "400"})
                for byte in b'{"keys": [], "jwks_uri": "https://x"}'[:15]:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(1)
            elif kind == "declared":
                self._head({"content-length": str(10**9)})
                self.wfile.write(b"{" * 1024)
            elif kind == "gen":  # /gen/<size>/<declared: none|exact|huge>/<chunk>/<delay ms>: any upstream shape
                size, declared, chunk, delay_ms = self.path.split("/")[2:6]
                body = generated_document(int(size))
                self._head({} if declared == "none" else
                           {"content-length": str(len(body) if declared == "exact" else 10**9)})
                for i in range(0, len(body), int(chunk)):
                    self.wfile.write(body[i:i + int(chunk)])
                    self.wfile.flush()
                    time.sleep(int(delay_ms) / 1000)
            elif kind == "huge":
                self._head({})
                sent, chunk = 0, b"[" + b" " * (64 * 1024 - 1)
                try:
                    while sent < HUGE:
                        self.wfile.write(chunk)
                        sent += len(chunk)
                finally:
                    self.server.huge_sent.append(sent)
            else:
                self.send_error(404)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass  # the client gave up, which is the point

    def _head(self, headers: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        if "content-length" not in headers:
            self.send_header("connection", "close")
        self.end_headers()

    def _send(self, body: bytes) -> None:
        self._head({"content-length": str(len(body))})
        self.wfile.write(body)


def generated_document(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (at least 12)."""
    return b'{"pad": "' + b"x" * (size - 12) + b'"}\n'


@pytest.fixture(scope="module")
def tls(state_dir: Path) -> LabTLS:
    return ensure_lab_tls(state_dir / "shared")


@pytest.fixture(scope="module")
def upstream(tls: LabTLS) -> Iterator[Upstream]:
    server = Upstream(tls)
    thread = threading.Thread(target=server.serve_forever, name="hostile-upstream", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def client(tls: LabTLS) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(tls.ca_bundle)))


@pytest.mark.parametrize(
    ("path", "words"),
    [("/drip/doc", f"did not arrive within {DEADLINE:g} s"), ("/huge/doc", "is larger than 524288 bytes"),
     ("/declared/doc", "is larger than 524288 bytes")],
)
def test_fetch_json_stops_at_the_deadline_or_the_cap(tls: LabTLS, upstream: Upstream, path: str, words: str) -> None:
    async def run() -> None:
        async with client(tls) as http:
            await fetch_json(http, upstream.base + path, "document", deadline=DEADLINE)

    with pytest.raises(FetchFailed) as info:
        asyncio.run(run())
    assert words in info.value.detail


def test_a_huge_body_is_abandoned_while_streaming(tls: LabTLS, upstream: Upstream) -> None:
    async def run() -> None:
        async with client(tls) as http:
            await fetch_json(http, upstream.base + "/huge/doc", "document", deadline=10)

    with pytest.raises(FetchFailed, match="larger than"):
        asyncio.run(run())
    deadline = time.monotonic() + 10
    while len(upstream.huge_sent) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.huge_sent and upstream.huge_sent[-1] < HUGE  # the client hung up long before the end


@pytest.mark.parametrize(
    ("issuer_path", "words"),
    [("/drip", "did not arrive within"), ("/ok", "did not arrive within"), ("/huge", "larger than")],
)
def test_anthropic_jwks_resolver_is_bounded(tls: LabTLS, upstream: Upstream, state_dir: Path, issuer_path: str,
                                            words: str) -> None:
    d = state_dir / "shared"
    resolver = AnthropicMock(LabContext(d, KeyStore(d), tls, {"anthropic": "https://127.0.0.1:1"})).jwks
    resolver.fetch_deadline = DEADLINE
    issuer = {"id": "fdis_x", "issuer_url": upstream.base + issuer_path, "jwks": {"type": "discovery"}}
    source = key_source(issuer)
    assert source is not None
    with pytest.raises(KeysUnavailable) as info:
        asyncio.run(resolver.key_for(source, "kid-1"))
    assert words in info.value.detail


@pytest.mark.parametrize("issuer_path", ["/drip", "/ok", "/huge", "/declared"])
def test_entra_issuer_keys_are_bounded(tls: LabTLS, upstream: Upstream, issuer_path: str) -> None:
    keys = IssuerKeys(lambda: client(tls), time.time, cache_seconds=ISSUER_KEYS_CACHE_SECONDS,
                      refetch_seconds=ISSUER_KEYS_REFETCH_SECONDS, fetch_deadline=DEADLINE)
    with pytest.raises(KeysUnavailable, match=r"did not arrive within|larger than"):
        asyncio.run(keys.key_for(KeySource.discovery(upstream.base + issuer_path), "kid-1"))


@pytest.mark.parametrize(("issuer_path", "words"), [
    ("/drip", "no complete answer from the issuer.s discovery document at .* within the 1.5 s deadline"),
    ("/huge", "sent more than")])
def test_client_side_discovery_is_bounded(tls: LabTLS, upstream: Upstream, issuer_path: str, words: str) -> None:
    with pytest.raises(DiscoveryError, match=words):
        discover(upstream.base + issuer_path, verify=str(tls.ca_bundle), timeout=1.5)


def test_an_exchange_against_a_dripping_issuer_is_denied_with_the_reason_logged(
    tls: LabTLS, upstream: Upstream, state_dir: Path
) -> None:
    d = state_dir / "shared"
    mock = AnthropicMock(LabContext(d, KeyStore(d), tls, {"anthropic": "https://127.0.0.1:1"}))
    mock.jwks.fetch_deadline = DEADLINE
    http = TestClient(mock.asgi(), base_url="https://127.0.0.1:1")
    admin = {"authorization": f"Bearer {mock.admin_token}", "anthropic-beta": "oauth-2025-04-20"}
    issuer = http.post("/v1/organizations/federation_issuers", headers=admin,
                       json={"name": "drip", "issuer_url": upstream.base + "/drip"}).json()
    sa = http.post("/v1/organizations/service_accounts", headers=admin, json={"name": "drip-sa"}).json()
    rule = http.post("/v1/organizations/federation_rules", headers=admin, json={
        "name": "drip-rule", "issuer_id": issuer["id"], "match": {"subject_prefix": "w"},
        "target": {"type": "service_account", "service_account_id": sa["id"]}, "oauth_scope": "workspace:developer",
        "workspace_id": mock.store.default_workspace_id}).json()
    now = int(time.time())
    token = jwt.encode({"iss": issuer["issuer_url"], "sub": "w", "aud": "https://api.anthropic.com", "iat": now,
                        "exp": now + 300, "jti": str(uuid.uuid4())}, mock.ctx.keys.private_key("drip-issuer"),
                       algorithm="RS256", headers={"kid": "k1"})
    r = http.post("/v1/oauth/token", json={
        "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": token,
        "federation_rule_id": rule["id"], "organization_id": mock.store.organization_id,
        "service_account_id": sa["id"]})
    assert_exchange_denied(r)
    event = mock.store.events[-1]
    assert event.reason == "jwks_fetch_failed" and "did not arrive within" in event.detail


# ── the same bounds as a property: any size, declared length, chunking and pace an upstream picks ───────

CAP = 2048  # a small cap keeps each example cheap; the production cap is only a bigger number


@examples(25)
@given(size=st.integers(min_value=12, max_value=6 * 1024), declared=st.sampled_from(["none", "exact", "huge"]),
       chunk=st.sampled_from([16, 256, 4096]), delay_ms=st.sampled_from([0, 5, 50, 200]))
def test_any_upstream_is_read_within_the_deadline_and_the_cap(tls: LabTLS, upstream: Upstream, size: int,
                                                              declared: str, chunk: int, delay_ms: int) -> None:
    url = f"{upstream.base}/gen/{size}/{declared}/{chunk}/{delay_ms}"
    dripping = -(-size // chunk) * delay_ms / 1000  # how long the whole body takes to arrive

    async def run() -> Any:
        async with client(tls) as http:
            return await fetch_json(http, url, "document", deadline=DEADLINE, max_bytes=CAP)

    started = time.monotonic()
    try:
        document: Any = asyncio.run(run())
    except FetchFailed as exc:
        document, detail = None, exc.detail
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE + 1.0, f"{url}: {elapsed:.2f} s against a {DEADLINE} s deadline"  # never waits it out
    if declared == "huge" or size > CAP:
        assert document is None and ("larger than" in detail or "did not arrive within" in detail), url
    elif dripping > 2 * DEADLINE:
        assert document is None and "did not arrive within" in detail, url
    elif dripping < DEADLINE / 4:
        assert document == json.loads(generated_document(size)), url  # a prompt, small document is read whole
