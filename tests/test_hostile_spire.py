"""Hostile input against the mock SPIRE: malformed protobuf, odd metadata, any audience or SPIFFE ID over the
Workload API socket, and hostile hosts and bodies at the discovery provider and its lab routes.

The agent must answer every call with a status SPIRE (or gRPC itself) would give, never hang, and keep
serving; a refusal never carries an SVID.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests._hostile import examples, hostile_json
from wif_lab.mock.base import LabContext
from wif_lab.mock.keys import KeyStore
from wif_lab.mock.spire import SpireMock
from wif_lab.mock.tls import ensure_lab_tls
from wif_lab.workload_api import ANTHROPIC_AUDIENCE, FETCH_JWT_SVID, SECURITY_HEADER, messages, socket_target

BASE = "https://127.0.0.1:8444"
WORKER = "spiffe://prod.example.com/ns/inference/sa/worker"
HEADER = ((SECURITY_HEADER, "true"),)


@pytest.fixture(scope="module")
def spire(state_dir: Path) -> Iterator[SpireMock]:
    shared = state_dir / "shared"
    ctx = LabContext(shared, KeyStore(shared), ensure_lab_tls(shared), {"spire": BASE},
                     run_dir=state_dir / "spire-hostile")
    mock = SpireMock(ctx)
    mock.start()
    try:
        yield mock
    finally:
        mock.close()


@pytest.fixture(scope="module")
def channel(spire: SpireMock) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(socket_target(str(spire.agent.workloads["worker"].socket_path))) as ch:
        yield ch


def raw_fetch(channel: grpc.Channel, body: bytes, metadata: tuple = HEADER) -> tuple[grpc.StatusCode, bytes | str]:
    """FetchJWTSVID with ``body`` sent as it is (no serializer), and the status it ends with."""
    call = channel.unary_unary(FETCH_JWT_SVID)
    try:
        return grpc.StatusCode.OK, call(body, metadata=metadata, timeout=5)
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""


def still_serving(channel: grpc.Channel) -> None:
    request = messages.JWTSVIDRequest(audience=[ANTHROPIC_AUDIENCE]).SerializeToString()
    code, answer = raw_fetch(channel, request)
    assert code == grpc.StatusCode.OK
    assert messages.JWTSVIDResponse.FromString(answer).svids[0].spiffe_id == WORKER  # type: ignore[arg-type]


@examples(60)
@given(body=st.binary(max_size=300))
def test_any_bytes_as_a_request_end_in_a_status(channel: grpc.Channel, body: bytes) -> None:
    code, answer = raw_fetch(channel, body)
    assert code in (grpc.StatusCode.OK, grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT,
                    grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAVAILABLE), (code, answer)
    if code == grpc.StatusCode.OK:  # the bytes parsed as a request naming an audience (and no other ID)
        parsed = messages.JWTSVIDRequest.FromString(body)
        assert any(parsed.audience) and parsed.spiffe_id in ("", WORKER)
        assert messages.JWTSVIDResponse.FromString(answer).svids  # type: ignore[arg-type]


@pytest.mark.parametrize("body", [
    b"\x0a\x02\xff\xfe",  # audience (field 1) that is not UTF-8
    b"\x12\x03\xed\xa0\x80",  # spiffe_id (field 2): an encoded surrogate
    b"\x0a\xff\xff\xff\xff\x0f",  # a length far past the message
    b"\x0b",  # a group start proto3 cannot hold
])
def test_malformed_protobuf_is_an_internal_error_and_the_agent_serves_on(channel: grpc.Channel, body: bytes) -> None:
    code, _ = raw_fetch(channel, body)
    assert code == grpc.StatusCode.INTERNAL
    still_serving(channel)


def test_a_message_over_grpcs_limit_is_refused(channel: grpc.Channel) -> None:
    huge = messages.JWTSVIDRequest(audience=["a" * (5 * 1024 * 1024)]).SerializeToString()
    code, _ = raw_fetch(channel, huge)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    still_serving(channel)


@examples(40)
@given(value=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=12))
def test_only_the_exact_header_value_is_accepted(channel: grpc.Channel, value: str) -> None:
    request = messages.JWTSVIDRequest(audience=[ANTHROPIC_AUDIENCE]).SerializeToString()
    code, details = raw_fetch(channel, request, metadata=((SECURITY_HEADER, value),))
    if value == "true":
        assert code == grpc.StatusCode.OK
    else:
        assert (code, details) == (grpc.StatusCode.INVALID_ARGUMENT, "security header missing from request")


@examples(60)
@given(audience=st.lists(st.text(max_size=30), max_size=4),
       spiffe_id=st.one_of(st.just(""), st.just(WORKER), st.text(max_size=40),
                           st.text(max_size=20).map(lambda t: "spiffe://prod.example.com/" + t)))
def test_any_audience_and_spiffe_id_get_spires_answer(channel: grpc.Channel, audience: list[str],
                                                       spiffe_id: str) -> None:
    body = messages.JWTSVIDRequest(audience=audience, spiffe_id=spiffe_id).SerializeToString()
    code, answer = raw_fetch(channel, body)
    if not audience:
        assert (code, answer) == (grpc.StatusCode.INVALID_ARGUMENT, "audience must be specified")
    elif code == grpc.StatusCode.OK:
        assert spiffe_id in ("", WORKER) and any(audience)
    else:
        assert code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED,
                        grpc.StatusCode.UNAVAILABLE), (code, answer)
        if code == grpc.StatusCode.UNAVAILABLE:
            assert not any(audience)


@examples(40)
@given(host=st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=60))
def test_hostile_hosts_are_refused_by_the_domain_policy(spire: SpireMock, host: str) -> None:
    http = TestClient(spire.asgi(), base_url=BASE)
    r = http.get("/.well-known/openid-configuration", headers={"x-forwarded-host": host})
    domain = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if domain == "127.0.0.1":
        assert r.status_code == 200
    else:
        assert r.status_code == 400 and r.text.endswith(" is not allowed\n")


@examples(30)
@given(body=hostile_json(top="object"))
def test_lab_routes_refuse_hostile_json(spire: SpireMock, body: str) -> None:
    http = TestClient(spire.asgi(), base_url=BASE)
    for path in ("/lab/server", "/lab/entries"):
        r = http.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"
