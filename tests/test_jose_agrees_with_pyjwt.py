"""``wif_lab.jose`` parses a token once and verifies it from that parse (pyjwt re-reading every token three
times cost a third of an exchange). Properties: wherever the lab's own strict checks pass,
``parse_compact`` refuses exactly the tokens pyjwt's decode refuses, with pyjwt's words; and
``verify_signature``/``verified_claims`` answer exactly as pyjwt's ``PyJWS.decode_complete``/``jwt.decode``."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from wif_lab.jose import MalformedJWT, parse_compact, verified_claims, verify_signature

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


# --- verification: one parse, then pyjwt's algorithm objects --------------------------------------------

KEYS = {"RS256": rsa.generate_private_key(65537, 2048), "ES256": ec.generate_private_key(ec.SECP256R1()),
        "HS256": b"a-secret-of-more-than-thirty-two-bytes!"}
OTHER = {"RS256": rsa.generate_private_key(65537, 2048), "ES256": ec.generate_private_key(ec.SECP256R1()),
         "HS256": b"another-secret-of-more-than-32-bytes"}
VERIFY_OFF = {"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_iss": False}


def public(key: Any) -> Any:
    return key if isinstance(key, bytes) else key.public_key()


def outcome(call: Any) -> tuple[str, str] | dict[str, Any]:
    try:
        return call()
    except Exception as exc:  # the comparison is of exactly what was raised
        return type(exc).__name__, str(exc)


@settings(max_examples=60, deadline=None)
@given(alg=st.sampled_from(sorted(KEYS)), checked_as=st.sampled_from(["RS256", "ES256", "HS256", "PS256"]),
       signer=st.sampled_from(["right", "other"]), payload=claims, tamper=st.booleans())
def test_verification_agrees_with_pyjwt(alg: str, checked_as: str, signer: str, payload: dict[str, Any],
                                        tamper: bool) -> None:
    signing_key = (KEYS if signer == "right" else OTHER)[alg]  # any claims, even those jwt.encode refuses to write
    token = jwt.api_jws.PyJWS().encode(json.dumps(payload).encode(), signing_key, algorithm=alg)
    if tamper:  # the same claims with one more member: the signature no longer covers what is sent
        head, _, sig = token.split(".")
        token = ".".join([head, b64url(json.dumps({**payload, "x": 1}).encode()), sig])
    parsed = parse_compact(token)
    key = public(KEYS[checked_as if checked_as in KEYS else "RS256"])
    assert outcome(lambda: verified_claims(parsed, key, checked_as)) == outcome(
        lambda: jwt.decode(token, key, algorithms=[checked_as], options=VERIFY_OFF))  # type: ignore[arg-type]
    assert outcome(lambda: verify_signature(parsed, key, checked_as) or "ok") == outcome(
        lambda: jwt.api_jws.PyJWS().decode_complete(token, key, algorithms=[checked_as]) and "ok")


def test_claims_pyjwt_still_checks_after_a_good_signature() -> None:
    for payload in ({"sub": 5}, {"jti": ["x"]}, {"sub": "w", "jti": None}, {"sub": "w", "jti": "j"}, {}):
        token = jwt.api_jws.PyJWS().encode(json.dumps(payload).encode(), KEYS["RS256"], algorithm="RS256")
        key = public(KEYS["RS256"])
        expected = outcome(lambda: jwt.decode(token, key, algorithms=["RS256"], options=VERIFY_OFF))  # noqa: B023
        assert outcome(lambda: verified_claims(parse_compact(token), key, "RS256")) == expected  # noqa: B023
