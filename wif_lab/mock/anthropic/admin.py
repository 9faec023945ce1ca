"""The Admin API for workload identity federation: issuers, rules, service accounts, memberships.

Follows platform.claude.com "Manage WIF via API" (wif-admin-api) and wif-reference, and the
docstrings of the ``anthropic`` 2.10 SDK resources ``organization.federation.{issuers,rules}``,
``organization.service_accounts`` and ``organization.workspaces``. Every route needs an OAuth
bearer token whose scope includes ``org:admin`` (Admin API keys are refused); updates are POST to
the resource path, archive is ``POST …/archive`` with an empty body, lists page with an opaque
``page`` cursor and answer ``{"data": [...], "next_page": cursor|null}``.

Records live in the store in exactly the JSON shape returned here, so the token endpoint and
``wif_lab.rules.evaluate`` read the same dicts a notebook gets back from the SDK.

Where the lab departs from the real service, on purpose:

- URL rules (wif-reference "URL validation"): a URL Anthropic dials (``issuer_url`` in discovery
  mode without ``discovery_base``, ``jwks.discovery_base``, ``jwks.url``) must be https on port 443
  with a public DNS host. The lab waives the port and public-host parts for the loopback hosts
  ``127.0.0.1``, ``localhost`` and ``[::1]`` only, because the lab's issuers listen on loopback
  ports. "Public" is judged by syntax (no IP literal, a dotted name outside private suffixes such as
  ``.local`` / ``.internal``); nothing is resolved. ``issuer_url`` must be https in every mode.
- Every HTTP caller is an OAuth caller, so rules with a scope other than ``workspace:developer`` /
  ``workspace:inference`` get 403 here, as without a Console session. :class:`FederationAdmin`
  takes a :class:`Caller` with ``console=True`` for lab set-up code that plays the Console.
- The lab admin's token (no federation rule behind it) counts as an interactive credential, so it
  may create ``admin``-role service accounts; a federated token may not.

Decisions where the references are silent:

- Names are unique per resource type among live records; archiving frees a name (archive is the
  only way to retire a record, and "create a new one instead" is the documented advice).
- A reference to an unknown or archived object *in the request body* is 400
  ``invalid_request_error``; an unknown id *in the path* is 404 ``not_found_error``.
- Lists are newest first (documented for service accounts, applied to issuers and rules too).
- A rule's legacy ``workspace_id`` mirrors the enablement made by create/update ``workspace_id``
  and is cleared when that enablement is removed, so removing it really stops exchanges there.
- ``GET /v1/organizations/workspaces`` leaves the default workspace out unless
  ``include_default=true``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import ipaddress
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import jwt
from cryptography import x509
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ...rules import MATCH_FIELDS, validate_match
from .http import api_error, bearer_grant, json_body, ok
from .token import ALLOWED_ALGORITHMS

if TYPE_CHECKING:
    from .service import AnthropicMock
    from .store import Store

ADMIN_SCOPE = "org:admin"
OAUTH_MANAGEABLE_SCOPES = frozenset({"workspace:developer", "workspace:inference"})
# wif-reference and wif-admin-api spell the tunnels scope differently; both are accepted.
KNOWN_SCOPES = OAUTH_MANAGEABLE_SCOPES | {"org:admin", "org:manage_tunnels", "workspace:manage_tunnels"}
SERVICE_ACCOUNT_ROLES = ("admin", "developer")
WORKSPACE_ROLES = ("workspace_admin", "workspace_developer", "workspace_restricted_developer", "workspace_user")
JWK_ALGORITHMS = frozenset(ALLOWED_ALGORITHMS)  # a published key must be usable for an accepted JWT
JWK_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")

NAME_PATTERN = re.compile(r"[a-z0-9-]+")
NAME_MAX = 255
MAX_JWT_LIFETIME = (1, 176_400)
TOKEN_LIFETIME = (60, 86_400)
PAGE_LIMIT = (1, 100)
WORKSPACE_PAGE_LIMIT = (1, 1000)
DEFAULT_LIMIT = 20
DEFAULT_LIFETIME = 3600

T = TypeVar("T")

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
PRIVATE_DNS_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home.arpa", ".localdomain")


class AdminError(Exception):
    """A refusal with the status and ``error.type`` the real Admin API answers with."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def bad_request(message: str) -> AdminError:
    return AdminError(400, "invalid_request_error", message)


def not_found(kind: str, object_id: str) -> AdminError:
    return AdminError(404, "not_found_error", f"{kind} {object_id!r} not found")


def conflict(kind: str, name: str) -> AdminError:
    # 409 goes out with x-should-retry: false (http.api_error), so the SDK does not repeat it.
    return AdminError(409, "conflict_error", f"name: a {kind} named {name!r} already exists")


def console_only(what: str) -> AdminError:
    return AdminError(
        403,
        "permission_error",
        f"{what} requires a Console session; OAuth callers may only manage rules whose oauth_scope is "
        "workspace:developer or workspace:inference",
    )


@dataclass(frozen=True)
class Caller:
    """Who is calling: the actor recorded on writes, and which carve-outs apply to them."""

    actor_id: str | None
    interactive: bool = False  # a user OAuth token / Console session rather than a workload
    console: bool = False  # a Console session: may manage rules of any scope


# --- request-body checks: one clear, field-prefixed message per refusal --------------------------


def _fields(body: dict[str, Any], allowed: Iterable[str], required: Iterable[str] = (), *, prefix: str = "") -> None:
    """Refuse unknown members and missing (or null) required ones; ``prefix`` names a nested object."""
    allowed = set(allowed) | set(required)
    for key in body:
        if key not in allowed:
            raise bad_request(f"{prefix}{key}: extra inputs are not permitted")
    for key in required:
        if body.get(key) is None:
            raise bad_request(f"{prefix}{key}: field required")


def _optional(body: dict[str, Any], key: str, parse: Callable[[Any, str], T], default: T) -> T:
    """An optional member: omitted and null both mean the default (or "leave unchanged" on update)."""
    value = body.get(key)
    return default if value is None else parse(value, key)


def _string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise bad_request(f"{field}: must be a string")
    return value


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise bad_request(f"{field}: must be a boolean")
    return value


