"""Field checks for Admin API request bodies: one clear, field-prefixed message per refusal."""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import jwt
from cryptography import x509

from ....oauth import ASYMMETRIC_ALGORITHMS
from ....rules import MATCH_FIELDS, validate_match

if TYPE_CHECKING:
    pass



ADMIN_SCOPE = "org:admin"
OAUTH_MANAGEABLE_SCOPES = frozenset({"workspace:developer", "workspace:inference"})
# wif-reference and wif-admin-api spell the tunnels scope differently; both are accepted.
KNOWN_SCOPES = OAUTH_MANAGEABLE_SCOPES | {"org:admin", "org:manage_tunnels", "workspace:manage_tunnels"}
SERVICE_ACCOUNT_ROLES = ("admin", "developer")
WORKSPACE_ROLES = ("workspace_admin", "workspace_developer", "workspace_restricted_developer", "workspace_user")
JWK_ALGORITHMS = frozenset(ASYMMETRIC_ALGORITHMS)  # a published key must be usable for an accepted JWT
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


def check_fields(
    body: dict[str, Any], allowed: Iterable[str], required: Iterable[str] = (), *, prefix: str = ""
) -> None:
    """Refuse unknown members and missing (or null) required ones; ``prefix`` names a nested object."""
    allowed = set(allowed) | set(required)
    for key in body:
        if key not in allowed:
            raise bad_request(f"{prefix}{key}: extra inputs are not permitted")
    for key in required:
        if body.get(key) is None:
            raise bad_request(f"{prefix}{key}: field required")


def optional_field(body: dict[str, Any], key: str, parse: Callable[[Any, str], T], default: T) -> T:
    """An optional member: omitted and null both mean the default (or "leave unchanged" on update)."""
    value = body.get(key)
    return default if value is None else parse(value, key)


def string_field(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise bad_request(f"{field}: must be a string")
    return value


def boolean_field(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise bad_request(f"{field}: must be a boolean")
    return value


def integer_field(value: Any, field: str, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if type(value) is not int or not low <= value <= high:
        raise bad_request(f"{field}: must be an integer from {low} to {high}")
    return value


def bounded_field(bounds: tuple[int, int]) -> Callable[[Any, str], int]:
    return lambda value, field: integer_field(value, field, bounds)


def name_field(value: Any, field: str = "name") -> str:
    name = string_field(value, field)
    if not 1 <= len(name) <= NAME_MAX:
        raise bad_request(f"{field}: must be 1 to {NAME_MAX} characters")
    if not NAME_PATTERN.fullmatch(name):
        raise bad_request(f"{field}: must contain only lowercase letters, digits and hyphens (^[a-z0-9-]+$)")
    return name


def check_url(value: Any, field: str, *, dialed: bool) -> str:
    """Apply wif-reference's URL rules; the stricter ones only to a URL Anthropic would dial."""
    url = string_field(value, field)
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
    pem = string_field(value, field)
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
    if alg is not None and (not isinstance(alg, str) or alg not in JWK_ALGORITHMS):
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
        check_fields(value, {"type", "discovery_base", "ca_cert_pem"}, prefix="jwks.")
        base = value.get("discovery_base")
        return {
            "type": "discovery",
            "ca_cert_pem": _ca_cert(value.get("ca_cert_pem"), "jwks.ca_cert_pem"),
            "discovery_base": None if base is None else string_field(base, "jwks.discovery_base"),
        }
    if kind == "explicit_url":
        check_fields(value, {"type", "ca_cert_pem"}, ("url",), prefix="jwks.")
        return {
            "type": "explicit_url",
            "url": string_field(value["url"], "jwks.url"),
            "ca_cert_pem": _ca_cert(value.get("ca_cert_pem"), "jwks.ca_cert_pem"),
        }
    if kind == "inline":
        check_fields(value, {"type", "keys"}, prefix="jwks.")
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
    scope = string_field(value, "oauth_scope")
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
    check_fields(value, {"service_account_name"}, ("type", "service_account_id"), prefix="target.")
    if value["type"] != "service_account":
        raise bad_request("target.type: must be 'service_account'")
    return string_field(value["service_account_id"], "target.service_account_id")


