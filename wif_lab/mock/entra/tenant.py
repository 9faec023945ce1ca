"""Entra's tenant model (managed identities, resource app registrations, federated identity
credentials) and the admin API that changes it, as the portal or the ``az`` CLI would.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from ...oauth import ENTRA_TOKEN_EXCHANGE_AUDIENCE as TOKEN_EXCHANGE_AUDIENCE
from ..base import LabContext, seeded_guid

IdentityKind = Literal["system", "user"]
MULTI_TENANT_ALIASES = ("common", "organizations")
MAX_FEDERATED_CREDENTIALS = 20
# The lab's own managed identities (the VM's system-assigned one, two user-assigned ones); on a shared lab each
# attendee gets a copy of each, named "<attendee>-<name>" (TenantAdmin.attendee_identities).
LAB_IDENTITIES: tuple[tuple[str, IdentityKind], ...] = (
    ("wif-lab-vm", "system"), ("claude-inference", "user"), ("batch-reporting", "user"))
_FIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,119}\Z")


@dataclass(frozen=True)
class ManagedIdentity:
    """A managed identity's service principal: ``object_id`` becomes ``oid``/``sub``, ``client_id``
    becomes ``azp``/``appid``, ``resource_id`` is the ARM ID (``msi_res_id``, ``xms_mirid``)."""

    name: str
    kind: IdentityKind
    object_id: str
    client_id: str
    resource_id: str

    def summary(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind, "object_id": self.object_id,
                "client_id": self.client_id, "resource_id": self.resource_id}


@dataclass
class AppRegistration:
    """A resource (API) app: tokens are requested for one of its identifier URIs or its app ID.

    ``token_version`` is ``api.requestedAccessTokenVersion``: ``None`` (unset) and ``1`` give v1
    tokens, ``2`` gives v2 tokens.
    """

    name: str
    app_id: str
    identifier_uris: list[str] = field(default_factory=list)
    token_version: int | None = None

    @property
    def access_token_version(self) -> int:
        return 2 if self.token_version == 2 else 1

    def answers_to(self, resource: str) -> bool:
        """Whether a requested resource names this app (identifier URI or app ID; a trailing slash
        is ignored, as Entra does for v1 resources)."""
        wanted = resource.rstrip("/")
        if wanted.lower() == self.app_id:
            return True
        return any(uri.rstrip("/") == wanted for uri in self.identifier_uris)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "app_id": self.app_id, "identifier_uris": list(self.identifier_uris),
                "token_version": self.access_token_version}


@dataclass
class Tenant:
    """What Entra knows: the tenant, its managed identities and its resource app registrations."""

    tenant_id: str
    display_name: str
    domain: str
    subscription_id: str
    created_at: int  # tenant creation time (xms_tcdt)
    identities: dict[str, ManagedIdentity] = field(default_factory=dict)
    apps: dict[str, AppRegistration] = field(default_factory=dict)
    federated_credentials: dict[str, list[FederatedCredential]] = field(default_factory=dict)  # by identity

    def resolve_alias(self, segment: str) -> str | None:
        """The tenant a URL path segment names (its GUID or domain), or ``None`` if it is not ours."""
        lowered = segment.lower()
        return self.tenant_id if lowered in (self.tenant_id, self.domain) else None

    def find_resource(self, resource: str) -> AppRegistration | None:
        return next((app for app in self.apps.values() if app.answers_to(resource)), None)

    def identity(self, name: str) -> ManagedIdentity:
        return self.identities[name]

    def identity_by_client_id(self, client_id: str) -> ManagedIdentity | None:
        wanted = client_id.strip().lower()
        return next((mi for mi in self.identities.values() if mi.client_id == wanted), None)


@dataclass(frozen=True)
class FederatedCredential:
    """A federated identity credential: trust tokens from ``issuer`` about ``subject`` for ``audiences``
    (``az identity federated-credential create --issuer --subject --audience``)."""

    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...] = (TOKEN_EXCHANGE_AUDIENCE,)
    description: str = ""

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "issuer": self.issuer, "subject": self.subject,
                "audiences": list(self.audiences), "description": self.description}


def default_tenant(seed: int) -> Tenant:
    """The lab's tenant: a VM with a system-assigned identity, two user-assigned identities, and
    the two ways the Claude docs register the Claude API as a resource (plus ARM, as a resource
    the Anthropic rule must *not* accept)."""
    sub = seeded_guid(seed, "subscription")
    rg = f"/subscriptions/{sub}/resourceGroups/wif-lab-rg"
    tenant = Tenant(
        tenant_id=seeded_guid(seed, "tenant"),
        display_name="wif-lab",
        domain="wiflab.onmicrosoft.com",
        subscription_id=sub,
        created_at=1_700_000_000 + random.Random(f"{seed}:tcdt").randrange(10_000_000),
    )

    def identity(name: str, kind: IdentityKind, resource_id: str) -> None:
        oid, appid = seeded_guid(seed, f"mi:{name}:oid"), seeded_guid(seed, f"mi:{name}:appid")
        tenant.identities[name] = ManagedIdentity(name, kind, oid, appid, resource_id)

    for name, kind in LAB_IDENTITIES:
        provider = "Microsoft.Compute/virtualMachines" if kind == "system" else \
            "Microsoft.ManagedIdentity/userAssignedIdentities"
        identity(name, kind, f"{rg}/providers/{provider}/{name}")

    app_id = seeded_guid(seed, "app:claude-api-federation")
    tenant.apps["claude-api-federation"] = AppRegistration(
        "claude-api-federation", app_id, [f"api://{app_id}"], token_version=2
    )
    # As the seed guide shows it: an https identifier URI, requestedAccessTokenVersion left unset (v1).
    tenant.apps["anthropic-api"] = AppRegistration(
        "anthropic-api", seeded_guid(seed, "app:anthropic-api"), ["https://api.anthropic.com"]
    )
    # A first-party Microsoft resource, with its real app ID: a token for it must not pass Anthropic.
    tenant.apps["azure-resource-manager"] = AppRegistration(
        "azure-resource-manager", "797f4846-ba00-4fd7-ba43-dac1f8f63013", ["https://management.azure.com/"]
    )
    return tenant



class TenantAdmin:
    """The admin API (what the portal / az CLI would change), mixed into :class:`EntraMock`."""

    ctx: LabContext
    tenant: Tenant
    _lock: threading.RLock

    @property
    def tenant_id(self) -> str:
        return self.tenant.tenant_id

    def identity(self, name: str) -> ManagedIdentity:
        return self.tenant.identity(name)

    def app(self, name_or_app_id: str) -> AppRegistration:
        with self._lock:
            for app in self.tenant.apps.values():
                if name_or_app_id in (app.name, app.app_id):
                    return app
        raise KeyError(f"no app registration {name_or_app_id!r} in tenant {self.tenant_id}")

    def register_app(
        self,
        name: str,
        *,
        identifier_uris: list[str] | tuple[str, ...] = (),
        token_version: int | None = None,
        app_id: str | None = None,
    ) -> AppRegistration:
        """Register a resource app (``az ad app create`` + ``az ad sp create``).

        ``{app_id}`` in an identifier URI is filled in, so ``["api://{app_id}"]`` gives the form the
        Claude docs use. The app ID is seeded from the name unless given.
        """
        if token_version not in (None, 1, 2):
            raise ValueError("token_version is requestedAccessTokenVersion: None, 1 or 2")
        app_id = app_id or seeded_guid(self.ctx.seed, f"app:{name}")
        uris = [uri.format(app_id=app_id) for uri in identifier_uris]
        with self._lock:
            if name in self.tenant.apps:
                raise ValueError(f"app registration {name!r} already exists")
            for uri in uris:
                if self.tenant.find_resource(uri) is not None:
                    raise ValueError(f"identifier URI {uri!r} is already used by another application")
            app = AppRegistration(name, app_id, uris, token_version)
            self.tenant.apps[name] = app
            return app

    def set_token_version(self, name_or_app_id: str, token_version: int | None) -> AppRegistration:
        """Change ``api.requestedAccessTokenVersion`` (``az ad app update``)."""
        if token_version not in (None, 1, 2):
            raise ValueError("token_version is requestedAccessTokenVersion: None, 1 or 2")
        with self._lock:
            app = self.app(name_or_app_id)
            app.token_version = token_version
            return app

    def remove_app(self, name_or_app_id: str) -> None:
        """Delete the registration; requests for it then fail with AADSTS500011."""
        with self._lock:
            app = self.app(name_or_app_id)
            del self.tenant.apps[app.name]

    def add_identity(self, name: str, kind: IdentityKind = "user") -> ManagedIdentity:
        """Create a user-assigned identity (``az identity create``) or a resource's system identity."""
        with self._lock:
            if name in self.tenant.identities:
                raise ValueError(f"identity {name!r} already exists")
            rg = f"/subscriptions/{self.tenant.subscription_id}/resourceGroups/wif-lab-rg"
            provider = ("Microsoft.ManagedIdentity/userAssignedIdentities" if kind == "user"
                        else "Microsoft.Compute/virtualMachines")
            identity = ManagedIdentity(
                name, kind, seeded_guid(self.ctx.seed, f"mi:{name}:oid"),
                seeded_guid(self.ctx.seed, f"mi:{name}:appid"), f"{rg}/providers/{provider}/{name}",
            )
            self.tenant.identities[name] = identity
            return identity

    def attendee_identities(self, attendee: str) -> list[ManagedIdentity]:
        """A shared lab's attendee's own copies of the lab's identities (``<attendee>-wif-lab-vm``, …), created the
        first time and found afterwards, under the tenant's lock (their IDs are seeded from the name, so the same
        attendee always gets the same ``oid``)."""
        with self._lock:
            return [self.tenant.identities.get(f"{attendee}-{name}") or self.add_identity(f"{attendee}-{name}", kind)
                    for name, kind in LAB_IDENTITIES]

    def add_federated_credential(
        self,
        identity: str,
        *,
        name: str,
        issuer: str,
        subject: str,
        audiences: Sequence[str] = (TOKEN_EXCHANGE_AUDIENCE,),
        description: str = "",
    ) -> FederatedCredential:
        """Trust ``issuer``'s tokens about ``subject`` for a user-assigned identity
        (``az identity federated-credential create --identity-name --name --issuer --subject --audience``).

        Values are stored exactly as given: a trailing slash or a different case is a different value.
        """
        if not _FIC_NAME.match(name):
            raise ValueError("name: 3-120 characters, starting with a letter or digit; letters, digits, '-' and '_'")
        parts = urlsplit(issuer)
        if not parts.scheme or not parts.netloc:
            raise ValueError(f"issuer {issuer!r} is not a URL")
        if not subject or len(subject) > 600:
            raise ValueError("subject: required, at most 600 characters")
        audiences = tuple(audiences)
        if len(audiences) != 1 or not audiences[0] or len(audiences[0]) > 600:
            raise ValueError("audiences: exactly one value (api://AzureADTokenExchange unless you have a reason)")
        fic = FederatedCredential(name, issuer, subject, audiences, description)
        with self._lock:
            mi = self.identity(identity)
            if mi.kind != "user":
                raise ValueError(f"{identity!r} is system-assigned; federated credentials need a user-assigned one")
            existing = self.tenant.federated_credentials.setdefault(identity, [])
            if any(f.name == name for f in existing):
                raise ValueError(f"federated credential {name!r} already exists on {identity!r}")
            if any((f.issuer, f.subject) == (issuer, subject) for f in existing):
                raise ValueError("a federated credential with this issuer and subject already exists on this identity")
            if len(existing) >= MAX_FEDERATED_CREDENTIALS:
                raise ValueError(f"an identity holds at most {MAX_FEDERATED_CREDENTIALS} federated credentials")
            existing.append(fic)
            return fic

    def remove_federated_credential(self, identity: str, name: str) -> None:
        """``az identity federated-credential delete``; KeyError if there is no such credential."""
        with self._lock:
            existing = self.tenant.federated_credentials.get(identity, [])
            kept = [f for f in existing if f.name != name]
            if len(kept) == len(existing):
                raise KeyError(f"no federated credential {name!r} on {identity!r}")
            self.tenant.federated_credentials[identity] = kept

    def federated_credentials(self, identity: str) -> list[FederatedCredential]:
        with self._lock:
            return list(self.tenant.federated_credentials.get(identity, []))