def _integer(value: Any, field: str, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if type(value) is not int or not low <= value <= high:
        raise bad_request(f"{field}: must be an integer from {low} to {high}")
    return value


def _bounded(bounds: tuple[int, int]) -> Callable[[Any, str], int]:
    return lambda value, field: _integer(value, field, bounds)


def _name(value: Any, field: str = "name") -> str:
    name = _string(value, field)
    if not 1 <= len(name) <= NAME_MAX:
        raise bad_request(f"{field}: must be 1 to {NAME_MAX} characters")
    if not NAME_PATTERN.fullmatch(name):
        raise bad_request(f"{field}: must contain only lowercase letters, digits and hyphens (^[a-z0-9-]+$)")
    return name


def check_url(value: Any, field: str, *, dialed: bool) -> str:
    """Apply wif-reference's URL rules; the stricter ones only to a URL Anthropic would dial."""
    url = _string(value, field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise bad_request(f"{field}: not a valid URL ({exc})") from exc
    if parts.scheme != "https":
        raise bad_request(f"{field}: url must use https scheme")
    host = parts.hostname
    if not host:
        raise bad_request(f"{field}: url must include a host")
    if parts.username is not None or parts.password is not None:
        raise bad_request(f"{field}: url must not contain credentials")
    if parts.fragment:
        raise bad_request(f"{field}: url must not contain a fragment")
    if not dialed or host in LOOPBACK_HOSTS:
        return url
    if port not in (None, 443):
        raise bad_request(f"{field}: url must use port 443")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise bad_request(f"{field}: url host must be a public DNS name, not an IP address")
    if "." not in host.strip(".") or host.endswith(PRIVATE_DNS_SUFFIXES):
        raise bad_request(f"{field}: url host must be a public DNS name")
    return url


def _ca_cert(value: Any, field: str) -> str | None:
    if value is None:
        return None
    pem = _string(value, field)
    try:
        x509.load_pem_x509_certificates(pem.encode())
    except ValueError as exc:
        raise bad_request(f"{field}: must be one or more PEM-encoded X.509 certificates") from exc
    return pem


def _jwk(key: Any, field: str) -> dict[str, Any]:
    if not isinstance(key, dict):
        raise bad_request(f"{field}: must be a JWK object")
    if "keys" in key:
        raise bad_request(f'{field}: is a whole JWKS document; pass its keys array, not the {{"keys": [...]}} wrapper')
    kty = key.get("kty")
    if kty == "oct":
        raise bad_request(f"{field}.kty: symmetric keys (oct) are not accepted; publish an RSA or EC public key")
    if kty not in ("RSA", "EC"):
        raise bad_request(f"{field}.kty: must be RSA or EC")
    private = [member for member in JWK_PRIVATE_MEMBERS if member in key]
    if private:
        raise bad_request(f"{field}: contains private key material ({', '.join(private)}); publish only the public key")
    alg = key.get("alg")
    if alg is not None and alg not in JWK_ALGORITHMS:
        raise bad_request(f"{field}.alg: must be one of {', '.join(sorted(JWK_ALGORITHMS))}")
    try:
        jwt.PyJWK(key)
    except jwt.PyJWTError as exc:
        raise bad_request(f"{field}: not a valid {kty} public key ({exc})") from exc
    return key


def parse_jwks(value: Any) -> dict[str, Any]:
    """The ``jwks`` union (discovery | explicit_url | inline), with every nullable member present."""
    if not isinstance(value, dict):
        raise bad_request("jwks: must be an object with a type")
    kind = value.get("type")
    if kind == "discovery":
        _fields(value, {"type", "discovery_base", "ca_cert_pem"}, prefix="jwks.")
        base = value.get("discovery_base")
        return {
            "type": "discovery",
            "ca_cert_pem": _ca_cert(value.get("ca_cert_pem"), "jwks.ca_cert_pem"),
            "discovery_base": None if base is None else _string(base, "jwks.discovery_base"),
        }
    if kind == "explicit_url":
        _fields(value, {"type", "ca_cert_pem"}, ("url",), prefix="jwks.")
        return {
            "type": "explicit_url",
            "url": _string(value["url"], "jwks.url"),
            "ca_cert_pem": _ca_cert(value.get("ca_cert_pem"), "jwks.ca_cert_pem"),
        }
    if kind == "inline":
        _fields(value, {"type", "keys"}, prefix="jwks.")
        keys = value.get("keys")
        if isinstance(keys, dict):
            raise bad_request('jwks.keys: must be the array of JWKs, not the {"keys": [...]} wrapper')
        if not isinstance(keys, list) or not keys:
            raise bad_request("jwks.keys: must be a non-empty array of JWK objects")
        return {"type": "inline", "keys": [_jwk(key, f"jwks.keys[{i}]") for i, key in enumerate(keys)]}
    if kind is None:
        raise bad_request("jwks.type: field required")
    raise bad_request("jwks.type: must be one of discovery, explicit_url, inline")


def check_issuer_urls(issuer_url: Any, jwks: dict[str, Any]) -> str:
    """Validate ``issuer_url`` and the JWKS URLs together: which of them is dialed depends on the mode."""
    base = jwks.get("discovery_base")
    dialed = jwks["type"] == "discovery" and base is None
    url = check_url(issuer_url, "issuer_url", dialed=dialed)
    if base is not None:
        check_url(base, "jwks.discovery_base", dialed=True)
    if jwks["type"] == "explicit_url":
        check_url(jwks["url"], "jwks.url", dialed=True)
    return url


def parse_scope(value: Any) -> str:
    scope = _string(value, "oauth_scope")
    scopes: list[str] = []
    for item in scope.split():
        if item not in KNOWN_SCOPES:
            raise bad_request(
                f"oauth_scope: unknown scope {item!r}; known scopes are {', '.join(sorted(KNOWN_SCOPES))}"
            )
        if item not in scopes:
            scopes.append(item)
    if not scopes:
        raise bad_request("oauth_scope: at least one scope is required")
    return " ".join(scopes)


def needs_console(scope: str) -> bool:
    return any(item not in OAUTH_MANAGEABLE_SCOPES for item in scope.split())


def parse_match(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request("match: must be an object")
    problems = validate_match(value)
    if problems:
        raise bad_request("; ".join(problems))
    # Every matcher present, unset ones as null: the shape the API returns and SDK models dump.
    return {field: copy.deepcopy(value.get(field)) for field in MATCH_FIELDS}


def parse_target(value: Any) -> str:
    if not isinstance(value, dict):
        raise bad_request("target: must be an object")
    # service_account_name is read-only ("ignored on writes"): accepted and dropped.
    _fields(value, {"service_account_name"}, ("type", "service_account_id"), prefix="target.")
    if value["type"] != "service_account":
        raise bad_request("target.type: must be 'service_account'")
    return _string(value["service_account_id"], "target.service_account_id")


# --- paging ------------------------------------------------------------------------------------


def _cursor(kind: str, position: int | str) -> str:
    """An opaque ``next_page`` value: which list it belongs to and where the last page ended."""
    raw = json.dumps([kind, position], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_value(kind: str, token: str) -> Any:
    """Decode a cursor of this list's kind; anything else is a 400 (never a 5xx)."""
    try:
        found_kind, value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError) as exc:
        raise bad_request("page: not a pagination cursor from this list") from exc
    if found_kind != kind:
        raise bad_request("page: not a pagination cursor from this list")
    return value


@dataclass(frozen=True)
class ListQuery:
    include_archived: bool
    limit: int
    page: str | None


def _query_bool(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if raw not in ("true", "false"):
        raise bad_request(f"{name}: must be true or false")
    return raw == "true"


def _query_limit(request: Request, bounds: tuple[int, int]) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        return _integer(int(raw), "limit", bounds)
    except ValueError as exc:
        raise bad_request(f"limit: must be an integer from {bounds[0]} to {bounds[1]}") from exc


def list_query(request: Request) -> ListQuery:
    page = request.query_params.get("page") or None
    return ListQuery(_query_bool(request, "include_archived"), _query_limit(request, PAGE_LIMIT), page)


def cursor_page(
    kind: str, records: dict[str, dict[str, Any]], query: ListQuery, keep: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Newest first. Records are never deleted, so a record's insertion position is a stable cursor."""
    rows = [
        (position, record)
        for position, record in enumerate(records.values())
        if keep(record) and (query.include_archived or record.get("archived_at") is None)
    ]
    rows.reverse()
    if query.page is not None:
        after = _cursor_value(kind, query.page)
        if type(after) is not int:
            raise bad_request("page: not a pagination cursor from this list")
        rows = [row for row in rows if row[0] < after]
    chunk = rows[: query.limit]
    next_page = _cursor(kind, chunk[-1][0]) if len(rows) > query.limit else None
    return {"data": [copy.deepcopy(record) for _, record in chunk], "next_page": next_page}


# --- the operations, independent of HTTP -------------------------------------------------------


class FederationAdmin:
    """What the Admin API does to the store; endpoints and lab set-up code both call this."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ----- lookups

    def _issuer(self, issuer_id: str) -> dict[str, Any]:
        issuer = self.store.issuers.get(issuer_id)
        if issuer is None:
            raise not_found("federation issuer", issuer_id)
        return issuer

    def _rule(self, rule_id: str) -> dict[str, Any]:
        rule = self.store.rules.get(rule_id)
        if rule is None:
            raise not_found("federation rule", rule_id)
        return rule

    def _service_account(self, sa_id: str) -> dict[str, Any]:
        sa = self.store.service_accounts.get(sa_id)
        if sa is None:
            raise not_found("service account", sa_id)
        return sa

    def _workspace_in_path(self, ref: str) -> dict[str, Any]:
        ws_id = self.store.resolve_workspace_ref(ref)
        if ws_id is None:
            raise not_found("workspace", ref)
        return self.store.workspaces[ws_id]

    def _workspace_in_body(self, ref: Any, field: str = "workspace_id", *, allow_default: bool = True) -> str:
        ref = _string(ref, field)
        if allow_default:  # the literal "default" names the org's default workspace
            ws_id = self.store.resolve_workspace_ref(ref)
        else:
            ws_id = ref if ref in self.store.workspaces else None
        if ws_id is None:
            raise bad_request(f"{field}: workspace {ref!r} does not exist in this organization")
        if self.store.workspaces[ws_id].get("archived_at"):
            raise bad_request(f"{field}: workspace {ref!r} is archived")
        return ws_id

    def _live_target(self, sa_id: str) -> dict[str, Any]:
        sa = self.store.service_accounts.get(sa_id)
        if sa is None:
            raise bad_request(f"target.service_account_id: service account {sa_id!r} does not exist")
        if sa.get("archived_at"):
            raise bad_request(f"target.service_account_id: service account {sa_id!r} is archived")
        return sa

    def _name_taken(self, records: dict[str, dict[str, Any]], name: str, *, other_than: str | None = None) -> bool:
        return any(
            r["name"] == name and r.get("archived_at") is None and r["id"] != other_than for r in records.values()
        )

    def _live_rules(self, key: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [r for r in self.store.rules.values() if r.get("archived_at") is None and key(r)]

    # ----- issuers

    def create_issuer(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        _fields(body, {"issuer_url", "name", "check_jti", "jwks", "max_jwt_lifetime_seconds"}, ("issuer_url", "name"))
        name = _name(body["name"])
        jwks = parse_jwks(body["jwks"] if body.get("jwks") is not None else {"type": "discovery"})
        issuer_url = check_issuer_urls(body["issuer_url"], jwks)
        check_jti = _optional(body, "check_jti", _boolean, True)
        lifetime = _optional(body, "max_jwt_lifetime_seconds", _bounded(MAX_JWT_LIFETIME), DEFAULT_LIFETIME)
        with self.store.lock:
            if self._name_taken(self.store.issuers, name):
                raise conflict("federation issuer", name)
            now = self.store.now_iso()
            issuer = {
                "id": self.store.ids.new("fdis"),
                "type": "federation_issuer",
                "name": name,
                "issuer_url": issuer_url,
                "jwks": jwks,
                "check_jti": check_jti,
                "max_jwt_lifetime_seconds": lifetime,
                "archived_at": None,
                "archived_by_actor_id": None,
                "created_at": now,
                "created_by_actor_id": caller.actor_id,
                "updated_at": now,
                "updated_by_actor_id": caller.actor_id,
                "jwks_polling_disabled_at": None,
                "poll_status": None,
            }
            self.store.issuers[issuer["id"]] = issuer
            return copy.deepcopy(issuer)

    def get_issuer(self, issuer_id: str) -> dict[str, Any]:
        with self.store.lock:
            return copy.deepcopy(self._issuer(issuer_id))

    def list_issuers(self, query: ListQuery) -> dict[str, Any]:
        with self.store.lock:
            return cursor_page("fdis", self.store.issuers, query, lambda _: True)

    def update_issuer(self, issuer_id: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        _fields(body, {"check_jti", "issuer_url", "jwks", "jwks_polling_disabled", "max_jwt_lifetime_seconds", "name"})
        with self.store.lock:
            issuer = self._issuer(issuer_id)
            if issuer.get("archived_at"):
                raise bad_request(
                    f"federation issuer {issuer_id!r} is archived and cannot be updated; create a new issuer instead"
                )
            parsed = {
                "name": _optional(body, "name", _name, None),
                "jwks": _optional(body, "jwks", lambda value, _: parse_jwks(value), None),
                "check_jti": _optional(body, "check_jti", _boolean, None),
                "max_jwt_lifetime_seconds": _optional(
                    body, "max_jwt_lifetime_seconds", _bounded(MAX_JWT_LIFETIME), None
                ),
            }
            changes = {key: value for key, value in parsed.items() if value is not None}
            if body.get("issuer_url") is not None or "jwks" in changes:
                # Which URLs are dialed depends on the JWKS mode, so check the result as a whole.
                url = issuer["issuer_url"] if body.get("issuer_url") is None else body["issuer_url"]
                changes["issuer_url"] = check_issuer_urls(url, changes.get("jwks", issuer["jwks"]))
            if body.get("jwks_polling_disabled") is not None:
                if _boolean(body["jwks_polling_disabled"], "jwks_polling_disabled"):
                    raise bad_request(
                        "jwks_polling_disabled: only false is accepted (to re-enable polling); "
                        "polling is paused by the system, not by callers"
                    )
                changes["jwks_polling_disabled_at"] = None
            if not caller.console and self._live_rules(
                lambda r: r["issuer_id"] == issuer_id and needs_console(r["oauth_scope"])
            ):
                raise console_only("updating an issuer that backs a rule with a scope beyond workspace access")
            if "name" in changes and self._name_taken(self.store.issuers, changes["name"], other_than=issuer_id):
                raise conflict("federation issuer", changes["name"])
            issuer.update(changes)
            issuer["updated_at"] = self.store.now_iso()
            issuer["updated_by_actor_id"] = caller.actor_id
            if "name" in changes:
                for rule in self.store.rules.values():
                    if rule["issuer_id"] == issuer_id:
                        rule["issuer_name"] = changes["name"]
            return copy.deepcopy(issuer)

    def archive_issuer(self, issuer_id: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        _fields(body, ())
        with self.store.lock:
            issuer = self._issuer(issuer_id)
            if issuer.get("archived_at") is None:
                live = self._live_rules(lambda r: r["issuer_id"] == issuer_id)
                if live:
                    raise bad_request(
                        f"federation issuer {issuer_id!r} is still referenced by live federation rules "
                        f"({', '.join(r['id'] for r in live)}); archive those rules first"
                    )
                now = self.store.now_iso()
                issuer.update(
                    archived_at=now,
                    archived_by_actor_id=caller.actor_id,
                    updated_at=now,
                    updated_by_actor_id=caller.actor_id,
                )
            return copy.deepcopy(issuer)

    # ----- rules

    def _enable(self, rule: dict[str, Any], ws_id: str, caller: Caller) -> dict[str, Any]:
        enabled = self.store.rule_workspaces.setdefault(rule["id"], {})
        if ws_id not in enabled:
            enabled[ws_id] = {
                "type": "federation_rule_workspace",
                "federation_rule_id": rule["id"],
                "workspace_id": ws_id,
                "workspace_name": None,
                "created_at": self.store.now_iso(),
                "created_by_actor_id": caller.actor_id,
            }
        self._sync_workspace_ids(rule)
        return enabled[ws_id]

    def _sync_workspace_ids(self, rule: dict[str, Any]) -> None:
        rule["workspace_ids"] = list(self.store.rule_workspaces.get(rule["id"], {}))

    def _check_rule_scope(self, scope: str, sa: dict[str, Any], caller: Caller) -> None:
        if not caller.console and needs_console(scope):
            raise console_only(f"a rule with oauth_scope {scope!r}")
        if ADMIN_SCOPE in scope.split() and sa.get("organization_role") != "admin":
            raise bad_request(
                f"oauth_scope: org:admin may only be granted to a service account whose organization_role is "
                f"admin; {sa['id']} is {sa.get('organization_role')}"
            )

    def create_rule(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        _fields(
            body,
            {
                "issuer_id",
                "match",
                "name",
                "oauth_scope",
                "target",
                "applies_to_all_workspaces",
                "description",
                "token_lifetime_seconds",
                "workspace_id",
            },
            ("issuer_id", "match", "name", "oauth_scope", "target"),
        )
        name = _name(body["name"])
        issuer_id = _string(body["issuer_id"], "issuer_id")
        match = parse_match(body["match"])
        sa_id = parse_target(body["target"])
        scope = parse_scope(body["oauth_scope"])
        lifetime = _optional(body, "token_lifetime_seconds", _bounded(TOKEN_LIFETIME), DEFAULT_LIFETIME)
        all_workspaces = _optional(body, "applies_to_all_workspaces", _boolean, False)
        description = _optional(body, "description", _string, None)
        if body.get("workspace_id") is None and not all_workspaces:
            raise bad_request("workspace_id: field required unless applies_to_all_workspaces is true")
        with self.store.lock:
            issuer = self.store.issuers.get(issuer_id)
            if issuer is None:
                raise bad_request(f"issuer_id: federation issuer {issuer_id!r} does not exist")
            if issuer.get("archived_at"):
                raise bad_request(f"issuer_id: federation issuer {issuer_id!r} is archived")
            sa = self._live_target(sa_id)
            ws_id = None if body.get("workspace_id") is None else self._workspace_in_body(body["workspace_id"])
            self._check_rule_scope(scope, sa, caller)
            if self._name_taken(self.store.rules, name):
                raise conflict("federation rule", name)
            now = self.store.now_iso()
            rule = {
                "id": self.store.ids.new("fdrl"),
                "type": "federation_rule",
                "name": name,
                "description": description,
                "issuer_id": issuer_id,
                "issuer_name": issuer["name"],
                "match": match,
                "target": {"type": "service_account", "service_account_id": sa_id, "service_account_name": sa["name"]},
                "oauth_scope": scope,
                "token_lifetime_seconds": lifetime,
                "applies_to_all_workspaces": all_workspaces,
                "workspace_id": ws_id,
                "workspace_ids": [],
                "attributes": None,
                "archived_at": None,
                "archived_by_actor_id": None,
                "created_at": now,
                "created_by_actor_id": caller.actor_id,
                "updated_at": now,
                "updated_by_actor_id": caller.actor_id,
            }
            self.store.rules[rule["id"]] = rule
            self.store.rule_workspaces[rule["id"]] = {}
            if ws_id is not None:
                self._enable(rule, ws_id, caller)
            return copy.deepcopy(rule)

    def get_rule(self, rule_id: str) -> dict[str, Any]:
        with self.store.lock:
            return copy.deepcopy(self._rule(rule_id))

    def list_rules(self, query: ListQuery, issuer_id: str | None) -> dict[str, Any]:
        with self.store.lock:
            return cursor_page(
                "fdrl", self.store.rules, query, lambda r: issuer_id is None or r["issuer_id"] == issuer_id
            )

    def update_rule(self, rule_id: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if "issuer_id" in body:
            raise bad_request("issuer_id: is immutable; create a new rule for another issuer")
        _fields(
            body,
            {
                "applies_to_all_workspaces",
                "description",
                "match",
                "name",
                "oauth_scope",
                "target",
                "token_lifetime_seconds",
                "workspace_id",
            },
        )
        parsed = {
            "name": _optional(body, "name", _name, None),
            "match": _optional(body, "match", lambda value, _: parse_match(value), None),
            "token_lifetime_seconds": _optional(body, "token_lifetime_seconds", _bounded(TOKEN_LIFETIME), None),
            "applies_to_all_workspaces": _optional(body, "applies_to_all_workspaces", _boolean, None),
        }
        changes = {key: value for key, value in parsed.items() if value is not None}
        if "description" in body:  # null clears it (stored as the empty string)
            changes["description"] = _optional(body, "description", _string, "")
        sa_id = _optional(body, "target", lambda value, _: parse_target(value), None)
        scope = _optional(body, "oauth_scope", lambda value, _: parse_scope(value), None)
        with self.store.lock:
            rule = self._rule(rule_id)
            if rule.get("archived_at"):
                raise bad_request(
                    f"federation rule {rule_id!r} is archived and cannot be updated; create a new rule instead"
                )
            if not caller.console and needs_console(rule["oauth_scope"]):
                raise console_only(f"managing a rule with oauth_scope {rule['oauth_scope']!r}")
            sa = self._live_target(sa_id) if sa_id is not None else None
            if sa is not None or scope is not None:
                target_sa = sa or self.store.service_accounts[rule["target"]["service_account_id"]]
                self._check_rule_scope(scope or rule["oauth_scope"], target_sa, caller)
            ws_id = None
            if body.get("workspace_id") is not None:
                ws_id = self._workspace_in_body(body["workspace_id"])
                if len(self.store.rule_workspaces.get(rule_id, {})) > 1:
                    raise bad_request(
                        "workspace_id: the rule is enabled for more than one workspace; use the "
                        f"/v1/organizations/federation_rules/{rule_id}/workspaces sub-resource"
                    )
            if (
                changes.get("applies_to_all_workspaces") is False
                and ws_id is None
                and not (rule["workspace_ids"] or rule["workspace_id"])
            ):
                raise bad_request(
                    "applies_to_all_workspaces: cannot be false while the rule is enabled for no "
                    "workspace; pass workspace_id or enable a workspace first"
                )
            if "name" in changes and self._name_taken(self.store.rules, changes["name"], other_than=rule_id):
                raise conflict("federation rule", changes["name"])
            rule.update(changes)
            if sa is not None:
                rule["target"] = {
                    "type": "service_account",
                    "service_account_id": sa["id"],
                    "service_account_name": sa["name"],
                }
            if scope is not None:
                rule["oauth_scope"] = scope
            if ws_id is not None:  # replaces the single enablement (kept as it was if it is the same one)
                kept = self.store.rule_workspaces.get(rule_id, {}).get(ws_id)
                self.store.rule_workspaces[rule_id] = {ws_id: kept} if kept else {}
                rule["workspace_id"] = ws_id
                self._enable(rule, ws_id, caller)
            rule["updated_at"] = self.store.now_iso()
            rule["updated_by_actor_id"] = caller.actor_id
            return copy.deepcopy(rule)

    def archive_rule(self, rule_id: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        _fields(body, ())
        with self.store.lock:
            rule = self._rule(rule_id)
            if not caller.console and needs_console(rule["oauth_scope"]):
                raise console_only(f"managing a rule with oauth_scope {rule['oauth_scope']!r}")
            if rule.get("archived_at") is None:
                now = self.store.now_iso()
                self.store.rule_workspaces[rule_id] = {}
                rule.update(
                    archived_at=now,
                    archived_by_actor_id=caller.actor_id,
                    updated_at=now,
                    updated_by_actor_id=caller.actor_id,
                    workspace_id=None,
                    workspace_ids=[],
                )
            return copy.deepcopy(rule)

    # ----- rule workspaces

    def list_rule_workspaces(self, rule_id: str) -> dict[str, Any]:
        with self.store.lock:
            self._rule(rule_id)
            data = []
            for ws_id, enablement in self.store.rule_workspaces.get(rule_id, {}).items():
                row = copy.deepcopy(enablement)
                row["workspace_name"] = self.store.workspaces.get(ws_id, {}).get("name")
                data.append(row)
            return {"data": data, "next_page": None}

    def add_rule_workspace(self, rule_id: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        _fields(body, {"workspace_id"}, ("workspace_id",))
        with self.store.lock:
            rule = self._rule(rule_id)
            if rule.get("archived_at"):
                raise bad_request(f"federation rule {rule_id!r} is archived; create a new rule instead")
            if not caller.console and needs_console(rule["oauth_scope"]):
                raise console_only(f"managing a rule with oauth_scope {rule['oauth_scope']!r}")
            ws_id = self._workspace_in_body(body["workspace_id"])
            return copy.deepcopy(self._enable(rule, ws_id, caller))

    def remove_rule_workspace(self, rule_id: str, workspace_ref: str, caller: Caller) -> dict[str, Any]:
        with self.store.lock:
            rule = self._rule(rule_id)
            ws_id = self._workspace_in_path(workspace_ref)["id"]
            if not caller.console and needs_console(rule["oauth_scope"]):
                raise console_only(f"managing a rule with oauth_scope {rule['oauth_scope']!r}")
            self.store.rule_workspaces.get(rule_id, {}).pop(ws_id, None)
            if rule.get("workspace_id") == ws_id:
                rule["workspace_id"] = None
            self._sync_workspace_ids(rule)
            return {
                "type": "federation_rule_workspace_deleted",
                "federation_rule_id": rule_id,
                "workspace_id": workspace_ref,
            }

    # ----- service accounts

    def _check_role(self, value: Any, caller: Caller) -> str:
        role = _string(value, "organization_role")
        if role not in SERVICE_ACCOUNT_ROLES:
            raise bad_request("organization_role: must be one of admin, developer")
        if role == "admin" and not caller.interactive:
            raise AdminError(
                403,
                "permission_error",
                "organization_role: admin requires an interactive credential (a user OAuth token or "
                "a Console session); a workload may only use developer",
            )
        return role

    def create_service_account(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        _fields(body, {"name", "description", "organization_role"}, ("name",))
        name = _name(body["name"])
        description = _optional(body, "description", _string, None)
        role = _optional(body, "organization_role", lambda value, _: self._check_role(value, caller), "developer")
        with self.store.lock:
            if self._name_taken(self.store.service_accounts, name):
                raise conflict("service account", name)
            now = self.store.now_iso()
            sa = {
                "id": self.store.ids.new("svac"),
                "type": "service_account",
                "name": name,
                "description": description,
                "organization_role": role,
                "created_at": now,
                "updated_at": now,
                "archived_at": None,
                "archived_by_actor_id": None,
                "created_by_actor_id": caller.actor_id,
                "updated_by_actor_id": caller.actor_id,
            }
            self.store.service_accounts[sa["id"]] = sa
            return copy.deepcopy(sa)

    def get_service_account(self, sa_id: str) -> dict[str, Any]:
        with self.store.lock:
            return copy.deepcopy(self._service_account(sa_id))

    def list_service_accounts(self, query: ListQuery) -> dict[str, Any]:
        with self.store.lock:
            return cursor_page("svac", self.store.service_accounts, query, lambda _: True)

    def update_service_account(self, sa_id: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        if "name" in body:
            raise bad_request("name: is immutable; create a new service account instead")
        _fields(body, {"description", "organization_role"})
        with self.store.lock:
            sa = self._service_account(sa_id)
            if sa.get("archived_at"):
                raise bad_request(f"service account {sa_id!r} is archived and cannot be updated")
            changes: dict[str, Any] = {}
            if "description" in body:  # null clears it (stored as the empty string)
                changes["description"] = _optional(body, "description", _string, "")
            if body.get("organization_role") is not None:  # null leaves it unchanged
                changes["organization_role"] = self._check_role(body["organization_role"], caller)
            sa.update(changes)
            sa["updated_at"] = self.store.now_iso()
            sa["updated_by_actor_id"] = caller.actor_id
            return copy.deepcopy(sa)

    def archive_service_account(self, sa_id: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        _fields(body, ())
        with self.store.lock:
            sa = self._service_account(sa_id)
            if sa.get("archived_at") is None:
                live = self._live_rules(lambda r: r["target"]["service_account_id"] == sa_id)
                if live:
                    raise bad_request(
                        f"service account {sa_id!r} is still the target of live federation rules "
                        f"({', '.join(r['id'] for r in live)}); archive those rules first"
                    )
                now = self.store.now_iso()
                sa.update(
                    archived_at=now,
                    archived_by_actor_id=caller.actor_id,
                    updated_at=now,
                    updated_by_actor_id=caller.actor_id,
                )
            return copy.deepcopy(sa)

    # ----- service-account workspace membership

    def _implicit_membership(self, sa_id: str) -> dict[str, Any]:
        return {
            "type": "service_account_workspace_member",
            "service_account_id": sa_id,
            "workspace_id": self.store.default_workspace_id,
            "workspace_role": "workspace_user",
            "implicit": True,
            "created_by_actor_id": None,
        }

    def list_memberships(self, sa_id: str, limit: int, page: str | None) -> dict[str, Any]:
        """The implicit default-workspace entry comes first on page one, on top of ``limit`` entries."""
        with self.store.lock:
            sa = self._service_account(sa_id)
            explicit = list(self.store.sa_workspaces.get(sa_id, {}).values())
            if sa.get("archived_at"):
                explicit = []
            head: list[dict[str, Any]] = []
            start = 0
            if page is None:
                if sa.get("archived_at"):
                    return {"data": [], "next_page": None}
                if self.store.default_workspace_id not in self.store.sa_workspaces.get(sa_id, {}):
                    head.append(self._implicit_membership(sa_id))
            else:
                after = _cursor_value("svws", page)
                ws_ids = [m["workspace_id"] for m in explicit]
                if after not in ws_ids:
                    raise bad_request(
                        "page: the cursor does not match an active membership; restart from the first page"
                    )
                start = ws_ids.index(after) + 1
            chunk = explicit[start : start + limit]
            more = start + limit < len(explicit)
            return {
                "data": head + copy.deepcopy(chunk),
                "next_page": _cursor("svws", chunk[-1]["workspace_id"]) if more and chunk else None,
            }

    def add_membership(self, sa_id: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        _fields(body, {"workspace_id", "workspace_role"}, ("workspace_id", "workspace_role"))
        role = _string(body["workspace_role"], "workspace_role")
        if role == "workspace_billing":
            raise bad_request("workspace_role: service accounts cannot hold the workspace_billing role")
        if role not in WORKSPACE_ROLES:
            raise bad_request(f"workspace_role: must be one of {', '.join(WORKSPACE_ROLES)}")
        with self.store.lock:
            sa = self._service_account(sa_id)
            if sa.get("archived_at"):
                raise bad_request(f"service account {sa_id!r} is archived and cannot be added to a workspace")
            ws_id = self._workspace_in_body(body["workspace_id"], allow_default=False)
            memberships = self.store.sa_workspaces.setdefault(sa_id, {})
            member = memberships.get(ws_id)
            if member is None:
                member = memberships[ws_id] = {
                    "type": "service_account_workspace_member",
                    "service_account_id": sa_id,
                    "workspace_id": ws_id,
                    "workspace_role": role,
                    "implicit": False,
                    "created_by_actor_id": caller.actor_id,
                }
            member["workspace_role"] = role
            return copy.deepcopy(member)

    def remove_membership(self, sa_id: str, workspace_id: str) -> dict[str, Any]:
        with self.store.lock:
            self._service_account(sa_id)
            if workspace_id not in self.store.workspaces:
                raise not_found("workspace", workspace_id)
            if self.store.workspaces[workspace_id].get("archived_at"):
                raise bad_request(f"workspace {workspace_id!r} is archived")
            # On the implicit default membership this is a no-op: the account stays a workspace_user.
            self.store.sa_workspaces.get(sa_id, {}).pop(workspace_id, None)
            return {
                "type": "service_account_workspace_member_deleted",
                "service_account_id": sa_id,
                "workspace_id": workspace_id,
            }

    # ----- organization and workspaces (read-only here; the lab creates workspaces itself)

    def organization(self) -> dict[str, Any]:
        return {"id": self.store.organization_id, "type": "organization", "name": self.store.organization_name}

    def list_workspaces(self, request: Request) -> dict[str, Any]:
        """``SyncPage`` shape (``data``, ``has_more``, ``first_id``, ``last_id``), paged by id."""
        include_archived = _query_bool(request, "include_archived")
        include_default = _query_bool(request, "include_default")
        limit = _query_limit(request, WORKSPACE_PAGE_LIMIT)
        ids = request.query_params.getlist("ids[]") + request.query_params.getlist("ids")
        after_id = request.query_params.get("after_id")
        before_id = request.query_params.get("before_id")
        if after_id and before_id:
            raise bad_request("after_id: cannot be combined with before_id")
        with self.store.lock:
            rows = [
                ws
                for ws in self.store.workspaces.values()
                if (include_archived or ws.get("archived_at") is None)
                and (include_default or not ws.get("is_default"))
                and (not ids or ws["id"] in ids)
            ]
            order = [ws["id"] for ws in rows]
            if after_id:
                if after_id not in order:
                    raise bad_request(f"after_id: workspace {after_id!r} is not in this list")
                rows = rows[order.index(after_id) + 1 :]
                has_more = len(rows) > limit
                rows = rows[:limit]
            elif before_id:
                if before_id not in order:
                    raise bad_request(f"before_id: workspace {before_id!r} is not in this list")
                rows = rows[: order.index(before_id)]
                has_more = len(rows) > limit
                rows = rows[-limit:]
            else:
                has_more = len(rows) > limit
                rows = rows[:limit]
            data = [workspace_json(ws) for ws in rows]
        return {
            "data": data,
            "has_more": has_more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }

    def get_workspace(self, workspace_id: str) -> dict[str, Any]:
        with self.store.lock:
            ws = self.store.workspaces.get(workspace_id)
            if ws is None:
                raise not_found("workspace", workspace_id)
            return workspace_json(ws)


_COLORS = ("#6C5BB9", "#D97757", "#3D8B7D", "#C2A14D", "#4F7CAC", "#B5546B")


def workspace_json(ws: dict[str, Any]) -> dict[str, Any]:
    """The SDK's ``Workspace`` model, filled from the store's lab workspace record."""
    digest = hashlib.sha256(ws["id"].encode()).hexdigest()
    return {
        "id": ws["id"],
        "type": "workspace",
        "name": ws["name"],
        "created_at": ws["created_at"],
        "archived_at": ws.get("archived_at"),
        "display_color": _COLORS[int(digest[:2], 16) % len(_COLORS)],
        "compartment_id": f"cmpt_{digest[:24]}",
        "data_residency": {
            "allowed_inference_geos": "unrestricted",
            "default_inference_geo": "global",
            "workspace_geo": "us",
        },
        "external_key_id": None,
        "tags": {},
        "user_profile_id": None,
    }


# --- HTTP: one small endpoint per route ----------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One authorised Admin API request, as an operation sees it."""

    request: Request
    admin: FederationAdmin
    caller: Caller
    body: dict[str, Any]

    def path(self, name: str) -> str:
        return self.request.path_params[name]

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name) or None


Endpoint = Callable[[Request], Awaitable[JSONResponse]]


def admin_endpoint(*, body: bool = False) -> Callable[[Callable[[Call], dict[str, Any]]], Endpoint]:
    """Wrap an operation with the Admin API's auth (an org:admin OAuth bearer), body parsing and errors."""

    def wrap(operation: Callable[[Call], dict[str, Any]]) -> Endpoint:
        async def endpoint(request: Request) -> JSONResponse:
            grant, denied = bearer_grant(request)
            if denied is not None:
                return denied
            assert grant is not None
            if ADMIN_SCOPE not in grant.scopes():
                return api_error(
                    request,
                    403,
                    "permission_error",
                    f"this endpoint requires an OAuth token with the org:admin scope (this token has {grant.scope!r})",
                )
            data: dict[str, Any] = {}
            if body:
                parsed, problem = await json_body(request)
                if parsed is None:
                    return api_error(request, 400, "invalid_request_error", problem or "invalid request body")
                data = parsed
            # A token minted without a federation rule is the lab admin's: it stands for a person.
            caller = Caller(grant.service_account_id, interactive=grant.rule_id is None)
            call = Call(request, FederationAdmin(request.app.state.store), caller, data)
            try:
                return ok(request, operation(call))
            except AdminError as exc:
                return api_error(request, exc.status, exc.error_type, exc.message)

        endpoint.__name__ = operation.__name__
        endpoint.__doc__ = operation.__doc__
        return endpoint

    return wrap


@admin_endpoint()
def get_organization(call: Call) -> dict[str, Any]:
    return call.admin.organization()


@admin_endpoint()
def list_workspaces(call: Call) -> dict[str, Any]:
    return call.admin.list_workspaces(call.request)


@admin_endpoint()
def get_workspace(call: Call) -> dict[str, Any]:
    return call.admin.get_workspace(call.path("workspace_id"))


@admin_endpoint(body=True)
def create_issuer(call: Call) -> dict[str, Any]:
    return call.admin.create_issuer(call.body, call.caller)


@admin_endpoint()
def list_issuers(call: Call) -> dict[str, Any]:
    return call.admin.list_issuers(list_query(call.request))


@admin_endpoint()
def get_issuer(call: Call) -> dict[str, Any]:
    return call.admin.get_issuer(call.path("issuer_id"))


@admin_endpoint(body=True)
def update_issuer(call: Call) -> dict[str, Any]:
    return call.admin.update_issuer(call.path("issuer_id"), call.body, call.caller)


@admin_endpoint(body=True)
def archive_issuer(call: Call) -> dict[str, Any]:
    return call.admin.archive_issuer(call.path("issuer_id"), call.body, call.caller)


@admin_endpoint(body=True)
def create_rule(call: Call) -> dict[str, Any]:
    return call.admin.create_rule(call.body, call.caller)


@admin_endpoint()
def list_rules(call: Call) -> dict[str, Any]:
    return call.admin.list_rules(list_query(call.request), call.query("issuer_id"))


@admin_endpoint()
def get_rule(call: Call) -> dict[str, Any]:
    return call.admin.get_rule(call.path("rule_id"))


@admin_endpoint(body=True)
def update_rule(call: Call) -> dict[str, Any]:
    return call.admin.update_rule(call.path("rule_id"), call.body, call.caller)


@admin_endpoint(body=True)
def archive_rule(call: Call) -> dict[str, Any]:
    return call.admin.archive_rule(call.path("rule_id"), call.body, call.caller)


@admin_endpoint()
def list_rule_workspaces(call: Call) -> dict[str, Any]:
    """Not paginated: ``limit`` and ``page`` are accepted and ignored; ``next_page`` is always null."""
    return call.admin.list_rule_workspaces(call.path("rule_id"))


@admin_endpoint(body=True)
def add_rule_workspace(call: Call) -> dict[str, Any]:
    return call.admin.add_rule_workspace(call.path("rule_id"), call.body, call.caller)


@admin_endpoint()
def remove_rule_workspace(call: Call) -> dict[str, Any]:
    return call.admin.remove_rule_workspace(call.path("rule_id"), call.path("workspace_id"), call.caller)


@admin_endpoint(body=True)
def create_service_account(call: Call) -> dict[str, Any]:
    return call.admin.create_service_account(call.body, call.caller)


@admin_endpoint()
def list_service_accounts(call: Call) -> dict[str, Any]:
    return call.admin.list_service_accounts(list_query(call.request))


@admin_endpoint()
def get_service_account(call: Call) -> dict[str, Any]:
    return call.admin.get_service_account(call.path("service_account_id"))


@admin_endpoint(body=True)
def update_service_account(call: Call) -> dict[str, Any]:
    return call.admin.update_service_account(call.path("service_account_id"), call.body, call.caller)


@admin_endpoint(body=True)
def archive_service_account(call: Call) -> dict[str, Any]:
    return call.admin.archive_service_account(call.path("service_account_id"), call.body, call.caller)


@admin_endpoint()
def list_memberships(call: Call) -> dict[str, Any]:
    limit = _query_limit(call.request, PAGE_LIMIT)
    return call.admin.list_memberships(call.path("service_account_id"), limit, call.query("page"))


@admin_endpoint(body=True)
def add_membership(call: Call) -> dict[str, Any]:
    return call.admin.add_membership(call.path("service_account_id"), call.body, call.caller)


@admin_endpoint()
def remove_membership(call: Call) -> dict[str, Any]:
    return call.admin.remove_membership(call.path("service_account_id"), call.path("workspace_id"))


ORG = "/v1/organizations"
ISSUER = ORG + "/federation_issuers/{issuer_id}"
RULE = ORG + "/federation_rules/{rule_id}"
ACCOUNT = ORG + "/service_accounts/{service_account_id}"


def admin_routes(mock: AnthropicMock) -> list[Route]:
    del mock  # endpoints find the store on the app (request.app.state.store)
    return [
        Route(ORG + "/me", get_organization, methods=["GET"]),
        Route(ORG + "/workspaces", list_workspaces, methods=["GET"]),
        Route(ORG + "/workspaces/{workspace_id}", get_workspace, methods=["GET"]),
        Route(ORG + "/federation_issuers", create_issuer, methods=["POST"]),
        Route(ORG + "/federation_issuers", list_issuers, methods=["GET"]),
        Route(ISSUER, get_issuer, methods=["GET"]),
        Route(ISSUER, update_issuer, methods=["POST"]),
        Route(ISSUER + "/archive", archive_issuer, methods=["POST"]),
        Route(ORG + "/federation_rules", create_rule, methods=["POST"]),
        Route(ORG + "/federation_rules", list_rules, methods=["GET"]),
        Route(RULE, get_rule, methods=["GET"]),
        Route(RULE, update_rule, methods=["POST"]),
        Route(RULE + "/archive", archive_rule, methods=["POST"]),
        Route(RULE + "/workspaces", list_rule_workspaces, methods=["GET"]),
        Route(RULE + "/workspaces", add_rule_workspace, methods=["POST"]),
        Route(RULE + "/workspaces/{workspace_id}", remove_rule_workspace, methods=["DELETE"]),
        Route(ORG + "/service_accounts", create_service_account, methods=["POST"]),
        Route(ORG + "/service_accounts", list_service_accounts, methods=["GET"]),
        Route(ACCOUNT, get_service_account, methods=["GET"]),
        Route(ACCOUNT, update_service_account, methods=["POST"]),
        Route(ACCOUNT + "/archive", archive_service_account, methods=["POST"]),
        Route(ACCOUNT + "/workspaces", list_memberships, methods=["GET"]),
        Route(ACCOUNT + "/workspaces", add_membership, methods=["POST"]),
        Route(ACCOUNT + "/workspaces/{workspace_id}", remove_membership, methods=["DELETE"]),
    ]
