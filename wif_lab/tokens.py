"""Inspect identity tokens: decode for display, verify against an issuer's discovery → JWKS.

Decoding never verifies (it is for looking at a token); :func:`verify` does the full check the way
a relying party would, raising one typed :mod:`wif_lab.errors` error per failure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt

from . import http, strict_json
from .errors import (
    AudienceMismatch,
    DiscoveryError,
    InvalidSignature,
    IssuerMismatch,
    KeyNotFound,
    MalformedToken,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    UnsupportedAlgorithm,
)
from .http import Verify
from .http import ssl_context as ssl_context  # re-exported: older code imports it from here
from .jose import MAX_NUMERIC_DATE, MalformedJWT, numeric_date, parse_compact
from .oauth import ASYMMETRIC_ALGORITHMS
from .redact import SIGNATURE_MARK, Secret, redact

TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time")
MAX_DOCUMENT_BYTES = 512 * 1024  # a discovery document or JWKS; real ones are a few KB


@dataclass(frozen=True)
class DecodedToken:
    """A JWT's header and claims, with the raw token kept out of every repr."""

    raw: Secret = field(repr=False)
    header: dict[str, Any]
    claims: dict[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "raw", Secret(self.raw))

    @property
    def issuer(self) -> str | None:
        return self.claims.get("iss")

    @property
    def subject(self) -> str | None:
        return self.claims.get("sub")

    @property
    def audiences(self) -> list[str]:
        aud = self.claims.get("aud")
        if aud is None:
            return []
        return [aud] if isinstance(aud, str) else [str(a) for a in aud]

    @property
    def lifetime_seconds(self) -> int | None:
        """``exp - iat``: what an issuer's ``max_jwt_lifetime_seconds`` is compared with."""
        exp, iat = numeric_date(self.claims.get("exp")), numeric_date(self.claims.get("iat"))
        if exp is not None and iat is not None:
            return int(exp - iat)
        return None

    def expires_in(self, now: float | None = None) -> int | None:
        exp = numeric_date(self.claims.get("exp"))
        if exp is None:
            return None
        return int(exp - (time.time() if now is None else now))

    def __repr__(self) -> str:
        bits = [f"alg={self.header.get('alg')!r}", f"kid={self.header.get('kid')!r}",
                f"iss={self.issuer!r}", f"sub={self.subject!r}", f"aud={self.claims.get('aud')!r}"]
        return f"DecodedToken({', '.join(bits)}, token={redact(self.raw, short=True)!r})"

    __str__ = __repr__


def decode(token: str) -> DecodedToken:
    """Decode header and claims without verifying anything (for display and preflight)."""
    token = (token or "").strip()
    readable = token
    if token.endswith(SIGNATURE_MARK):  # a redacted token: header and claims are still readable
        readable = token[: -len(SIGNATURE_MARK)]
    try:
        parsed = parse_compact(readable)
    except MalformedJWT as exc:
        raise MalformedToken(f"not a decodable JWT: {exc.reason}") from exc
    return DecodedToken(token, parsed.header, parsed.claims)


def _get_json(url: str, *, what: str, verify: Verify, timeout: float) -> Any:
    """GET a JSON document within ``timeout`` seconds in all (:mod:`wif_lab.http` bounds the whole
    request, not each read) and at most :data:`MAX_DOCUMENT_BYTES`, streamed; parsed strictly."""
    chunks: list[bytes] = []
    size = 0
    with http.failures(url, what=what, deadline=timeout, error=DiscoveryError), \
            http.client(verify, deadline=timeout) as client, \
            client.stream("GET", url, headers={"accept": "application/json", "accept-encoding": "identity"}) as r:
        if r.status_code != 200:
            raise DiscoveryError(f"{url} answered HTTP {r.status_code}")
        for chunk in r.iter_bytes():
            size += len(chunk)
            if size > MAX_DOCUMENT_BYTES:
                raise DiscoveryError(f"{url} sent more than {MAX_DOCUMENT_BYTES} bytes")
            chunks.append(chunk)
    try:
        return strict_json.loads(b"".join(chunks))
    except strict_json.JSONRejected as exc:
        raise DiscoveryError(f"{url} did not return usable JSON: it {exc.reason}") from exc


def discover(issuer: str, *, verify: Verify = True, timeout: float = 5.0, base: str | None = None) -> dict[str, Any]:
    """Fetch ``<issuer>/.well-known/openid-configuration`` and check it names this issuer.

    ``base`` reads the document elsewhere, as an issuer registered with ``jwks.discovery_base`` is read;
    ``timeout`` is the overall deadline for the whole request, body included.
    """
    url = (base or issuer).rstrip("/") + "/.well-known/openid-configuration"
    doc = _get_json(url, what="the issuer's discovery document", verify=verify, timeout=timeout)
    if not isinstance(doc, dict) or not isinstance(doc.get("jwks_uri"), str):
        raise DiscoveryError(f"{url} has no jwks_uri")
    if doc.get("issuer") != issuer:
        raise IssuerMismatch(
            f"discovery document at {url} names issuer {doc.get('issuer')!r}, not {issuer!r}"
        )
    return doc


