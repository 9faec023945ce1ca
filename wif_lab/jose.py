"""Strict reading of a compact JWS (a JWT) before anything trusts or stores what it says.

pyjwt parses header and payload with Python's lenient ``json.loads``; a token whose ``exp`` is
``Infinity`` or ``1e309``, whose claims nest a thousand levels deep or carry a lone surrogate would
pass its decoding and break a service later (a 5xx when the claims are logged or echoed, "no
limit" when a time is compared). :func:`parse_compact` applies :mod:`wif_lab.strict_json` to both
segments first, then the structural rules pyjwt applies when it decodes (canonical base64url, the
``kid``, ``crit`` and ``b64`` header rules, in pyjwt's order and words), so a token parsed here is one
pyjwt would decode too and what it returns is safe to keep. Those rules are written out here rather
than by asking pyjwt to decode the token once more: each pyjwt pass re-reads every segment character
by character, and parsing one token twice before verifying it was a third of a token exchange's
cost. ``tests/test_jose_agrees_with_pyjwt.py`` checks the two agree, token for token and word for word.

:func:`numeric_date` is the RFC 7519 NumericDate test every service applies to ``exp``, ``iat``
and ``nbf``: a finite number of seconds between the epoch and the end of year 9999 (the range a
calendar can show; a lab bound).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.algorithms import get_default_algorithms
from jwt.exceptions import InvalidJTIError, InvalidSubjectError

from .strict_json import JSONRejected, loads

MAX_TOKEN_BYTES = 64 * 1024  # bigger than any real JWT; callers may set their own, smaller, limit
MAX_NUMERIC_DATE = 253_402_300_799  # 9999-12-31T23:59:59Z
_SEGMENT = re.compile(rb"[A-Za-z0-9_-]*")
_SUPPORTED_CRIT = frozenset({"b64"})  # the critical header extensions pyjwt understands


class MalformedJWT(ValueError):
    """The token is not a well-formed compact JWS; ``reason`` says which part."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Compact:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes = field(default=b"", repr=False)  # header.payload as sent: what the signature covers
    signature: bytes = field(default=b"", repr=False)


def _segment(raw: bytes, name: str) -> bytes:
    if not _SEGMENT.fullmatch(raw) or len(raw) % 4 == 1:
        raise MalformedJWT(f"the {name} segment is not base64url")
    try:
        return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise MalformedJWT(f"the {name} segment is not base64url") from None


def _object(raw: bytes, name: str) -> dict[str, Any]:
    try:
        value = loads(raw)
    except JSONRejected as exc:
        raise MalformedJWT(f"the {name} {exc.reason}") from None
    if not isinstance(value, dict):
        raise MalformedJWT(f"the {name} is not a JSON object")
    return value


_B64URL_VALUE = {c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}
_UNUSED_BITS = {0: 0, 2: 0x0F, 3: 0x03}  # by length mod 4: the low bits of the last character that carry no data


def _canonical(raw: bytes, decoded: bytes) -> bool:
    """pyjwt refuses a segment whose unused trailing bits are set (two spellings of the same bytes).

    Re-encoding ``decoded`` and comparing, as pyjwt does, says the same as looking at those bits of the
    last character (``raw`` is base64url of a length that is not 1 mod 4: :func:`_segment` saw to it)
    without encoding a signature again on every request.
    """
    mask = _UNUSED_BITS[len(raw) % 4]
    return not mask or not _B64URL_VALUE[raw[-1]] & mask


