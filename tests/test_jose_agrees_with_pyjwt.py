"""``wif_lab.jose.parse_compact`` applies pyjwt's structural rules itself (pyjwt re-reading every token
twice before verifying it cost a third of an exchange). Property: wherever the lab's own strict checks
pass, it refuses exactly the tokens pyjwt's decode refuses, with pyjwt's words."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
from hypothesis import given, settings
from hypothesis import strategies as st

from wif_lab.jose import MalformedJWT, parse_compact

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=6,
)
header_members = st.fixed_dictionaries(
    {"alg": st.sampled_from(["RS256", "ES256", "none", 7])},
    optional={"kid": values, "crit": st.one_of(values, st.lists(st.sampled_from(["b64", "exp", "kid", 3]),
                                                                   max_size=3)),
              "b64": st.sampled_from([True, False, "false", 0]), "typ": values},
)
claims = st.dictionaries(st.sampled_from(["iss", "sub", "jti", "exp", "iat", "x"]), values, max_size=5)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mangle(segment: str, how: int) -> str:
    """0: as is; 1: last character bumped (often non-canonical); 2: '=' padding; 3: emptied."""
    if how == 1 and segment:
        return segment[:-1] + B64[(B64.index(segment[-1]) + 1) % 64]
    if how == 2:
        return segment + "="
    if how == 3:
        return ""
    return segment


def ours(token: str) -> str | None:
    try:
        parse_compact(token)
    except MalformedJWT as exc:
        return exc.reason
    return None


def pyjwts(token: str) -> str | None:
    """What parse_compact used to ask pyjwt before it wrote the same rules out."""
    try:
        jwt.get_unverified_header(token)
        jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        return str(exc)
    return None


def check(token: str) -> None:
    verdict = ours(token)
    if verdict is None:
        assert pyjwts(token) is None, token
    elif not verdict.startswith("the "):  # one of pyjwt's rules, in pyjwt's words
        assert verdict == pyjwts(token), token


@settings(max_examples=250, deadline=None)
@given(header=header_members, payload=claims, signature=st.binary(max_size=40),
       how=st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)))
def test_structured_tokens(header: dict[str, Any], payload: dict[str, Any], signature: bytes,
                           how: tuple[int, int, int]) -> None:
    segments = [b64url(json.dumps(header).encode()), b64url(json.dumps(payload).encode()), b64url(signature)]
    check(".".join(mangle(s, h) for s, h in zip(segments, how, strict=True)))


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.text(alphabet=B64 + "=.", max_size=24), min_size=3, max_size=3))
def test_raw_segments(parts: list[str]) -> None:
    check("eyJ" + ".".join(parts))


def test_known_differences_are_refused_in_pyjwts_words() -> None:
    payload = b64url(b'{"sub":"w"}')
    rs256 = b64url(b'{"alg":"RS256"} ')  # 16 bytes: the last character carries 4 unused bits
    assert ours(f"{rs256}.{payload}.AAAA") is None
    assert ours(f"{mangle(rs256, 1)}.{payload}.AAAA") == "Invalid header padding"  # same bytes, other spelling
    assert ours(f"{rs256}.{payload}.AAB") == "Invalid crypto padding"
    kid7 = b64url(b'{"alg":"RS256","kid":7}')
    assert ours(f"{kid7}.{payload}.AAAA") == "Key ID header parameter must be a string"
    crit = b64url(b'{"alg":"RS256","crit":["exp"],"exp":1}')
    assert ours(f"{crit}.{payload}.AAAA") == "Unsupported critical extension: exp"
    for token in (f"{mangle(rs256, 1)}.{payload}.AAAA", f"{rs256}.{payload}.AAB", f"{crit}.{payload}.AAAA"):
        check(token)
