"""The SPIRE server's state: its settings, its JWT signing keys, its registration entries, and minting.

Follows SPIRE's server configuration reference and its source (``pkg/server/credtemplate/builder.go``
``BuildWorkloadJWTSVIDClaims``, ``pkg/server/ca/ca.go`` ``signJWTSVID``), as recorded in
``shared/reference/providers.md`` §5:

- ``trust_domain``; ``jwt_issuer`` (optional: without it a JWT-SVID has **no** ``iss``);
  ``default_jwt_svid_ttl`` 5 min unless set; an entry's own ``jwt_svid_ttl`` wins when non-zero;
- the JWT key type defaults to EC P-256, so JWT-SVIDs are ES256; the header is
  ``{"alg":"ES256","kid":<32 letters and digits>,"typ":"JWT"}``; keys live ``ca_ttl`` (24 h) and a
  JWT-SVID never outlives the key that signed it;
- claims: ``sub`` (the SPIFFE ID), ``aud`` (always an array; empty values dropped, none left is an
  error), ``exp``, ``iat`` and ``iss`` when ``jwt_issuer`` is set; **no** ``nbf`` and no ``jti`` unless
  the entry opts in (``jwt_svid_include_jti``, newer releases); Go writes the members sorted by name.

Lab deviations: keys are named in the lab's key store (``spire-jwt-<n>``) and their ``kid``s come from
the lab seed, so a notebook shows the same ids on every run; rotation (``rotate()``) publishes the new
key at once and keeps the old one published, without SPIRE's prepare/activate phases.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import jwt

from ..keys import KeyStore, public_jwk
from .ids import parse, trust_domain_id

DEFAULT_JWT_SVID_TTL = 300  # default_jwt_svid_ttl: SPIRE's built-in default, "5m"
CA_TTL = 24 * 3600  # ca_ttl: how long a JWT signing key lives
ALGORITHM = "ES256"  # jwt_key_type defaults to ec-p256
_KID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class SigningFailed(Exception):
    """The server could not mint a JWT-SVID (its ``credtemplate`` refused the request)."""


@dataclass(frozen=True)
class Entry:
    """A registration entry: who gets which SPIFFE ID (``spire-server entry create``)."""

    spiffe_id: str
    parent_id: str
    selectors: frozenset[str]
    jwt_svid_ttl: int = 0  # 0: the server's default_jwt_svid_ttl
    include_jti: bool = False  # jwt_svid_include_jti (an entry's additional attribute, newer releases)
    hint: str = ""

    def matches(self, selectors: Iterable[str]) -> bool:
        """An entry applies to a workload whose attested selectors include all of its own."""
        return self.selectors <= frozenset(selectors)


@dataclass
class JwtKey:
    name: str  # in the lab's key store
    kid: str
    not_after: int


@dataclass
class ServerSettings:
    """The settings of ``server.conf`` that shape a JWT-SVID."""

    trust_domain: str
    jwt_issuer: str | None
    default_jwt_svid_ttl: int = DEFAULT_JWT_SVID_TTL


@dataclass
class SpireServer:
    settings: ServerSettings
    keys: KeyStore
    clock: Callable[[], float]
    seed: int
    entries: list[Entry] = field(default_factory=list)
    revision: int = 0  # bumped when the bundle or the entries change: the agent's streams resend

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._rng = random.Random(f"{self.seed}:spire:kids")
        self._jwt_keys: list[JwtKey] = []
        self.rotate()

    # -- keys and bundle

    def _new_kid(self) -> str:
        return "".join(self._rng.choice(_KID_ALPHABET) for _ in range(32))

    def rotate(self) -> str:
        """A new JWT signing key, active from now; the previous ones stay in the bundle."""
        with self._lock:
            name = f"spire-jwt-{len(self._jwt_keys) + 1}"
            self.keys.private_key(name, "ec")
            key = JwtKey(name, self._new_kid(), int(self.clock()) + CA_TTL)
            self._jwt_keys.append(key)
            self.revision += 1
            return key.kid

    @property
    def active_key(self) -> JwtKey:
        return self._jwt_keys[-1]

    def jwks(self, *, alg: bool = False) -> dict[str, Any]:
        """The trust domain's JWT authorities as a standard JWKS (``alg`` only where the discovery provider
        adds it; the Workload API's bundle carries neither ``alg`` nor ``use``)."""
        keys = []
        for key in self._jwt_keys:
            jwk = public_jwk(self.keys.private_key(key.name, "ec"), key.kid)
            shown = {"kty": jwk["kty"], "kid": key.kid, "crv": jwk["crv"]}
            if alg:
                shown["alg"] = ALGORITHM
            shown.update(x=jwk["x"], y=jwk["y"])
            keys.append(shown)
        return {"keys": keys}

    @property
    def trust_domain_id(self) -> str:
        return trust_domain_id(self.settings.trust_domain)

    # -- entries

    def register(self, spiffe_id: str, parent_id: str, selectors: Iterable[str], **options: Any) -> Entry:
        trust_domain, _ = parse(spiffe_id)
        if trust_domain != self.settings.trust_domain:
            raise ValueError(f"{spiffe_id} is not in the trust domain {self.settings.trust_domain}")
        entry = Entry(spiffe_id, parent_id, frozenset(selectors), **options)
        with self._lock:
            self.entries.append(entry)
            self.revision += 1
        return entry

    def update_entry(self, spiffe_id: str, **changes: Any) -> Entry:
        with self._lock:
            for i, entry in enumerate(self.entries):
                if entry.spiffe_id == spiffe_id:
                    self.entries[i] = updated = Entry(**{**entry.__dict__, **changes})
                    self.revision += 1
                    return updated
        raise KeyError(spiffe_id)

    def matching(self, selectors: Iterable[str]) -> list[Entry]:
        chosen = frozenset(selectors)
        with self._lock:
            return [e for e in self.entries if e.matches(chosen)]

    # -- minting

    def ttl_for(self, entry: Entry) -> int:
        return entry.jwt_svid_ttl or self.settings.default_jwt_svid_ttl

    def mint(self, entry: Entry, audience: Iterable[str]) -> str:
        """A JWT-SVID for ``entry``, as ``BuildWorkloadJWTSVIDClaims`` and ``signJWTSVID`` make it."""
        kept = [a for a in audience if a]
        if not kept:
            raise SigningFailed("invalid JWT-SVID audience: cannot be empty")
        with self._lock:
            key = self.active_key
            settings = self.settings
            now = int(self.clock())
            claims: dict[str, Any] = {"aud": kept, "exp": min(now + self.ttl_for(entry), key.not_after), "iat": now}
            if settings.jwt_issuer:
                claims["iss"] = settings.jwt_issuer
            if entry.include_jti:
                claims["jti"] = uuid.uuid4().hex
            claims["sub"] = entry.spiffe_id
            signer = self.keys.private_key(key.name, "ec")
        ordered = dict(sorted(claims.items()))  # encoding/json writes a map's members sorted by name
        return jwt.encode(ordered, signer, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"},
                          sort_headers=True)

    def configure(self, *, jwt_issuer: str | object | None = ..., default_jwt_svid_ttl: int | None = None) -> None:
        """Change ``server.conf`` (what an operator does, then restarts the server)."""
        with self._lock:
            if jwt_issuer is not ...:
                self.settings.jwt_issuer = jwt_issuer or None  # type: ignore[assignment]
            if default_jwt_svid_ttl is not None:
                self.settings.default_jwt_svid_ttl = default_jwt_svid_ttl
            self.revision += 1
