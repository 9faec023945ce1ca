"""What an Okta admin configures in the Admin Console, as Python objects.

* API Services apps (Applications → Create App Integration → API Services): client id ``0oa…``,
  client authentication (public key / private key, or client secret), "Require DPoP", grant types.
* Custom authorization servers (Security → API → Authorization Servers): audience, Scopes tab,
  Claims tab, Access Policies tab (policies assigned to clients, rules per grant type and scope).

Follows Okta's Applications API (``settings.oauthClient``, ``credentials.oauthClient``) and
Authorization Servers API (``/api/v1/authorizationServers/{id}/scopes|claims|policies``) objects,
trimmed to what client_credentials uses.
"""

from __future__ import annotations

import random
import re
import secrets
import string
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..keys import public_jwk, thumbprint

if TYPE_CHECKING:
    from .service import OktaMock

_ALNUM = string.digits + string.ascii_letters

CLIENT_CREDENTIALS = "client_credentials"
ALL_CLIENTS = None
ANY_SCOPE = None
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
AUTH_METHODS = (*SECRET_METHODS, "client_secret_jwt", "private_key_jwt")
APPS_WITH_SECRETS = (*SECRET_METHODS, "client_secret_jwt")
ASSERTION_ALGS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
HMAC_ASSERTION_ALGS = ("HS256", "HS384", "HS512")  # client_secret_jwt only
MIN_HMAC_SECRET = 32  # characters; a shorter secret cannot verify a client_secret_jwt assertion

# The OIDC scopes every authorization server knows; client_credentials may not ask for them.
OIDC_SCOPES = ("openid", "profile", "email", "address", "phone", "offline_access", "device_sso")
# Grant types Okta's token endpoint knows at all (anything else is unsupported_grant_type).
KNOWN_GRANT_TYPES = (
    "authorization_code",
    "implicit",
    "refresh_token",
    "password",
    CLIENT_CREDENTIALS,
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "urn:ietf:params:oauth:grant-type:saml2-bearer",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:openid:params:grant-type:ciba",
    "interaction_code",
)
# Claims Okta sets itself; the Claims tab refuses these names.
RESERVED_CLAIMS = frozenset(
    {"ver", "jti", "iss", "aud", "iat", "exp", "nbf", "cid", "uid", "scp", "sub", "cnf", "auth_time", "amr", "idp"}
)
MIN_TOKEN_MINUTES, MAX_TOKEN_MINUTES = 5, 24 * 60


class OktaIds:
    """Okta-shaped ids (``0oa`` + 17, ``aus`` + 17 base62 characters), reproducible from the lab seed."""

    def __init__(self, seed: int, namespace: str = "okta") -> None:
        self._rng = random.Random(f"{namespace}:{seed}")
        self._lock = threading.Lock()

    def new(self, prefix: str) -> str:
        with self._lock:
            return prefix + "".join(self._rng.choice(_ALNUM) for _ in range(17))


# --- apps ---------------------------------------------------------------------------------------


@dataclass
class ServiceApp:
    """An API Services app integration (``application_type: service``)."""

    client_id: str
    name: str
    token_endpoint_auth_method: str
    client_secret: str | None = field(default=None, repr=False)
    jwks: list[dict[str, Any]] = field(default_factory=list)
    require_dpop: bool = False
    grant_types: list[str] = field(default_factory=lambda: [CLIENT_CREDENTIALS])
    profile: dict[str, Any] = field(default_factory=dict)
    okta_api_scopes: set[str] = field(default_factory=set)

    @property
    def id(self) -> str:
        # For OIDC apps Okta uses the same value as app id and client id.
        return self.client_id

    def add_public_key(self, jwk: dict[str, Any]) -> str:
        """General → Public Keys → Add key. Returns the key's ``kid`` (Okta assigns one if missing)."""
        if any(k in jwk for k in ("d", "p", "q", "dp", "dq", "qi", "k")):
            raise ValueError("a public JWK only: this JWK carries private key material")
        if jwk.get("kty") not in ("RSA", "EC"):
            raise ValueError("Okta accepts RSA or EC public keys for client authentication")
        jwk = dict(jwk)
        jwk.setdefault("kid", secrets.token_urlsafe(32))
        if any(k["kid"] == jwk["kid"] for k in self.jwks):
            raise ValueError(f"a key with kid {jwk['kid']!r} is already registered on this app")
        self.jwks.append(jwk)
        return str(jwk["kid"])

    def remove_public_key(self, kid: str) -> None:
        self.jwks = [k for k in self.jwks if k.get("kid") != kid]

    def grant_okta_api_scopes(self, *scopes: str) -> None:
        """Okta API Scopes tab → Grant: management scopes the org authorization server may issue."""
        self.okta_api_scopes.update(scopes)


