"""Minted access tokens: the app-only tokens Entra issues for a managed identity (v1 or v2 claims,
as the resource app asks), and the record of what the federated token endpoint saw.
"""

from __future__ import annotations

import base64
import random
import threading
from dataclasses import dataclass
from typing import Any

import jwt

from ..base import LabContext
from .errors import resource_not_found
from .keys import SigningKey
from .tenant import AppRegistration, ManagedIdentity, Tenant

MI_TOKEN_BACKDATE = 300  # iat and nbf of a managed-identity token lie 5 minutes before it was minted
MI_TOKEN_VALIDITY = 86400  # and exp 24 hours after
MI_TOKEN_LIFETIME = MI_TOKEN_BACKDATE + MI_TOKEN_VALIDITY  # exp - iat = 86,700 s, as recorded on real VMs


@dataclass(frozen=True, repr=False)
class AccessToken:
    """A minted Entra access token with the facts callers need without decoding it."""

    token: str
    claims: dict[str, Any]
    identity: ManagedIdentity
    app: AppRegistration
    resource: str  # as requested

    @property
    def issued_at(self) -> int:
        return int(self.claims["iat"])

    @property
    def not_before(self) -> int:
        return int(self.claims["nbf"])

    @property
    def expires_on(self) -> int:
        return int(self.claims["exp"])

    @property
    def lifetime(self) -> int:
        return self.expires_on - self.issued_at

    def __repr__(self) -> str:
        from ...redact import redact

        return (f"AccessToken(v{self.claims['ver']}, identity={self.identity.name!r}, "
                f"aud={self.claims['aud']!r}, token={redact(self.token, short=True)!r})")


@dataclass(frozen=True)
class FederatedTokenRequest:
    """What the token endpoint saw: the assertion's claims (unverified) and how it answered."""

    at: float
    client_id: str | None
    claims: dict[str, Any] | None
    error_code: int | None  # None when a token was issued
    lifetime: int | None = None

    @property
    def issued(self) -> bool:
        return self.error_code is None



class TokenMinting:
    """Issuing access tokens, mixed into :class:`EntraMock`."""

    ctx: LabContext
    tenant: Tenant
    tenant_id: str
    kid: str
    _lock: threading.RLock
    _rng: random.Random
    _keys: list[SigningKey]

    def _opaque(self, prefix: str, nbytes: int) -> str:
        with self._lock:
            raw = self._rng.getrandbits(8 * nbytes).to_bytes(nbytes, "big")
        return prefix + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def mint_access_token(
        self, identity: ManagedIdentity | str, resource: str, *, now: float | None = None,
        lifetime: int = MI_TOKEN_LIFETIME, backdate: int = MI_TOKEN_BACKDATE,
    ) -> AccessToken:
        """Issue an app-only access token for ``identity`` to ``resource``, as Entra does for a
        managed identity. The resource app's token version decides v1 or v2 claims; ``lifetime`` is
        ``exp - iat`` (a day and 5 minutes for managed identity, 60–90 min for client credentials) and
        ``iat = nbf`` lie ``backdate`` seconds before ``now``.

        Raises :class:`EntraError` (AADSTS500011) if no app registration answers to ``resource``.
        """
        mi = self.identity(identity) if isinstance(identity, str) else identity
        now = self.ctx.clock() if now is None else now
        with self._lock:
            app = self.tenant.find_resource(resource)
            version = app.access_token_version if app else 0
        if app is None:
            raise resource_not_found(resource, self.tenant, now=now)
        iat = int(now) - backdate
        claims: dict[str, Any] = {
            # v2: the bare app ID GUID even when api://<APP_ID> was asked for; v1: the URI as requested.
            "aud": app.app_id if version == 2 else resource,
            "iss": self.issuer(version),
            "iat": iat,
            "nbf": iat,
            "exp": iat + lifetime,
            "aio": self._opaque("k2Rg", 42),
        }
        if version == 2:
            claims.update({"azp": mi.client_id, "azpacr": "2"})
        else:
            claims.update({"appid": mi.client_id, "appidacr": "2", "idp": self.issuer(1)})
        claims.update({
            "idtyp": "app",
            "oid": mi.object_id,
            "rh": self._opaque(f"{version - 1}.A", 48),
            "sub": mi.object_id,
            "tid": self.tenant_id,
            "uti": self._opaque("", 16),
            "ver": f"{version}.0",
            "xms_mirid": mi.resource_id,
        })
        if version == 1:
            claims["xms_tcdt"] = str(self.tenant.created_at)
        headers = {"typ": "JWT", "kid": self.kid}
        if version == 1:
            headers["x5t"] = self.kid
        token = jwt.encode(claims, self._keys[0].private_key, algorithm="RS256", headers=headers)
        return AccessToken(token, claims, mi, app, resource)