def _pyjwt_rules(parts: list[bytes], decoded: list[bytes], header: dict[str, Any]) -> None:
    """What pyjwt's decode (signature not checked) refuses beyond the checks above, with its messages."""
    if not _canonical(parts[0], decoded[0]):
        raise MalformedJWT("Invalid header padding")
    b64 = header.get("b64", True) is not False
    if not b64 and parts[1]:
        raise MalformedJWT("Payload segment must be empty when 'b64' is false.")
    if b64 and not _canonical(parts[1], decoded[1]):
        raise MalformedJWT("Invalid payload padding")
    if not _canonical(parts[2], decoded[2]):
        raise MalformedJWT("Invalid crypto padding")
    if "kid" in header and not isinstance(header["kid"], str):
        raise MalformedJWT("Key ID header parameter must be a string")
    if "crit" in header:
        crit = header["crit"]
        if not isinstance(crit, list) or len(crit) == 0:
            raise MalformedJWT("Invalid 'crit' header: must be a non-empty list")
        for ext in crit:
            if not isinstance(ext, str):
                raise MalformedJWT("Invalid 'crit' header: values must be strings")
            if ext not in _SUPPORTED_CRIT:
                raise MalformedJWT(f"Unsupported critical extension: {ext}")
            if ext not in header:
                raise MalformedJWT(f"Critical extension '{ext}' is missing from headers")
    # A detached payload ("b64": false) never gets here: its payload segment must be empty, and an empty
    # segment is not the JSON object the payload check above insists on.


def parse_compact(token: Any, *, max_bytes: int = MAX_TOKEN_BYTES) -> Compact:
    """Header and claims of ``token`` (signature not checked), or :class:`MalformedJWT`."""
    if not isinstance(token, str):
        raise MalformedJWT("the token is not a string")
    if not token.isascii():
        raise MalformedJWT("the token contains characters outside base64url")
    raw = token.encode("ascii")
    if len(raw) > max_bytes:
        raise MalformedJWT(f"the token is longer than {max_bytes} bytes")
    parts = raw.split(b".")
    if len(parts) != 3:
        raise MalformedJWT(f"the token has {len(parts)} dot-separated segments, not 3")
    decoded = [_segment(parts[0], "header"), _segment(parts[1], "payload"), b""]
    header = _object(decoded[0], "header")
    claims = _object(decoded[1], "payload")
    decoded[2] = _segment(parts[2], "signature")
    _pyjwt_rules(parts, decoded, header)
    return Compact(header, claims, raw.rpartition(b".")[0], decoded[2])


_ALGORITHMS = get_default_algorithms()


def verify_signature(parsed: Compact, key: Any, alg: str) -> None:
    """Check the signature of a parsed token with ``key`` under ``alg``, as pyjwt's
    ``PyJWS().decode_complete(token, key, algorithms=[alg])`` does once the token has parsed: pyjwt's own
    algorithm objects, its exceptions and its words — without reading every segment again."""
    if not alg or parsed.header.get("alg") != alg:
        raise jwt.InvalidAlgorithmError("The specified alg value is not allowed")
    algorithm = _ALGORITHMS.get(alg)
    if algorithm is None:
        raise jwt.InvalidAlgorithmError("Algorithm not supported")
    if not algorithm.verify(parsed.signing_input, algorithm.prepare_key(key), parsed.signature):
        raise jwt.InvalidSignatureError("Signature verification failed")


def verified_claims(parsed: Compact, key: Any, alg: str) -> dict[str, Any]:
    """The claims, once the signature verifies: pyjwt's ``jwt.decode(token, key, algorithms=[alg])`` with the
    time, audience and issuer checks left to the caller (a service applies its own skew and limits). What
    pyjwt still checks then is that ``sub`` and ``jti``, when present, are strings."""
    verify_signature(parsed, key, alg)
    claims = parsed.claims
    if "sub" in claims and not isinstance(claims["sub"], str):
        raise InvalidSubjectError("Subject must be a string")
    if "jti" in claims and not isinstance(claims["jti"], str):
        raise InvalidJTIError("JWT ID must be a string")
    return claims


def numeric_date(value: Any) -> float | None:
    """``value`` as seconds since the epoch when it is a valid NumericDate, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not 0 <= value <= MAX_NUMERIC_DATE:  # NaN fails this comparison too
        return None
    return float(value)
