"""The mock SPIRE: each documented Workload API error, the JWT-SVID's shape, the agent's cache and bundle
stream, the OIDC Discovery Provider's documents and refusals, the spiffe-helper stand-in, the lab routes.

One SPIRE mock of the module's own, without the rest of the stack: its gRPC sockets are real (the Workload
API is gRPC on a Unix socket, nothing to fake), its HTTP app runs in-process (starlette's TestClient).
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path

import grpc
import jwt
import pytest
from starlette.testclient import TestClient

from wif_lab.mock.base import LabContext
from wif_lab.mock.keys import KeyStore
from wif_lab.mock.spire import SpireMock
from wif_lab.mock.tls import ensure_lab_tls
from wif_lab.workload_api import (
    ANTHROPIC_AUDIENCE,
    FETCH_JWT_BUNDLES,
    FETCH_JWT_SVID,
    SECURITY_HEADER,
    messages,
    service,
    socket_target,
)

BASE = "https://127.0.0.1:8443"
WORKER = "spiffe://prod.example.com/ns/inference/sa/worker"
HEADER = [(SECURITY_HEADER, "true")]


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def spire(state_dir: Path, clock: Clock) -> Iterator[SpireMock]:
    shared = state_dir / "shared"
    ctx = LabContext(shared, KeyStore(shared), ensure_lab_tls(shared), {"spire": BASE}, clock=clock,
                     run_dir=state_dir / "spire-unit")
    mock = SpireMock(ctx)
    mock.start()
    try:
        yield mock
    finally:
        mock.close()


@pytest.fixture(scope="module")
def http(spire: SpireMock) -> TestClient:
    return TestClient(spire.asgi(), base_url=BASE)


def stub(spire: SpireMock, workload: str = "worker") -> service.SpiffeWorkloadAPIStub:
    channel = grpc.insecure_channel(socket_target(str(spire.agent.workloads[workload].socket_path)))
    return service.SpiffeWorkloadAPIStub(channel)


def fetch(spire: SpireMock, workload: str = "worker", *, metadata: list[tuple[str, str]] | None = None,
          **request: object) -> messages.JWTSVIDResponse:
    request.setdefault("audience", [ANTHROPIC_AUDIENCE])
    return stub(spire, workload).FetchJWTSVID(messages.JWTSVIDRequest(**request),  # type: ignore[arg-type]
                                              metadata=HEADER if metadata is None else metadata, timeout=5)


def refused(call: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call()  # type: ignore[operator]
    return caught.value


# --- the contract's names -----------------------------------------------------------------------------


def test_the_stubs_are_the_workload_api() -> None:
    svc = messages.DESCRIPTOR.services_by_name["SpiffeWorkloadAPI"]
    assert {m.name for m in svc.methods} >= {"FetchJWTSVID", "FetchJWTBundles", "FetchX509SVID", "ValidateJWTSVID"}
    assert FETCH_JWT_SVID == "/SpiffeWorkloadAPI/FetchJWTSVID"
    assert FETCH_JWT_BUNDLES == "/SpiffeWorkloadAPI/FetchJWTBundles"
    assert svc.methods_by_name["FetchJWTBundles"].server_streaming


# --- documented errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("metadata", [[], [(SECURITY_HEADER, "True")], [(SECURITY_HEADER, "1")],
                                      [(SECURITY_HEADER, "true"), (SECURITY_HEADER, "true")]],
                         ids=["missing", "True", "1", "twice"])
def test_without_the_security_header_every_call_is_refused(spire: SpireMock, metadata: list) -> None:
    err = refused(lambda: fetch(spire, metadata=metadata))
    assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "security header missing from request")
    stream = stub(spire).FetchJWTBundles(messages.JWTBundlesRequest(), metadata=metadata, timeout=5)
    err = refused(lambda: next(stream))
    assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "security header missing from request")


def test_the_header_is_checked_before_the_request(spire: SpireMock) -> None:
    err = refused(lambda: fetch(spire, workload="shell", metadata=[], audience=[]))
    assert err.details() == "security header missing from request"


def test_an_empty_audience_is_refused(spire: SpireMock) -> None:
    err = refused(lambda: fetch(spire, audience=[]))
    assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "audience must be specified")


@pytest.mark.parametrize(("spiffe_id", "reason"), [
    ("prod.example.com/ns/x", "scheme is missing or invalid"),
    ("spiffe://", "trust domain is missing"),
    ("spiffe://Prod.example.com/x", "trust domain characters are limited to lowercase letters, numbers, dots, "
                                    "dashes, and underscores"),
    ("spiffe://prod.example.com/a//b", "path cannot contain empty segments"),
    ("spiffe://prod.example.com/a/", "path cannot have a trailing slash"),
    ("spiffe://prod.example.com/a/../b", "path cannot contain dot segments"),
    ("spiffe://prod.example.com/a b", "path segment characters are limited to letters, numbers, dots, dashes, "
                                      "and underscores"),
])
def test_a_malformed_spiffe_id_is_refused_with_go_spiffes_words(spire: SpireMock, spiffe_id: str, reason: str) -> None:
    err = refused(lambda: fetch(spire, spiffe_id=spiffe_id))
    assert (err.code(), err.details()) == (grpc.StatusCode.INVALID_ARGUMENT, f"invalid requested SPIFFE ID: {reason}")


def test_a_caller_no_entry_matches_gets_no_identity(spire: SpireMock) -> None:
    err = refused(lambda: fetch(spire, workload="shell"))
    assert (err.code(), err.details()) == (grpc.StatusCode.PERMISSION_DENIED, "no identity issued")
    stream = stub(spire, "shell").FetchJWTBundles(messages.JWTBundlesRequest(), metadata=HEADER, timeout=5)
    err = refused(lambda: next(stream))
    assert (err.code(), err.details()) == (grpc.StatusCode.PERMISSION_DENIED, "no identity issued")


def test_asking_for_another_workloads_id_gets_no_identity(spire: SpireMock) -> None:
    err = refused(lambda: fetch(spire, spiffe_id="spiffe://prod.example.com/ns/batch/sa/reporter"))
    assert (err.code(), err.details()) == (grpc.StatusCode.PERMISSION_DENIED, "no identity issued")


def test_audiences_that_are_all_empty_fail_at_the_server(spire: SpireMock) -> None:
    err = refused(lambda: fetch(spire, audience=["", ""]))
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert err.details().startswith("could not fetch JWT-SVID: ")
    assert err.details().endswith("failed to sign JWT-SVID: invalid JWT-SVID audience: cannot be empty")


def test_unserved_calls_are_unimplemented(spire: SpireMock) -> None:
    x509 = stub(spire).FetchX509SVID(messages.X509SVIDRequest(), metadata=HEADER, timeout=5)
    assert refused(lambda: next(x509)).code() == grpc.StatusCode.UNIMPLEMENTED
    channel = grpc.insecure_channel(socket_target(str(spire.agent.workloads["worker"].socket_path)))
    unknown = channel.unary_unary("/SpiffeWorkloadAPI/FetchEverything")
    assert refused(lambda: unknown(b"", metadata=HEADER, timeout=5)).code() == grpc.StatusCode.UNIMPLEMENTED


# --- the JWT-SVID ---------------------------------------------------------------------------------------


def test_a_jwt_svid_has_spires_shape(spire: SpireMock, http: TestClient) -> None:
    spire.agent.flush_cache()
    response = fetch(spire, audience=[ANTHROPIC_AUDIENCE, "", "https://other.example"])
    (svid,) = response.svids
    assert svid.spiffe_id == WORKER
    header = jwt.get_unverified_header(svid.svid)
    assert header == {"alg": "ES256", "kid": header["kid"], "typ": "JWT"} and len(header["kid"]) == 32
    payload = json.loads(jwt.utils.base64url_decode(svid.svid.split(".")[1]))
    assert list(payload) == ["aud", "exp", "iat", "iss", "sub"]  # sorted, no jti, no nbf
    assert payload["aud"] == [ANTHROPIC_AUDIENCE, "https://other.example"]  # empty values dropped, an array
    assert payload["exp"] - payload["iat"] == 300 and payload["iss"] == BASE and payload["sub"] == WORKER
    keys = jwt.PyJWKSet.from_dict(http.get("/keys").json())
    key = next(k for k in keys.keys if k.key_id == header["kid"])
    jwt.decode(svid.svid, key.key, algorithms=["ES256"], audience=ANTHROPIC_AUDIENCE,
               options={"verify_exp": False, "verify_iat": False})


def test_the_agent_hands_out_the_same_svid_until_half_its_lifetime(spire: SpireMock, clock: Clock) -> None:
    spire.agent.flush_cache()
    first = fetch(spire).svids[0].svid
    clock.now += 149
    assert fetch(spire).svids[0].svid == first
    clock.now += 1
    assert fetch(spire).svids[0].svid != first


def test_without_jwt_issuer_the_svid_has_no_iss(spire: SpireMock) -> None:
    spire.configure(jwt_issuer=None)
    try:
        claims = jwt.decode(fetch(spire).svids[0].svid, options={"verify_signature": False})
        assert "iss" not in claims
    finally:
        spire.configure(jwt_issuer=BASE)


def test_an_entrys_ttl_wins_over_the_default_and_jti_is_opt_in(spire: SpireMock) -> None:
    spire.server.update_entry(WORKER, jwt_svid_ttl=7200, include_jti=True)
    spire.agent.flush_cache()
    try:
        one, two = (jwt.decode(fetch(spire).svids[0].svid, options={"verify_signature": False}) for _ in range(2))
        assert one["exp"] - one["iat"] == 7200
        assert one["jti"] != two["jti"]  # an entry with a jti bypasses the agent's cache
    finally:
        spire.server.update_entry(WORKER, jwt_svid_ttl=0, include_jti=False)
        spire.agent.flush_cache()


def test_the_bundle_stream_sends_the_trust_domains_jwks_and_each_change(spire: SpireMock) -> None:
    stream = stub(spire).FetchJWTBundles(messages.JWTBundlesRequest(), metadata=HEADER, timeout=10)
    first = next(stream)
    assert list(first.bundles) == ["spiffe://prod.example.com"]
    jwks = json.loads(first.bundles["spiffe://prod.example.com"])
    assert all(set(k) == {"kty", "kid", "crv", "x", "y"} for k in jwks["keys"])  # no alg, no use
    spire.server.rotate()
    spire.agent.notify()
    second = json.loads(next(stream).bundles["spiffe://prod.example.com"])
    assert len(second["keys"]) == len(jwks["keys"]) + 1
    stream.cancel()


# --- the OIDC Discovery Provider --------------------------------------------------------------------------


def test_discovery_document_has_spires_six_members(http: TestClient) -> None:
    r = http.get("/.well-known/openid-configuration")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {"issuer": BASE, "jwks_uri": f"{BASE}/keys", "authorization_endpoint": "",
                        "response_types_supported": ["id_token"], "subject_types_supported": [],
                        "id_token_signing_alg_values_supported": ["RS256", "ES256", "ES384"]}
    assert r.text.startswith('{\n  "issuer"')


def test_keys_carry_alg_and_are_never_cached(http: TestClient) -> None:
    r = http.get("/keys", headers={"host": "elsewhere.example"})  # /keys checks no host
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache, no-store, must-revalidate" and r.headers["expires"] == "0"
    assert all(k["alg"] == "ES256" and "use" not in k for k in r.json()["keys"])


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/keys"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "HEAD"])
def test_only_get_is_allowed(http: TestClient, path: str, method: str) -> None:
    r = http.request(method, path)
    assert r.status_code == 405
    if method != "HEAD":
        assert r.text == "method not allowed\n" and r.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("headers", [{"host": "oidc.attacker.example"}, {"x-forwarded-host": "oidc.attacker.example"}])
def test_a_host_outside_domains_is_refused(http: TestClient, headers: dict[str, str]) -> None:
    r = http.get("/.well-known/openid-configuration", headers=headers)
    assert (r.status_code, r.text) == (400, 'domain "oidc.attacker.example" is not allowed\n')
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_forwarded_host_in_domains_names_the_documents(http: TestClient) -> None:
    r = http.get("/.well-known/openid-configuration", headers={"x-forwarded-host": "127.0.0.1"})
    assert r.json()["issuer"] == "https://127.0.0.1" and r.json()["jwks_uri"] == "https://127.0.0.1/keys"


def test_other_paths_are_gos_404(http: TestClient) -> None:
    r = http.get("/openid/v1/jwks")
    assert (r.status_code, r.text) == (404, "404 page not found\n")


# --- spiffe-helper and the lab routes ----------------------------------------------------------------------


def test_the_helper_keeps_the_svid_in_a_0600_file(spire: SpireMock) -> None:
    path = spire.helper.config.token_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    claims = jwt.decode(path.read_text(), options={"verify_signature": False})
    assert claims["sub"] == WORKER and claims["aud"] == [ANTHROPIC_AUDIENCE]
    before = spire.helper.writes
    spire.configure(default_jwt_svid_ttl=600)  # a change: the helper's file follows at once in the lab
    try:
        claims = jwt.decode(path.read_text(), options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == 600 and spire.helper.writes == before + 1
    finally:
        spire.configure(default_jwt_svid_ttl=300)


@pytest.mark.parametrize("body", [{}, {"jwt_issuer": 5}, {"default_jwt_svid_ttl": 0}, {"default_jwt_svid_ttl": "300"},
                                  {"default_jwt_svid_ttl": True}, {"ttl": 300}, [1]])
def test_lab_server_route_refuses_bad_bodies(http: TestClient, body: object) -> None:
    r = http.post("/lab/server", json=body)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_lab_routes_change_the_server(http: TestClient, spire: SpireMock) -> None:
    r = http.post("/lab/server", json={"default_jwt_svid_ttl": 7200})
    assert r.status_code == 200 and r.json()["default_jwt_svid_ttl"] == 7200
    assert http.post("/lab/server", json={"default_jwt_svid_ttl": 300}).json()["default_jwt_svid_ttl"] == 300
    assert http.post("/lab/entries", json={"spiffe_id": "spiffe://prod.example.com/nobody",
                                           "jwt_svid_ttl": 60}).status_code == 400
    r = http.post("/lab/entries", json={"spiffe_id": WORKER, "jwt_svid_ttl": 0})
    assert r.status_code == 200 and http.get("/lab/server").json()["jwt_issuer"] == BASE
