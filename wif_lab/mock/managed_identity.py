"""What every Azure managed-identity endpoint shares below its wire format: the identities attached to one
compute resource, how a request picks one of them, and the token cache in front of Entra.

IMDS (VMs, scale sets) and the hosting services' identity endpoint (App Service, Functions, Container Apps)
are asked differently and answer differently, but both hand out the tenant's Entra tokens for the
identities attached to their resource and cache them the same way: the same token comes back until it is
within 5 minutes of expiry, and a caller cannot force a refresh (azure.md §1, "tokens are cached by the
underlying Azure infrastructure"). Refusals are raised as :class:`IdentityUnavailable`; each endpoint turns
it into its own status and body.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Literal

from .base import ATTENDEE_NAME
from .entra import AccessToken, EntraMock, ManagedIdentity

REFRESH_MARGIN = 300  # a cached token with less than this left is replaced by a fresh one
SELECTORS = ("client_id", "object_id", "resource_id")  # how a request may name an identity (wire names differ)

Reason = Literal["not_found", "ambiguous"]


class IdentityUnavailable(Exception):
    """No attached identity fits the request: ``not_found`` (a selector names none, or none is attached)
    or ``ambiguous`` (no selector, no system-assigned identity, and the endpoint will not guess)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason: Reason = reason


class IdentityHost:
    """One compute resource's managed identities (names in the Entra mock's tenant) and their token cache.

    ``single_user_default``: with no selector and no system-assigned identity, IMDS uses a lone
    user-assigned identity; the hosting services' endpoint does not (it looks for the system-assigned one).
    """

    def __init__(self, entra: EntraMock, clock: Callable[[], float], assigned: Iterable[str], *,
                 single_user_default: bool) -> None:
        self.entra = entra
        self.clock = clock
        self.single_user_default = single_user_default
        self._lock = threading.Lock()
        self._assigned: list[str] = list(assigned)
        self._cache: dict[tuple[str, str], AccessToken] = {}

    # -- what `az vm identity assign/remove` (or `az webapp identity …`) changes

    def assigned(self) -> list[ManagedIdentity]:
        with self._lock:
            names = list(self._assigned)
        return [self.entra.identity(name) for name in names]

    def assign(self, name: str) -> ManagedIdentity:
        identity = self.entra.identity(name)
        with self._lock:
            if name not in self._assigned:
                self._assigned.append(name)
        return identity

    def unassign(self, name: str) -> None:
        with self._lock:
            self._assigned.remove(name)
            self._cache = {key: tok for key, tok in self._cache.items() if key[0] != name}

    def flush_cache(self) -> None:
        """Lab only: drop cached tokens (the real endpoints offer no way to force a refresh)."""
        with self._lock:
            self._cache.clear()

    # -- the logic both endpoints share

    def select(self, chosen: Mapping[str, str]) -> ManagedIdentity:
        """The identity a request names (``client_id`` / ``object_id`` / ``resource_id``, any subset) or,
        with none, the resource's default one."""
        wanted = {k: v.strip().lower() for k, v in chosen.items() if k in SELECTORS and v}
        assigned = self.assigned()
        if wanted:
            for identity in assigned:
                values = {"client_id": identity.client_id, "object_id": identity.object_id,
                          "resource_id": identity.resource_id}
                # GUIDs and ARM resource IDs compare case-insensitively in Azure.
                if all(values[k].lower() == v for k, v in wanted.items()):
                    return identity
            raise IdentityUnavailable("not_found")
        system = [i for i in assigned if i.kind == "system"]
        if system:
            return system[0]  # the silent fallback: no selector means "the resource's own identity"
        users = [i for i in assigned if i.kind == "user"]
        if len(users) == 1 and self.single_user_default:
            return users[0]
        raise IdentityUnavailable("ambiguous" if users else "not_found")

    def token(self, identity: ManagedIdentity, resource: str) -> AccessToken:
        """Entra's token for ``identity`` to ``resource``, from the cache while it has 5 minutes left.

        Raises :class:`~.entra.EntraError` when Entra refuses (an unregistered resource).
        """
        now = self.clock()
        key = (identity.name, resource)
        with self._lock:
            token = self._cache.get(key)
            if token is None or token.expires_on - now < REFRESH_MARGIN:
                token = self.entra.mint_access_token(identity, resource, now=now)
                self._cache[key] = token
            return token


class AttendeeHosts:
    """On a shared lab, each attendee's own compute resource: a host carrying the attendee's own identities.

    Without it every attendee of one ``wif-lab mock serve`` would be the same VM (or app) and present the same
    ``oid``, so one attendee's rule pinned to "their" identity would pass everyone's token. ``join`` creates the
    attendee's identities in the tenant (``<attendee>-<name>`` for each of the lab's own, see
    :meth:`~.entra.tenant.TenantAdmin.attendee_identities`) and a host carrying those of the given ``kinds``, or
    finds both: lookup and creation happen under one lock, so two kernels of one attendee get one host.
    """

    def __init__(self, entra: EntraMock, clock: Callable[[], float], *, kinds: tuple[str, ...],
                 single_user_default: bool) -> None:
        self.entra = entra
        self.clock = clock
        self.kinds = kinds
        self.single_user_default = single_user_default
        self._hosts: dict[str, IdentityHost] = {}
        self._lock = threading.Lock()

    def join(self, attendee: str) -> IdentityHost:
        if not ATTENDEE_NAME.fullmatch(attendee):
            raise ValueError("an attendee name: 1 to 32 characters a-z, 0-9 and '-', starting with a letter or digit")
        with self._lock:
            host = self._hosts.get(attendee)
            if host is None:
                own = [mi.name for mi in self.entra.attendee_identities(attendee) if mi.kind in self.kinds]
                host = IdentityHost(self.entra, self.clock, own, single_user_default=self.single_user_default)
                self._hosts[attendee] = host
            return host

    def get(self, attendee: str) -> IdentityHost | None:
        with self._lock:
            return self._hosts.get(attendee)
