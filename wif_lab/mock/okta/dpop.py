"""DPoP proofs at the token endpoint (RFC 9449), for apps with "Require DPoP header in token requests".

Follows Okta's "Configure OAuth 2.0 Demonstrating Proof-of-Possession" guide: a proof is a JWT with
header ``typ: dpop+jwt``, an RS/ES ``alg`` and the public ``jwk``; claims ``htm`` = POST, ``htu`` =
the token endpoint, ``iat`` (not older than five minutes), ``jti`` (single-use) and, after the first
``use_dpop_nonce`` answer, the server's ``nonce``. The issued token is then ``token_type: DPoP`` and
carries ``cnf.jkt``, the proof key's RFC 7638 thumbprint.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from typing import Any

from jwt.exceptions import InvalidSignatureError, PyJWTError

from ...jose import MalformedJWT, numeric_date, parse_compact, verify_signature
from ...tokens import jwk_thumbprint
from ..jwk_keys import key_from_jwk
from ..replay import ReplayLedger
from . import errors as E
from .console import ASSERTION_ALGS

PROOF_MAX_AGE = 300
NONCE_RENEW = 24 * 3600  # a new nonce every day …
NONCE_VALID = 3 * 24 * 3600  # … each accepted for three days
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")


class DpopVerifier:
    """Nonces and used proof ids of one org; :meth:`verify` returns the proof key's thumbprint."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._nonces: list[tuple[str, float]] = []  # (nonce, issued at), newest last
        self._used = ReplayLedger()  # proof jtis, forgotten once a proof that old is refused anyway
        self._lock = threading.Lock()

    def current_nonce(self) -> str:
        now = self._clock()
        with self._lock:
            if not self._nonces or now - self._nonces[-1][1] >= NONCE_RENEW:
                self._nonces.append((secrets.token_urlsafe(24), now))
            self._nonces = [(n, t) for n, t in self._nonces if now - t < NONCE_VALID]
            return self._nonces[-1][0]

    def _nonce_ok(self, nonce: Any) -> bool:
        now = self._clock()
        with self._lock:
            return any(n == nonce and now - t < NONCE_VALID for n, t in self._nonces)

    def verify(self, proofs: Sequence[str], *, htu: str, htm: str = "POST") -> str:
        if not proofs:
            raise E.dpop(E.DPOP_MISSING)
        if len(proofs) > 1:
            raise E.dpop(E.DPOP_MULTIPLE)
        proof = proofs[0]
        try:
            parsed = parse_compact(proof)
        except MalformedJWT:
            raise E.dpop(E.DPOP_PARSE) from None
        header, claims = parsed.header, parsed.claims
        if header.get("typ") != "dpop+jwt":
            raise E.dpop(E.DPOP_TYP)
        alg = header.get("alg")
        if alg not in ASSERTION_ALGS:
            raise E.dpop(E.DPOP_ALG)
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or any(m in jwk for m in _PRIVATE_MEMBERS):
            raise E.dpop(E.DPOP_INVALID)
        try:
            key = key_from_jwk({k: v for k, v in jwk.items() if k != "alg"}, alg)
            verify_signature(parsed, key, alg)
            jkt = jwk_thumbprint(jwk)
        except InvalidSignatureError:
            raise E.dpop(E.DPOP_SIGNATURE) from None
        except (PyJWTError, KeyError, ValueError, TypeError):
            raise E.dpop(E.DPOP_INVALID) from None
        if claims.get("htm") != htm:
            raise E.dpop(E.DPOP_HTM)
        if claims.get("htu") != htu:
            raise E.dpop(E.DPOP_HTU)
        iat = numeric_date(claims.get("iat"))
        now = self._clock()
        if iat is None:
            raise E.dpop(E.DPOP_IAT)
        if iat > now + 60:
            raise E.dpop(E.DPOP_FUTURE)
        if iat < now - PROOF_MAX_AGE:
            raise E.dpop(E.DPOP_TOO_OLD)
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise E.dpop(E.DPOP_JTI)
        if not self._nonce_ok(claims.get("nonce")):
            raise E.use_dpop_nonce(self.current_nonce())
        if not self._used.use(jti, iat + PROOF_MAX_AGE + 60, now):
            raise E.dpop(E.DPOP_REPLAYED)
        return jkt
