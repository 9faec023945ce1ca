"""Hypothesis strategies for hostile input, shared by the tests/test_hostile_*.py suites.

A hostile document is valid JSON syntax around one poisoned value of a known class, at a random
place: a non-finite number, an integer outside 64 bits, a lone surrogate (as a value or a member
name), or nesting far past the lab's limit. Tests then check the exact refusal each service gives.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import jwt
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

NON_FINITE = ("NaN", "Infinity", "-Infinity", "1e309", "-1e400", "1E999", "123456789e999")
SURROGATES = ('"\\ud800"', '"x\\udfff"', '"\\udbff\\u0041"', '"ok\\ud83d"')
KINDS = ("non_finite", "huge_int", "surrogate", "surrogate_key", "deep")

def examples(n: int) -> settings:
    """Hypothesis settings for the mock suites: ``n`` examples, no per-example deadline (machines are busy)."""
    return settings(max_examples=n, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


def _leaf(kind: str, deep_max: int) -> st.SearchStrategy[str]:
    """The poisoned JSON fragment for one class of hostile value."""
    if kind == "non_finite":
        return st.sampled_from(NON_FINITE)
    if kind == "huge_int":
        above = st.integers(min_value=2**63, max_value=10**400)
        below = st.integers(min_value=-(10**400), max_value=-(2**63) - 1)
        return (above | below).map(str)
    if kind == "surrogate":
        return st.sampled_from(SURROGATES)
    if kind == "surrogate_key":
        return st.sampled_from(SURROGATES).map(lambda key: "{" + key + ": 1}")
    if kind == "deep":  # past the lab's 32 levels, up to far past the parser's own recursion limit
        return st.integers(min_value=40, max_value=deep_max).map(lambda n: "[" * n + "1" + "]" * n)
    raise ValueError(kind)


@st.composite
def hostile_json(
    draw: st.DrawFn, kinds: tuple[str, ...] = KINDS, top: str = "any", deep_max: int = 20_000
) -> str:
    """JSON text with one hostile value; ``top="object"`` puts it inside a JSON object; ``deep_max``
    bounds the nesting of the "deep" class (token endpoints cap their size first)."""
    kind = draw(st.sampled_from(kinds))
    text = draw(_leaf(kind, deep_max))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        sibling = json.dumps(draw(json_values))
        if draw(st.booleans()):
            text = f"[{sibling}, {text}]" if draw(st.booleans()) else f"[{text}, {sibling}]"
        else:
            key = json.dumps(draw(st.text(max_size=8)))
            text = "{" + f'"pad": {sibling}, {key}: {text}' + "}"
    if top == "object" and not text.startswith("{"):
        text = "{" + f'"hostile": {text}' + "}"
    return text


@st.composite
def hostile_claims(
    draw: st.DrawFn, base: dict[str, Any], kinds: tuple[str, ...] = KINDS, deep_max: int = 2_000
) -> bytes:
    """A JWT payload: ``base`` (valid claims) with one claim replaced or added by a hostile value."""
    name = draw(st.sampled_from([*base, "extra", "exp", "iat", "nbf"]))
    fragment = draw(hostile_json(kinds, deep_max=deep_max))
    members = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in base.items() if k != name]
    members.insert(draw(st.integers(min_value=0, max_value=len(members))), f"{json.dumps(name)}: {fragment}")
    return ("{" + ", ".join(members) + "}").encode()


def sign_raw(payload: bytes, key: Any, *, alg: str = "RS256", headers: dict[str, Any] | None = None) -> str:
    """Sign payload bytes as they are (pyjwt's encode() would re-serialise, and refuse, the odd values)."""
    return jwt.PyJWS().encode(payload, key, algorithm=alg, headers=headers)


def raw_header_token(header: bytes, payload: bytes) -> str:
    """A compact JWS whose header segment is ``header`` as given (unsigned: the parse must refuse it first)."""
    from jwt.utils import base64url_encode

    return b".".join([base64url_encode(header), base64url_encode(payload), b"c2ln"]).decode()


# Bytes that are not UTF-8, and percent-escapes that decode to something that is not UTF-8.
BAD_UTF8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80abc", b"\xe2\x82"])
BAD_ESCAPES = st.sampled_from(["%FF", "%C3%28", "%ED%A0%80", "%F4%90%80%80", "%80", "%E2%82"])


@st.composite
def bad_form(draw: st.DrawFn, fields: dict[str, str]) -> bytes:
    """A urlencoded form of ``fields`` with one value or name spoiled by bytes that are not UTF-8."""
    from urllib.parse import urlencode

    pairs = list(fields.items())
    spoil = draw(st.integers(min_value=0, max_value=len(pairs)))
    encoded = urlencode(pairs).encode()
    raw = draw(BAD_UTF8) if draw(st.booleans()) else draw(BAD_ESCAPES).encode()
    parts = encoded.split(b"&")
    if spoil == len(pairs):
        parts.append(b"x" + raw + b"=1")
    else:
        parts[spoil] = parts[spoil] + raw
    return b"&".join(parts)


# The exchange's answers belong to the lead's contract, which is moving; these accept both shapes.


def assert_exchange_denied(r: httpx.Response) -> None:
    """The exchange's one opaque denial (current contract): 401 authentication_error, "Authentication failed"."""
    body = r.json()
    assert r.status_code == 401, (r.status_code, body)
    assert body["type"] == "error" and body["error"] == {"type": "authentication_error",
                                                          "message": "Authentication failed"}, body


def assert_exchange_malformed(r: httpx.Response, words: str) -> None:
    """A malformed request: 400 invalid_request_error in the API error shape, the message naming the problem."""
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error", body
    assert words in body["error"]["message"], body