def fetch_jwks(jwks_uri: str, *, verify: Verify = True, timeout: float = 5.0) -> list[dict[str, Any]]:
    try:
        body = _get_json(jwks_uri, what="the issuer's JWKS", verify=verify, timeout=timeout)
    except DiscoveryError as exc:
        raise DiscoveryError(f"could not read the JWKS at {jwks_uri}: {exc.message}") from exc
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list):
        raise DiscoveryError(f"could not read the JWKS at {jwks_uri}: it has no 'keys' array")
    return [k for k in keys if isinstance(k, dict)]


def verify(
    token: str,
    *,
    issuer: str,
    audience: str | None,
    verify: Verify = True,
    jwks_uri: str | None = None,
    leeway: int = 30,
) -> DecodedToken:
    """Verify signature (discovery → JWKS), issuer, audience and times; return the decoded token."""
    decoded = decode(token)
    for name in ("exp", "iat", "nbf"):
        if name in decoded.claims and numeric_date(decoded.claims[name]) is None:
            raise MalformedToken(f"{name} {decoded.claims[name]!r} is not a NumericDate "
                                 f"(whole or fractional seconds from 0 to {MAX_NUMERIC_DATE})")
    alg = decoded.header.get("alg")
    if not isinstance(alg, str) or alg not in ASYMMETRIC_ALGORITHMS:
        raise UnsupportedAlgorithm(f"token uses alg {alg!r}")
    if decoded.issuer != issuer:
        raise IssuerMismatch(f"token iss {decoded.issuer!r} is not {issuer!r}")
    uri = jwks_uri or discover(issuer, verify=verify)["jwks_uri"]
    kid = decoded.header.get("kid")
    jwk = next((k for k in fetch_jwks(uri, verify=verify) if k.get("kid") == kid), None)
    if jwk is None:
        raise KeyNotFound(f"kid {kid!r} is not published at {uri}")
    try:
        key = jwt.PyJWK(jwk, algorithm=alg).key
        jwt.decode(
            decoded.raw, key, algorithms=[alg], audience=audience, issuer=issuer, leeway=leeway,
            options={"verify_aud": audience is not None, "require": ["exp", "iat"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired(f"token expired {-(decoded.expires_in() or 0)} s ago") from exc
    except jwt.ImmatureSignatureError as exc:
        raise TokenNotYetValid(str(exc)) from exc
    except jwt.InvalidAudienceError as exc:
        raise AudienceMismatch(f"token aud {decoded.claims.get('aud')!r} does not include {audience!r}") from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidSignature("signature does not verify with the published key") from exc
    except jwt.PyJWTError as exc:
        raise TokenError(f"token rejected: {exc}") from exc
    return decoded


def utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def relative(seconds: float) -> str:
    """'in 59 min' / '3 h ago' — coarse on purpose, so notebook outputs stay stable."""
    future = seconds > 0
    s = abs(int(seconds))
    if s < 60:
        return "in under a minute" if future else "just now"
    if s < 90:
        text = f"{s} s"
    elif s < 90 * 60:
        text = f"{round(s / 60)} min"
    elif s < 48 * 3600:
        text = f"{s / 3600:.1f} h".replace(".0 h", " h")
    else:
        text = f"{round(s / 86400)} days"
    return f"in {text}" if future else f"{text} ago"


@dataclass(frozen=True)
class ClaimRow:
    name: str
    value: str
    note: str = ""
    matched: bool | None = None  # None: no matcher reads it; True/False: a rule matcher passed/failed on it


def claim_rows(
    token: DecodedToken, *, matched: dict[str, bool] | None = None, now: float | None = None
) -> list[ClaimRow]:
    """Rows for a claims table: times in UTC plus relative, and which claims a rule reads."""
    now = time.time() if now is None else now
    iat = numeric_date(token.claims.get("iat"))
    if iat is not None and 0 <= now - iat < 60:
        # Issued within the last minute: describe the times from issue, so "expires in 68 min" reads
        # the same however many seconds the notebook took to get here.
        now = iat
    rows: list[ClaimRow] = []
    for name in sorted(token.claims, key=_claim_order):
        value = token.claims[name]
        note = ""
        if name in TIME_CLAIMS and numeric_date(value) is not None:  # a date a calendar can show
            verb = {"exp": "expires", "iat": "issued", "nbf": "valid from"}.get(name, "")
            note = f"{utc(value)} ({verb} {relative(value - now)})".replace("( ", "(")
            note = note.replace("issued in under a minute", "issued just now")
        shown = value if isinstance(value, str) else _compact(value)
        rows.append(ClaimRow(name, shown, note, (matched or {}).get(name)))
    return rows


_FIRST = ("iss", "sub", "aud", "azp", "appid", "oid", "tid", "cid", "scp", "iat", "nbf", "exp", "jti")


def _claim_order(name: str) -> tuple[int, str]:
    return (_FIRST.index(name), "") if name in _FIRST else (len(_FIRST), name)


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(", ", ": "))


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public JWK: the ``cnf.jkt`` a DPoP-bound token carries."""
    members = ("e", "kty", "n") if jwk.get("kty") == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({k: jwk[k] for k in members}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
