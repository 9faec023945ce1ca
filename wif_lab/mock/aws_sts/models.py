"""The AWS account behind the mock STS: its roles, the sessions that sign requests, the account's
outbound-federation switch, and the web identity tokens STS mints for a session (moto's ``models``).

Follows the IAM User Guide's "outbound identity federation" pages and the STS API reference for
``GetWebIdentityToken`` as recorded in ``shared/reference/providers.md`` §3:

- outbound federation is **off** until the account enables it (``iam:EnableOutboundWebIdentityFederation``);
  the account then has one issuer, ``https://<uuid>.tokens.sts.global.api.aws``, that serves
  ``/.well-known/openid-configuration`` and ``/.well-known/jwks.json``;
- a token: header ``alg`` (``RS256`` or ``ES384``, as asked), ``kid``, ``typ``; claims ``iss``, ``aud`` (the
  audience asked for), ``sub`` = the **role ARN** (not the assumed-role session ARN), ``iat``, ``exp``
  (``iat`` + ``DurationSeconds``), ``jti``, and the object ``https://sts.amazonaws.com/`` with
  ``aws_account``, ``source_region``, ``org_id``, ``ou_path``, ``principal_id`` (the caller: the role ARN)
  and ``request_tags`` (the ``Tags`` asked for, when any);
- a session cannot mint a token that outlives it.

Lab deviations: the issuer is ``<base URL>/<uuid>.tokens.sts.global.api.aws`` (the real host name becomes a
path segment on the lab's host); [inferred] ``typ`` is ``JWT``, ``aud`` is a string for one audience and an
array for several, there is no ``nbf``, the ``kid`` is the key's RFC 7638 thumbprint, and a token payload
above :data:`MAX_PAYLOAD_BYTES` is refused (AWS documents the error, not the limit). Only role sessions
sign requests (no IAM users); ``POST /lab/sessions`` hands out new session credentials, standing in for
the instance profile / Lambda / ECS credential provider.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import string
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt

from ..base import LabContext, seeded_guid
from ..keys import PrivateKey, public_jwk, thumbprint
from . import errors
from .sigv4 import SigningKey

REGION = "us-east-1"
ISSUER_SUFFIX = ".tokens.sts.global.api.aws"
CLAIMS_NAMESPACE = "https://sts.amazonaws.com/"
ALGORITHMS = {"RS256": ("aws-sts-rs256", "rsa"), "ES384": ("aws-sts-es384", "ec-p384")}  # alg → (key name, kind)
DURATION_RANGE = (60, 3600)
DEFAULT_DURATION = 300
MAX_PAYLOAD_BYTES = 8192  # [inferred]
SESSION_RANGE = (900, 43200)  # what a role session may last (15 min to the 12 h maximum)
DEFAULT_SESSION_SECONDS = 43200
DEFAULT_ROLE = "inference-worker"  # the Claude page's role
ROLES = (DEFAULT_ROLE, "inference-worker-staging", "batch-reporting")
_UPPER = string.ascii_uppercase + "234567"
_SECRET = string.ascii_letters + string.digits + "+/"


@dataclass(frozen=True)
class Role:
    account_id: str
    name: str
    role_id: str  # AROA…, what an assumed-role session's UserId starts with

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{self.name}"


@dataclass(frozen=True, repr=False)
class Session:
    """Temporary credentials of one role session (what ``AWS_ACCESS_KEY_ID`` & co. hold on Lambda)."""

    role: Role
    name: str
    key: SigningKey

    @property
    def arn(self) -> str:
        return f"arn:aws:sts::{self.role.account_id}:assumed-role/{self.role.name}/{self.name}"

    @property
    def expires_at(self) -> float:
        assert self.key.expires_at is not None
        return self.key.expires_at

    def __repr__(self) -> str:
        return f"Session({self.arn!r}, access_key_id={self.key.access_key_id!r})"


@dataclass
class Account:
    """One AWS account: its roles and sessions, its outbound-federation switch and its issuer."""

    ctx: LabContext
    base_url: str
    region: str = REGION
    account_id: str = ""
    org_id: str = ""
    ou_path: str = ""
    federation_enabled: bool = False
    roles: dict[str, Role] = field(default_factory=dict)
    _sessions: dict[str, Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        rng = random.Random(f"{self.ctx.seed}:aws")
        self._rng = rng
        self.account_id = self.account_id or str(rng.randrange(10**11, 10**12))
        self.issuer_id = seeded_guid(self.ctx.seed, f"aws:{self.account_id}:issuer")
        org = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(10))
        self.org_id = self.org_id or f"o-{org}"
        root = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(4))
        unit = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(8))
        self.ou_path = self.ou_path or f"{self.org_id}/r-{root}/ou-{root}-{unit}/"
        for name in ROLES:
            self.roles[name] = Role(self.account_id, name, "AROA" + "".join(rng.choice(_UPPER) for _ in range(17)))
        for alg in ALGORITHMS:  # generated (or loaded) now, not on the first request
            self._key(alg)

    # -- the issuer

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/{self.issuer_id}{ISSUER_SUFFIX}"

    def _key(self, alg: str) -> PrivateKey:
        name, kind = ALGORITHMS[alg]
        return self.ctx.keys.private_key(name, kind)

    def kid(self, alg: str) -> str:
        return thumbprint(self._key(alg))

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(ALGORITHMS),
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self._key(alg), self.kid(alg), alg) for alg in ALGORITHMS]}

    def set_federation(self, enabled: bool) -> None:
        with self._lock:
            self.federation_enabled = enabled

    # -- sessions (what the credential provider of an instance, function or task hands out)

    def new_session(self, role: str = DEFAULT_ROLE, *, seconds: int = DEFAULT_SESSION_SECONDS,
                    name: str | None = None, rng: random.Random | None = None) -> Session:
        low, high = SESSION_RANGE
        if role not in self.roles:
            raise KeyError(role)
        if not low <= seconds <= high:
            raise ValueError(f"a role session lasts {low} to {high} seconds")
        pick = rng or secrets.SystemRandom()
        access_key = "ASIA" + "".join(pick.choice(_UPPER) for _ in range(16))
        secret = "".join(pick.choice(_SECRET) for _ in range(40))
        token = base64.b64encode(bytes(pick.getrandbits(8) for _ in range(180))).decode()
        session = Session(self.roles[role], name or f"i-{pick.getrandbits(64):016x}"[:19],
                          SigningKey(access_key, secret, token, self.ctx.clock() + seconds))
        with self._lock:
            self._sessions[access_key] = session
        return session

    def signing_key(self, access_key_id: str) -> SigningKey | None:
        with self._lock:
            session = self._sessions.get(access_key_id)
        return session.key if session else None

    def session(self, access_key_id: str) -> Session:
        with self._lock:
            return self._sessions[access_key_id]

    # -- GetWebIdentityToken

    def web_identity_token(self, session: Session, *, audience: list[str], algorithm: str, duration: int,
                           tags: list[tuple[str, str]]) -> tuple[str, int]:
        """The signed token and its ``exp``; raises the operation's own errors (validation is the caller's)."""
        if not self.federation_enabled:
            raise errors.OutboundWebIdentityFederationDisabled(errors.FEDERATION_DISABLED)
        now = int(self.ctx.clock())
        left = int(session.expires_at - now)
        if duration > left:
            raise errors.SessionDurationEscalation(errors.DURATION_ESCALATION.format(requested=duration, left=left))
        context: dict[str, Any] = {
            "aws_account": self.account_id,
            "source_region": self.region,
            "org_id": self.org_id,
            "ou_path": self.ou_path,
            "principal_id": session.role.arn,
        }
        if tags:
            context["request_tags"] = dict(tags)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": audience[0] if len(audience) == 1 else list(audience),
            "sub": session.role.arn,
            "iat": now,
            "exp": now + duration,
            "jti": str(uuid.uuid4()),
            CLAIMS_NAMESPACE: context,
        }
        size = len(json.dumps(claims, separators=(",", ":")).encode())
        if size > MAX_PAYLOAD_BYTES:
            raise errors.JWTPayloadSizeExceeded(errors.PAYLOAD_TOO_LARGE.format(size=size, limit=MAX_PAYLOAD_BYTES))
        token = jwt.encode(claims, self._key(algorithm), algorithm=algorithm,
                           headers={"kid": self.kid(algorithm), "typ": "JWT"})
        return token, now + duration
