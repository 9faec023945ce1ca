"""In-memory state of the mock Anthropic organization.

Records are kept in the exact JSON shape the Admin API returns (``FederationIssuer``,
``FederationRule``, ``ServiceAccount`` …), so the admin routes serialise them as they are and the
rules engine can evaluate the same dicts the notebooks get back from the SDK.
IDs come from a seeded generator: a fresh lab gives the same IDs every run, which keeps notebook
outputs stable.

What grows with traffic is bounded, so a lab that has answered a hundred thousand exchanges costs
what a fresh one does:

- the authentication history keeps the most recent :data:`MAX_EVENTS` attempts (the Console shows
  recent attempts; its retention period is not published, so this is a lab bound, far above the
  1,000 one ``GET /lab/events`` page may return);
- an access token is forgotten once it has expired (it is refused from that moment anyway), and at
  most :data:`MAX_LIVE_TOKENS` unexpired ones are kept: past that, the one closest to its expiry is
  revoked early, and the SDK answers its 401 by exchanging again. Tokens that never expire (the lab
  admin's) are not counted.
"""

from __future__ import annotations

import random
import secrets
import string
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..random_ids import random_chars
from ..replay import ReplayLedger

_ALPHABET = string.digits + string.ascii_letters
ACCESS_TOKEN_PREFIX = "sk-ant-oat01-"
MAX_EVENTS = 10_000
MAX_LIVE_TOKENS = 100_000


def iso(ts: float) -> str:
    """RFC 3339 in UTC with a Z, as the API returns timestamps."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class IdGen:
    """Tagged IDs (``fdis_01…``) from a seeded RNG: deterministic per lab, unique within it."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_01" + "".join(self._rng.choice(_ALPHABET) for _ in range(22))

    def uuid(self) -> str:
        with self._lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def request_id(self) -> str:
        # Request ids are random on purpose: they identify one HTTP exchange, like the real ones.
        return "req_01" + random_chars(_ALPHABET, 22)


@dataclass(slots=True)
class Grant:
    """What an opaque ``sk-ant-oat01-`` access token is bound to (slots: a busy lab holds many)."""

    service_account_id: str
    workspace_id: str | None
    scope: str
    expires_at: float | None
    rule_id: str | None = None

    def scopes(self) -> set[str]:
        return set(self.scope.split())


@dataclass
class AuthEvent:
    """One token-exchange attempt, as the Console's authentication history shows it.

    The response to the caller stays opaque; the reason and detail are only recorded here.
    """

    id: str
    created_at: float
    request_id: str
    outcome: str  # "success" | "denied"
    reason: str | None
    detail: str | None
    http_status: int
    issuer_id: str | None = None
    federation_rule_id: str | None = None
    requested_service_account_id: str | None = None
    workspace_id: str | None = None
    claims: dict[str, Any] | None = None
    jti: str | None = None
    verdicts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "platform_federated_authentication",
            "created_at": iso(self.created_at),
            "request_id": self.request_id,
            "status": {"outcome": self.outcome, "reason": self.reason, "detail": self.detail},
            "http_status": self.http_status,
            "event_data": {
                "issuer_id": self.issuer_id,
                "federation_rule_id": self.federation_rule_id,
                "requested_service_account_id": self.requested_service_account_id,
                "workspace_id": self.workspace_id,
                "oidc_token": {"claims": self.claims, "jti": self.jti},
                "verdicts": self.verdicts,
            },
        }


