"""Decoding for display, and full verification against discovery → JWKS with typed errors."""

from __future__ import annotations

import time

import pytest

from wif_lab import errors
from wif_lab.mock.oidc import OidcIssuer
from wif_lab.mock.stack import MockStack
from wif_lab.tokens import claim_rows, decode, discover, relative, verify

AUD = "https://api.anthropic.com"


@pytest.fixture(scope="module")
def oidc(lab: MockStack) -> OidcIssuer:
    return lab.mocks["oidc"]


@pytest.fixture(scope="module")
def ca(lab: MockStack) -> str:
    return str(lab.context.tls.ca_bundle)


def test_decode_reads_header_and_claims_without_verifying(oidc: OidcIssuer) -> None:
    token = oidc.mint({"sub": "w", "groups": ["a"]})
    decoded = decode(token)
    assert decoded.header["alg"] == "RS256" and decoded.header["kid"] == oidc.kid
    assert decoded.subject == "w" and decoded.audiences == [AUD] and decoded.lifetime_seconds == 300
    assert token.split(".")[2] not in repr(decoded)


@pytest.mark.parametrize("junk", ["", "abc", "a.b", "eyJ.eyJ.sig", "not a token at all"])
def test_decode_rejects_junk_with_a_typed_error(junk: str) -> None:
    with pytest.raises(errors.MalformedToken) as info:
        decode(junk)
    assert info.value.hint


def test_verify_accepts_a_good_token(oidc: OidcIssuer, ca: str) -> None:
    decoded = verify(oidc.mint({"sub": "w"}), issuer=oidc.issuer, audience=AUD, verify=ca)
    assert decoded.subject == "w"


def test_discovery_names_the_issuer(oidc: OidcIssuer, ca: str) -> None:
    assert discover(oidc.issuer, verify=ca)["jwks_uri"] == oidc.issuer + "/jwks"


def _hs256(o: OidcIssuer) -> str:
    import jwt

    return jwt.encode({"iss": o.issuer, "sub": "w"}, "s" * 32, algorithm="HS256")


def _tampered(o: OidcIssuer) -> str:
    h, _, s = o.mint({"sub": "a"}).split(".")
    return ".".join([h, o.mint({"sub": "b"}).split(".")[1], s])


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda o: o.mint({"aud": "api://other"}), errors.AudienceMismatch),
        (lambda o: o.mint({"iss": "https://elsewhere.example"}), errors.IssuerMismatch),
        (lambda o: o.mint({"iat": int(time.time()) - 600, "exp": int(time.time()) - 120}), errors.TokenExpired),
        (lambda o: o.mint({"nbf": int(time.time()) + 600}), errors.TokenNotYetValid),
        (lambda o: o.mint(kid="unpublished"), errors.KeyNotFound),
        (_hs256, errors.UnsupportedAlgorithm),
        (_tampered, errors.InvalidSignature),
    ],
)
def test_verify_raises_one_typed_error_per_failure(oidc: OidcIssuer, ca: str, make, error) -> None:
    with pytest.raises(error) as info:
        verify(make(oidc), issuer=oidc.issuer, audience=AUD, verify=ca)
    assert isinstance(info.value, errors.TokenError) and info.value.hint


def test_unreachable_discovery_is_a_discovery_error(ca: str) -> None:
    with pytest.raises(errors.DiscoveryError) as info:
        discover("https://127.0.0.1:9", verify=ca, timeout=1)
    assert "openid-configuration" in str(info.value)


def test_claim_rows_explain_times_and_mark_rule_claims() -> None:
    now = 1_800_000_000
    import jwt

    token = jwt.encode({"iss": "https://x", "sub": "w", "iat": now - 30, "exp": now + 3600, "zz": 1}, "k" * 32)
    rows = {r.name: r for r in claim_rows(decode(token), matched={"sub": False, "iss": True}, now=now)}
    assert rows["exp"].note == "2027-01-15 09:00:00 UTC (expires in 60 min)"
    assert rows["iat"].note.endswith("(issued just now)")
    assert rows["sub"].matched is False and rows["iss"].matched is True and rows["zz"].matched is None
    assert [r.name for r in claim_rows(decode(token), now=now)][:2] == ["iss", "sub"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5, "in under a minute"), (-5, "just now"), (3599, "in 60 min"), (-7200, "2 h ago"), (86400, "in 24 h"),
     (5 * 86400, "in 5 days")],
)
def test_relative_times_are_coarse(seconds: int, text: str) -> None:
    assert relative(seconds) == text


def test_jwk_thumbprint_matches_the_rfc_7638_example() -> None:
    """RFC 7638 section 3.1: the RSA key example and its SHA-256 thumbprint (members other than e, kty, n
    are ignored)."""
    from wif_lab.tokens import jwk_thumbprint

    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXj"
             "BZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8"
             "KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_x"
             "BniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_fresh_tokens_are_described_from_their_issue_time() -> None:
    """A just-issued token reads the same whichever second the cell runs in (stable notebook outputs);
    an older one is described from now."""
    import jwt

    iat = 1_800_000_000
    token = decode(jwt.encode({"iat": iat, "nbf": iat, "exp": iat + 4057}, "k" * 32))  # 67.6 min
    for elapsed in (0, 10, 59):
        rows = {r.name: r.note for r in claim_rows(token, now=iat + elapsed)}
        assert rows["exp"].endswith("(expires in 68 min)")
        assert rows["iat"].endswith("(issued just now)") and rows["nbf"].endswith("(valid from just now)")
    older = {r.name: r.note for r in claim_rows(token, now=iat + 600)}
    assert older["exp"].endswith("(expires in 58 min)") and older["iat"].endswith("(issued 10 min ago)")