def jwk_with_kid(key: Any) -> dict[str, Any]:
    """The public JWK of a private key, with the RFC 7638 thumbprint as ``kid`` (as Okta shows it).

    Only the members Okta publishes: ``kty, alg, kid, use`` and the key itself (no ``key_ops``).
    """
    jwk = public_jwk(key, thumbprint(key))
    jwk.pop("key_ops", None)
    return jwk


# --- authorization server parts -----------------------------------------------------------------


@dataclass
class Scope:
    name: str
    description: str = ""
    default: bool = False
    discoverable: bool = False  # "Include in public metadata"
    consent: str = "IMPLICIT"  # "REQUIRED": a user must consent, so client_credentials cannot get it
    id: str = ""  # scp…, given by the Management API when it first shows the scope


@dataclass
class PolicyRule:
    """Access Policies → Add rule: IF grant type is … AND scopes requested … THEN token lifetime …"""

    name: str
    grant_types: list[str]
    scopes: list[str] | None  # None: "Any scopes"
    access_token_lifetime_minutes: int = 60
    id: str = ""  # 0pr…, given by the Management API when it first shows the rule

    def matches(self, grant_type: str, requested: list[str]) -> bool:
        # A rule that lists scopes does not match a request for any scope outside the list.
        if grant_type not in self.grant_types:
            return False
        return self.scopes is ANY_SCOPE or set(requested) <= set(self.scopes)


@dataclass
class AccessPolicy:
    """Access Policies → Add New Access Policy, "Assign to": all clients or the listed ones."""

    name: str
    clients: list[str] | None  # None: "All clients"
    rules: list[PolicyRule] = field(default_factory=list)
    description: str = ""
    id: str = ""  # 00p…, given by the Management API when it first shows the policy

    def applies_to(self, client_id: str) -> bool:
        return self.clients is ALL_CLIENTS or client_id in self.clients


_EL_TERM = re.compile(r"""\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<ref>app\.[A-Za-z0-9_.$]+))\s*""")


@dataclass
class Claim:
    """Claims → Add Claim (token type Access Token, value type Expression).

    ``value`` is a small subset of Okta Expression Language: string literals in quotes,
    ``app.clientId`` / ``app.id`` / ``app.label`` / ``app.profile.<attribute>``, joined with ``+``.
    """

    name: str
    value: str
    scopes: list[str] | None = None  # None: include in any scope

    def __post_init__(self) -> None:
        if self.name in RESERVED_CLAIMS:
            raise ValueError(f"{self.name!r} is a reserved claim name; Okta sets it itself")
        self._terms = _parse_expression(self.value)

    def evaluate(self, app: ServiceApp) -> Any:
        """The claim's value for ``app``; None (claim left out) when an attribute is missing."""
        parts: list[Any] = []
        for kind, text in self._terms:
            if kind == "literal":
                parts.append(text)
                continue
            path = text.split(".")[1:]
            if path == ["clientId"] or path == ["id"]:
                value: Any = app.client_id
            elif path == ["label"]:
                value = app.name
            elif path[0] == "profile" and len(path) == 2:
                value = app.profile.get(path[1])
            else:  # pragma: no cover - rejected at parse time
                value = None
            if value is None:
                return None
            parts.append(value)
        if len(parts) == 1:
            return parts[0]
        return "".join(str(p) for p in parts)


def _parse_expression(expr: str) -> list[tuple[str, str]]:
    terms: list[tuple[str, str]] = []
    for chunk in _split_plus(expr):
        m = _EL_TERM.fullmatch(chunk)
        if not m:
            raise ValueError(f"unsupported expression {chunk.strip()!r}: use \"text\", app.clientId, app.profile.x")
        if m.group("ref"):
            path = m.group("ref").split(".")[1:]
            if not (path in (["clientId"], ["id"], ["label"]) or (len(path) == 2 and path[0] == "profile")):
                raise ValueError(f"unknown app attribute {m.group('ref')!r}")
            terms.append(("ref", m.group("ref")))
        else:
            terms.append(("literal", m.group("dq") if m.group("dq") is not None else m.group("sq")))
    return terms


def _split_plus(expr: str) -> list[str]:
    parts, current, quote = [], "", ""
    for ch in expr:
        if quote:
            current += ch
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            current += ch
        elif ch == "+":
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def _client_ids(clients: Iterable[ServiceApp | str] | None) -> list[str] | None:
    if clients is None:
        return None
    return [c.client_id if isinstance(c, ServiceApp) else str(c) for c in clients]


