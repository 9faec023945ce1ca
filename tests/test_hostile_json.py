"""The strict parsers every mock shares: wif_lab.strict_json and wif_lab.jose.

Each hostile class is refused with a reason naming it; ordinary JSON still parses exactly as
``json.loads`` would, so nothing legitimate is lost.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._hostile import BAD_UTF8, hostile_claims, hostile_json, json_values, raw_header_token, sign_raw
from wif_lab import strict_json
from wif_lab.jose import MAX_NUMERIC_DATE, MalformedJWT, numeric_date, parse_compact
from wif_lab.strict_json import MAX_DEPTH, JSONRejected

REASONS = {
    "non_finite": ("not a JSON number", "too large to represent"),
    "huge_int": ("outside the 64-bit range",),
    "surrogate": ("lone surrogate",),
    "surrogate_key": ("lone surrogate",),
    "deep": (f"deeper than {MAX_DEPTH} levels",),
}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), kind=st.sampled_from(sorted(REASONS)))
def test_each_hostile_class_is_refused_with_its_reason(data: st.DataObject, kind: str) -> None:
    text = data.draw(hostile_json((kind,)))
    with pytest.raises(JSONRejected) as info:
        strict_json.loads(text)
    assert any(reason in info.value.reason for reason in REASONS[kind]), info.value.reason


@settings(max_examples=40, deadline=None)
@given(value=json_values)
def test_ordinary_json_parses_as_json_loads_does(value: object) -> None:
    text = json.dumps(value)
    assert strict_json.loads(text) == json.loads(text)
    assert strict_json.loads(text.encode()) == json.loads(text)


@settings(max_examples=20, deadline=None)
@given(prefix=st.binary(max_size=8).map(lambda b: bytes(x & 0x7F for x in b)), bad=BAD_UTF8)
def test_bytes_that_are_not_utf8_are_refused(prefix: bytes, bad: bytes) -> None:
    # The prefix is ASCII: a lead byte there (b"\xc2") could complete a "bad" continuation byte into valid UTF-8.
    with pytest.raises(JSONRejected):
        strict_json.loads(b'{"a": "' + prefix + bad + b'"}')


def test_depth_limit_is_exact_and_deep_input_never_recurses_out() -> None:
    assert strict_json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    for depth in (MAX_DEPTH + 1, 5_000, 200_000):
        with pytest.raises(JSONRejected, match="deeper than"):
            strict_json.loads("[" * depth + "]" * depth)


@pytest.mark.parametrize("text", ["9223372036854775807", "-9223372036854775808", "1e308", "-0.0", "1.5e-320"])
def test_numbers_at_the_edges_of_the_range_are_kept(text: str) -> None:
    value = strict_json.loads(text)
    assert value == json.loads(text) and math.isfinite(value)


@settings(max_examples=40, deadline=None)
@given(payload=hostile_claims({"iss": "https://issuer.example", "sub": "w", "exp": 2_000_000_000}))
def test_a_jwt_with_a_hostile_claim_is_malformed(payload: bytes) -> None:
    token = sign_raw(payload, "k" * 32, alg="HS256")
    with pytest.raises(MalformedJWT, match=r"^the payload "):
        parse_compact(token)


@settings(max_examples=20, deadline=None)
@given(header=hostile_json(top="object"))
def test_a_jwt_with_a_hostile_header_is_malformed(header: str) -> None:
    with pytest.raises(MalformedJWT, match=r"^the header "):
        parse_compact(raw_header_token(header.encode(), b'{"sub": "w"}'))


@pytest.mark.parametrize("token", ["a.b", "a.b.c.d", "é.a.b", "a!.b.c", "eyJ.eyJ.sig", 7, None])
def test_structurally_broken_tokens_are_malformed(token: object) -> None:
    with pytest.raises(MalformedJWT):
        parse_compact(token)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0.0), (1_700_000_000, 1.7e9), (1.5, 1.5), (MAX_NUMERIC_DATE, float(MAX_NUMERIC_DATE)),
     (MAX_NUMERIC_DATE + 1, None), (-1, None), (1e300, None), (True, None), ("1", None), (None, None),
     (float("nan"), None), (float("inf"), None)],
)
def test_numeric_date(value: object, expected: float | None) -> None:
    assert numeric_date(value) == expected
