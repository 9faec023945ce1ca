"""Where the mock Anthropic finds an issuer's signing keys: discovery, explicit URL, or inline.

Follows the wif-reference "JWKS modes": ``discovery`` GETs
``<discovery_base or issuer_url>/.well-known/openid-configuration`` and then its ``jwks_uri``;
``explicit_url`` fetches ``jwks.url``; ``inline`` uses the stored keys and never dials out.
Fetched key sets are cached for a minute (a key used right after publication can fail until then,
as the docs warn); an unknown ``kid`` triggers one early re-fetch, at most once per
``refetch_interval`` per issuer. Every fetch has a total deadline and a size cap
(:mod:`wif_lab.mock.outbound`), so a slow or huge upstream costs one refused exchange, not a hang.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from ..base import LabContext
from ..outbound import FETCH_DEADLINE, MAX_DOCUMENT_BYTES, FetchFailed, fetch_json

CACHE_SECONDS = 60.0
REFETCH_INTERVAL = 10.0


class JwksUnavailable(Exception):
    """The key set could not be fetched or parsed; ``detail`` says which step failed."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass
class _Entry:
    keys: list[dict[str, Any]]
    fetched_at: float
    last_forced: float = 0.0
    fetches: int = 1


@dataclass
class JwksResolver:
    ctx: LabContext
    cache_seconds: float = CACHE_SECONDS
    refetch_interval: float = REFETCH_INTERVAL
    fetch_deadline: float = FETCH_DEADLINE  # for discovery and JWKS together
    max_document_bytes: int = MAX_DOCUMENT_BYTES
    _cache: dict[str, _Entry] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    fetch_count: int = 0

    @staticmethod
    def _cache_key(issuer: dict[str, Any]) -> str:
        blob = json.dumps([issuer.get("id"), issuer.get("issuer_url"), issuer.get("jwks")], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    async def key_for(self, issuer: dict[str, Any], kid: str) -> dict[str, Any] | None:
        """Return the JWK with ``kid`` for this issuer, or None when the key set lacks it.

        Raises :class:`JwksUnavailable` when the key set cannot be obtained at all.
        """
        jwks = issuer.get("jwks") or {"type": "discovery"}
        if jwks.get("type") == "inline":
            return _find(jwks.get("keys") or [], kid)
        key = self._cache_key(issuer)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            now = time.monotonic()
            entry = self._cache.get(key)
            if entry is None or now - entry.fetched_at > self.cache_seconds:
                entry = _Entry(await self._fetch(issuer), now, last_forced=entry.last_forced if entry else 0.0)
                self._cache[key] = entry
                return _find(entry.keys, kid)
            found = _find(entry.keys, kid)
            if found is None and now - entry.last_forced >= self.refetch_interval:
                # A kid we have not seen: the issuer may have rotated. Re-fetch once, rate-limited.
                entry.keys = await self._fetch(issuer)
                entry.fetched_at = entry.last_forced = now
                entry.fetches += 1
                found = _find(entry.keys, kid)
            return found

    async def _fetch(self, issuer: dict[str, Any]) -> list[dict[str, Any]]:
        jwks = issuer.get("jwks") or {"type": "discovery"}
        limits = {"deadline": self.fetch_deadline, "max_bytes": self.max_document_bytes}
        try:
            async with asyncio.timeout(self.fetch_deadline), \
                    self.ctx.outbound_client(extra_ca_pem=jwks.get("ca_cert_pem")) as client:
                if jwks.get("type") == "explicit_url":
                    url = jwks.get("url") or ""
                else:
                    base = (jwks.get("discovery_base") or issuer.get("issuer_url") or "").rstrip("/")
                    doc = await fetch_json(client, f"{base}/.well-known/openid-configuration",
                                           "discovery document", **limits)
                    url = doc.get("jwks_uri") if isinstance(doc, dict) else None
                    if not isinstance(url, str) or not url.startswith("https://"):
                        raise JwksUnavailable("discovery document has no https jwks_uri")
                body = await fetch_json(client, url, "JWKS", **limits)
        except FetchFailed as exc:
            raise JwksUnavailable(exc.detail) from exc
        except TimeoutError:
            raise JwksUnavailable(f"discovery and JWKS did not arrive within {self.fetch_deadline:g} s") from None
        self.fetch_count += 1
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list):
            raise JwksUnavailable(f"JWKS at {url} has no 'keys' array")
        return [k for k in keys if isinstance(k, dict)]


def _find(keys: list[dict[str, Any]], kid: str) -> dict[str, Any] | None:
    for key in keys:
        if key.get("kid") == kid:
            return key
    return None
