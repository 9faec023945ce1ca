"""External issuers' signing keys, for every mock that verifies someone else's tokens.

The mock Anthropic (a federation issuer's assertions) and Entra (federated credentials' assertions)
both need the same thing: the issuer's JWKS, found through its discovery document
(``<base>/.well-known/openid-configuration`` → ``jwks_uri``) or at a URL given outright, fetched over
https, cached per issuer. An unknown ``kid`` forces one early re-fetch, at most once per
``refetch_seconds`` per issuer (a rotated key is picked up; a token naming a key nobody publishes
cannot make the mock dial out on every request). Every fetch has a total deadline and a size cap
(:mod:`wif_lab.mock.outbound`), so a slow or huge upstream costs one refused request, not a hang.

:meth:`IssuerKeys.key_object` hands out the verification key itself, built once per JWK
(:mod:`wif_lab.mock.jwk_keys`): building an RSA public key from a JWK on every request would cost more
than the signature check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from .jwk_keys import key_from_jwk
from .outbound import FETCH_DEADLINE, MAX_DOCUMENT_BYTES, FetchFailed, fetch_json

DISCOVERY_PATH = "/.well-known/openid-configuration"


class KeysUnavailable(Exception):
    """The key set could not be fetched or read; ``detail`` says which step failed."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class KeySource:
    """Where one issuer's keys come from. ``cache_key`` names its cache entry (a changed issuer record gets
    a fresh one); ``extra_ca_pem`` is trusted besides the lab CA for these fetches."""

    cache_key: str
    discovery_base: str | None = None
    jwks_url: str | None = None
    extra_ca_pem: str | None = None

    @classmethod
    def discovery(cls, base: str, *, cache_key: str | None = None, extra_ca_pem: str | None = None) -> KeySource:
        return cls(cache_key or base, discovery_base=base, extra_ca_pem=extra_ca_pem)

    @classmethod
    def explicit(cls, url: str, *, cache_key: str | None = None, extra_ca_pem: str | None = None) -> KeySource:
        return cls(cache_key or url, jwks_url=url, extra_ca_pem=extra_ca_pem)


@dataclass
class _Entry:
    keys: list[dict[str, Any]]
    fetched_at: float
    # Key objects built from ``keys``, by (kid, alg): a fetched key set is never changed, only replaced by
    # a new entry, so what is built here is only ever used with the JWK it was built from.
    objects: dict[tuple[str, str], Any] = field(default_factory=dict)


class IssuerKeys:
    """Cached key sets of external issuers (see the module docstring).

    ``outbound()`` (or ``outbound(extra_ca_pem=…)`` for a source that names a CA) returns the async
    client to fetch with; ``clock`` decides freshness (a mock's lab clock, or a monotonic one).
    """

    def __init__(
        self,
        outbound: Callable[..., httpx.AsyncClient],
        clock: Callable[[], float],
        *,
        cache_seconds: float,
        refetch_seconds: float,
        fetch_deadline: float = FETCH_DEADLINE,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
    ) -> None:
        self._outbound = outbound
        self._clock = clock
        self.cache_seconds = cache_seconds
        self.refetch_seconds = refetch_seconds
        self.fetch_deadline = fetch_deadline  # discovery and JWKS together, connect to last byte
        self.max_document_bytes = max_document_bytes
        self._cache: dict[str, _Entry] = {}
        self._forced: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.fetches = 0

    def clear(self) -> None:
        self._cache.clear()
        self._forced.clear()

    async def key_for(self, source: KeySource, kid: str) -> dict[str, Any] | None:
        """The JWK with ``kid``, or None when the key set lacks it; :class:`KeysUnavailable` when there is
        no key set to look in."""
        return (await self._lookup(source, kid))[1]

    async def _lookup(self, source: KeySource, kid: str) -> tuple[_Entry, dict[str, Any] | None]:
        """The cache entry looked in (fetched first when stale) and the JWK with ``kid`` in it, if any."""
        name = source.cache_key
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:  # one fetch per issuer at a time; the others then read its result
            now = self._clock()
            entry = self._cache.get(name)
            if entry is None or now - entry.fetched_at > self.cache_seconds:
                entry = self._cache[name] = _Entry(await self._fetch(source), now)
                return entry, _find(entry.keys, kid)
            found = _find(entry.keys, kid)
            if found is None and now - self._forced.get(name, float("-inf")) >= self.refetch_seconds:
                # A kid we have not seen: the issuer may have rotated. Re-fetch once, rate-limited.
                self._forced[name] = now
                entry = self._cache[name] = _Entry(await self._fetch(source), now)
                found = _find(entry.keys, kid)
            return entry, found

    async def key_object(self, source: KeySource, kid: str, alg: str) -> Any | None:
        """The verification key for ``kid`` used with ``alg``; None when the key set lacks ``kid``. A JWK
        pyjwt cannot use raises what ``jwt.PyJWK`` raises (every time: failures are not kept)."""
        entry, jwk = await self._lookup(source, kid)
        if jwk is None:
            return None
        key = entry.objects.get((kid, alg))
        if key is None:
            key = entry.objects[(kid, alg)] = key_from_jwk(jwk, alg)
        return key

    async def _fetch(self, source: KeySource) -> list[dict[str, Any]]:
        first = source.jwks_url or (source.discovery_base or "").rstrip("/") + DISCOVERY_PATH
        if not first.startswith("https://"):
            raise KeysUnavailable(f"{first!r} is not an https URL")
        limits = {"deadline": self.fetch_deadline, "max_bytes": self.max_document_bytes}
        client = self._outbound(extra_ca_pem=source.extra_ca_pem) if source.extra_ca_pem else self._outbound()
        url = first
        try:
            async with asyncio.timeout(self.fetch_deadline), client:
                if source.jwks_url is None:
                    doc = await fetch_json(client, first, "discovery document", **limits)
                    url = doc.get("jwks_uri") if isinstance(doc, dict) else None
                    if not isinstance(url, str) or not url.startswith("https://"):
                        raise KeysUnavailable("the discovery document names no https jwks_uri")
                body = await fetch_json(client, url, "JWKS", **limits)
        except FetchFailed as exc:
            raise KeysUnavailable(exc.detail) from exc
        except TimeoutError:
            raise KeysUnavailable(f"discovery and JWKS did not arrive within {self.fetch_deadline:g} s") from None
        self.fetches += 1
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list):
            raise KeysUnavailable(f"the JWKS at {url} has no keys array")
        return [key for key in keys if isinstance(key, dict)]


def _find(keys: list[dict[str, Any]], kid: str) -> dict[str, Any] | None:
    return next((key for key in keys if key.get("kid") == kid), None)