class AuthorizationServer:
    """A custom authorization server: ``<org>/oauth2/<id>`` with its own keys, scopes, claims, policies."""

    def __init__(self, org: OktaMock, server_id: str, name: str, audience: str, description: str = "") -> None:
        self.org = org
        self.id = server_id
        self.name = name
        self.description = description
        self.audiences = [audience]
        self.issuer = f"{org.org_url}/oauth2/{server_id}"
        self.scopes: dict[str, Scope] = {}
        self.claims: dict[str, Claim] = {}
        self.policies: list[AccessPolicy] = []
        self._key_names = [f"okta-as-{server_id}-1"]
        org.ctx.keys.private_key(self._key_names[0])

    def __repr__(self) -> str:
        return f"AuthorizationServer(id={self.id!r}, issuer={self.issuer!r}, audience={self.audience!r})"

    # URLs ------------------------------------------------------------------------------------
    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/v1/token"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/v1/keys"

    @property
    def audience(self) -> str:
        return self.audiences[0]

    # Settings tab ------------------------------------------------------------------------------
    def set_audience(self, audience: str) -> None:
        """Settings → Edit → Audience: the ``aud`` of every access token this server issues."""
        self.audiences = [audience]

    # Scopes tab --------------------------------------------------------------------------------
    def add_scope(
        self, name: str, *, description: str = "", default: bool = False, discoverable: bool = False
    ) -> Scope:
        """Scopes → Add Scope. ``default``: issued when a request names no scope."""
        if name in OIDC_SCOPES:
            raise ValueError(f"{name!r} is a system scope and exists already")
        scope = Scope(name, description, default, discoverable)
        self.scopes[name] = scope
        return scope

    def remove_scope(self, name: str) -> None:
        self.scopes.pop(name, None)

    # Claims tab --------------------------------------------------------------------------------
    def add_claim(self, name: str, value: str, *, scopes: Iterable[str] | None = None) -> Claim:
        """Claims → Add Claim: an access-token claim whose value is an Okta expression."""
        claim = Claim(name, value, list(scopes) if scopes is not None else None)
        self.claims[name] = claim
        return claim

    def remove_claim(self, name: str) -> None:
        self.claims.pop(name, None)

    # Access Policies tab -----------------------------------------------------------------------
    def add_policy(
        self, name: str, *, clients: Iterable[ServiceApp | str] | None = None, description: str = ""
    ) -> AccessPolicy:
        """Access Policies → Add New Access Policy; ``clients=None`` assigns it to all clients."""
        if self.policy(name) is not None:
            raise ValueError(f"a policy named {name!r} exists already")
        policy = AccessPolicy(name, _client_ids(clients), description=description)
        self.policies.append(policy)
        return policy

    def policy(self, name: str) -> AccessPolicy | None:
        return next((p for p in self.policies if p.name == name), None)

    def add_policy_rule(
        self,
        policy: str,
        *,
        name: str | None = None,
        clients: Iterable[ServiceApp | str] | None = None,
        scopes: Iterable[str] | None = ANY_SCOPE,
        grant_types: Iterable[str] = (CLIENT_CREDENTIALS,),
        access_token_lifetime_minutes: int = 60,
    ) -> PolicyRule:
        """Access Policies → (policy) → Add rule.

        The policy is created when it does not exist, assigned to ``clients`` (all clients when
        None); for an existing policy ``clients`` are added to its assignment.
        ``scopes=None`` is "Any scopes"; otherwise the rule matches only requests within the list.
        """
        if not MIN_TOKEN_MINUTES <= access_token_lifetime_minutes <= MAX_TOKEN_MINUTES:
            raise ValueError("Okta allows access token lifetimes from 5 minutes to 1 day")
        found = self.policy(policy)
        if found is None:
            found = self.add_policy(policy, clients=clients)
        elif clients is not None and found.clients is not None:
            for cid in _client_ids(clients) or []:
                if cid not in found.clients:
                    found.clients.append(cid)
        rule = PolicyRule(
            name or f"Rule {len(found.rules) + 1}",
            list(grant_types),
            list(scopes) if scopes is not None else None,
            access_token_lifetime_minutes,
        )
        found.rules.append(rule)
        return rule

    def remove_policy(self, name: str) -> None:
        self.policies = [p for p in self.policies if p.name != name]

    # Signing keys ------------------------------------------------------------------------------
    @property
    def signing_key(self) -> Any:
        return self.org.ctx.keys.private_key(self._key_names[-1])

    @property
    def kid(self) -> str:
        return thumbprint(self.signing_key)

    def rotate_keys(self) -> str:
        """Signing Keys → Rotate: a new key signs from now on; the old one stays published."""
        self._key_names.append(f"okta-as-{self.id}-{len(self._key_names) + 1}")
        return self.kid

    def jwks(self) -> dict[str, Any]:
        keys = [jwk_with_kid(self.org.ctx.keys.private_key(name)) for name in reversed(self._key_names)]
        return {"keys": keys}