class Store:
    def __init__(self, *, clock: Callable[[], float], seed: int, org_name: str = "wif-lab",
                 max_events: int = MAX_EVENTS, max_live_tokens: int = MAX_LIVE_TOKENS) -> None:
        self.clock = clock
        self.ids = IdGen(seed)
        self.lock = threading.RLock()
        self.organization_id = self.ids.uuid()
        self.organization_name = org_name
        self.workspaces: dict[str, dict[str, Any]] = {}
        self.issuers: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, dict[str, Any]] = {}
        self.rule_workspaces: dict[str, dict[str, dict[str, Any]]] = {}
        self.service_accounts: dict[str, dict[str, Any]] = {}
        self.sa_workspaces: dict[str, dict[str, dict[str, Any]]] = {}
        self.grants: dict[str, Grant] = {}
        self.max_live_tokens = max_live_tokens
        # (token, expires_at) in the order minted: forgetting the oldest costs the same at 100,000 held as at 10
        # (a heap ordered by expiry cost ~10 µs a mint once full).
        self._grant_order: deque[tuple[str, float]] = deque()
        # (issuer id, jti) of accepted assertions; nothing is forgotten below 10,000 entries, as before.
        self.jti_ledger = ReplayLedger(keep_at_least=10_000)
        self.events: deque[AuthEvent] = deque(maxlen=max_events)  # the oldest fall off the far end
        self.default_workspace_id = self.create_workspace("Default", is_default=True)["id"]

    def now(self) -> float:
        return self.clock()

    def now_iso(self) -> str:
        return iso(self.clock())

    # --- workspaces (lab-side setup; the real ones are made in the Console) -------------------

    def create_workspace(self, name: str, *, is_default: bool = False) -> dict[str, Any]:
        with self.lock:
            ws = {
                "id": self.ids.new("wrkspc"),
                "type": "workspace",
                "name": name,
                "is_default": is_default,
                "created_at": self.now_iso(),
                "archived_at": None,
            }
            self.workspaces[ws["id"]] = ws
            return ws

    def resolve_workspace_ref(self, ref: str) -> str | None:
        """Map ``default`` to the default workspace's id; return None for unknown ids."""
        if ref == "default":
            return self.default_workspace_id
        return ref if ref in self.workspaces else None

    # --- service-account membership ----------------------------------------------------------

    def is_member(self, service_account_id: str, workspace_id: str) -> bool:
        if workspace_id == self.default_workspace_id:
            return True  # every service account is implicitly a member of the default workspace
        return workspace_id in self.sa_workspaces.get(service_account_id, {})

    # --- access tokens -------------------------------------------------------------------------

    def mint_grant(self, grant: Grant) -> str:
        token = ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(48)
        with self.lock:
            self.grants[token] = grant
            if grant.expires_at is not None:
                self._grant_order.append((token, grant.expires_at))
                self._forget_grants(self.clock())
        return token

    def _forget_grants(self, now: float) -> None:
        """Drop the oldest tokens while they have expired or more than the cap are held (caller holds the lock).

        A token minted after a longer-lived one may stay held past its expiry until the older one goes;
        :meth:`grant_for` refuses it all the same. An entry whose token has been dropped or replaced since
        (a test may swap ``grants``) is skipped, so only the grant it was minted for is ever removed.
        """
        order = self._grant_order
        while order and (order[0][1] <= now or len(order) > self.max_live_tokens):
            token, expires_at = order.popleft()
            grant = self.grants.get(token)
            if grant is not None and grant.expires_at == expires_at:
                del self.grants[token]

    def live_token_count(self) -> int:
        """Tokens with an expiry still held (expired ones may linger until the next mint)."""
        with self.lock:
            return len(self._grant_order)

    def grant_for(self, token: str) -> Grant | None:
        with self.lock:
            grant = self.grants.get(token)
            if grant is None:
                return None
            if grant.expires_at is not None and grant.expires_at <= self.clock():
                return None
            account = self.service_accounts.get(grant.service_account_id) or {}
            if account.get("archived_at"):
                return None  # an archived service account's tokens stop working at once
            return grant

    # --- replay protection ---------------------------------------------------------------------

    def use_jti(self, issuer_id: str, jti: str, expires_at: float) -> bool:
        """Record a jti as used; False when it was seen before and has not yet expired.

        An entry is forgotten a minute after ``expires_at`` (when the token can no longer be presented anyway).
        """
        return self.jti_ledger.use((issuer_id, jti), expires_at + 60, self.clock())

    # --- authentication events -------------------------------------------------------------

    def record(self, event: AuthEvent) -> AuthEvent:
        with self.lock:
            self.events.append(event)
        return event
