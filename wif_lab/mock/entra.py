"""Mock Microsoft Entra ID: one tenant, its discovery documents and keys, and the access tokens it
mints for managed identities.

Follows Microsoft identity platform behaviour as documented and recorded in
``shared/reference/azure.md``:

- OpenID discovery at ``/<tenant>/v2.0/.well-known/openid-configuration`` (v2.0 issuer
  ``<host>/<tenant>/v2.0``) and ``/<tenant>/.well-known/openid-configuration`` (v1 issuer);
- signing keys at ``/<tenant>/discovery/v2.0/keys`` and ``/<tenant>/discovery/keys`` in Entra's
  JWKS shape (``kid == x5t`` = SHA-1 thumbprint of a self-signed cert in ``x5c``, no ``alg``);
- "Access token claims reference": the **resource** app registration's
  ``requestedAccessTokenVersion`` picks v1 or v2 claims, whichever endpoint asked;
- managed-identity tokens live about 24 h;
- errors in Entra's layout (``AADSTS<code>: … Trace ID: … Correlation ID: … Timestamp: …``).

Lab deviations: a real v1 issuer lives on ``https://sts.windows.net/<tid>/``; here both issuer forms
live on the mock's own host (``<base>/<tid>/`` and ``<base>/<tid>/v2.0``) so discovery by ``iss``
stays inside the lab.

Managed-identity tokens are minted as recorded on real VMs (azure.md §4.3: two decoded tokens, both with
``exp - iat`` = 86,700 s): ``iat`` and ``nbf`` are backdated 5 minutes and ``exp`` is 24 hours after the
moment of minting, so ``exp - iat`` is 24 h + 5 min. The Claude docs' issuer setting
``max_jwt_lifetime_seconds: 86400`` therefore refuses them, in the lab as on Azure; 86,700 or more accepts
them.

Workload identity federation (``POST /<tenant>/oauth2/v2.0/token``, client credentials with a
``jwt-bearer`` client assertion), per azure.md §2.3, §4.3 and §4.5:

- federated identity credentials (FICs) live on user-assigned identities, found by the POST's
  ``client_id``; at most 20 each, ``issuer`` + ``subject`` unique, exactly one audience;
- the assertion is checked in this order: parse (50027), ``iat``/``exp`` present and
  ``exp - iat`` ≤ 25 h (70023), time window with 5 min skew (700024), client (700016), FIC match:
  none at all (70021), issuer exact incl. trailing slash (700211), subject exact (700213, or
  7002138 when only the case differs), audience (700212); then the signature against the issuer's
  keys found by discovery over https (90061 when unreachable, 7000272 for an unknown ``kid``,
  700027 when the signature fails); last the requested resource (500011);
- success mints the identity's access token (same claims as the managed-identity path) with the
  ``client_credentials`` lifetime, a random 60–90 minutes from a seeded RNG, in the v2 shape
  ``{"token_type", "expires_in", "ext_expires_in", "access_token"}`` (integers).

Error bodies: ``error_description`` ends in ``Trace ID: <uuid4> Correlation ID: <id> Timestamp:
YYYY-MM-DD HH:MM:SSZ`` (:data:`ERROR_DESCRIPTION_TAIL` matches it, for sanitizers); the correlation
ID echoes the request's ``client-request-id`` header when sent, else it is a random UUID.

Codes azure.md does not list come from real bodies quoted in public issues: 900144 (missing form
field), 70003 (grant type), 7000218 / 7000215 (no assertion / a client secret), 90011 (assertion
type), 1002012 / 28000 (scope form), 9001023 (``/common``). AADSTS700027 for a signature that does
not verify with a published key is the lab's choice [inferred].

More lab deviations: FICs work the moment they are created (real ones can take minutes); app
registrations cannot hold FICs here; loopback https issuers trusted through the lab CA count as
"public"; grant types other than ``client_credentials`` are refused as unsupported (70003).

The v1 token endpoint (``POST /<tenant>/oauth2/token``) runs the same logic with a ``resource``
parameter instead of a scope and answers in the v1 shape (strings, plus ``expires_on``, ``not_before``
and ``resource``). Both token endpoints, and every other endpoint the discovery documents advertise
(authorize, logout, devicecode, checksession, userinfo, kerberos), are served over HTTP by
:mod:`wif_lab.mock.entra_endpoints`, which says what each answer rests on.

The tenant model (:class:`Tenant`) and :meth:`EntraMock.mint_access_token` are shared by the mock
IMDS and the workload-identity token endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import random
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..jose import MalformedJWT, numeric_date, parse_compact
from .base import LabContext
from .outbound import FETCH_DEADLINE, MAX_DOCUMENT_BYTES, FetchFailed, fetch_json

JSON_UTF8 = "application/json; charset=utf-8"
MI_TOKEN_BACKDATE = 300  # iat and nbf of a managed-identity token lie 5 minutes before it was minted
MI_TOKEN_VALIDITY = 86400  # and exp 24 hours after
MI_TOKEN_LIFETIME = MI_TOKEN_BACKDATE + MI_TOKEN_VALIDITY  # exp - iat = 86,700 s, as recorded on real VMs
SIGNING_KEYS = ("entra-1", "entra-2")  # both published; the first signs (Entra publishes spares)
CLOUD_INSTANCE = "microsoftonline.com"
MULTI_TENANT_ALIASES = ("common", "organizations")
ERROR_URI = "https://login.microsoftonline.com/error?code={code}"
# The tail of every error_description: what a notebook sanitizer must replace (trace and correlation
# IDs change per request; the correlation ID is the caller's client-request-id when one was sent).
ERROR_DESCRIPTION_TAIL = re.compile(
    r" Trace ID: (?P<trace_id>[0-9a-f-]{36}) Correlation ID: (?P<correlation_id>\S+) "
    r"Timestamp: (?P<timestamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ)$"
)

# Workload identity federation
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"  # the default (and usual) FIC audience
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLIENT_CREDENTIALS_LIFETIME = (3600, 5400)  # client_credentials tokens: a random 60 to 90 minutes
ASSERTION_MAX_LIFETIME = 25 * 3600  # "1.01:00:00"
ASSERTION_CLOCK_SKEW = 300
ASSERTION_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
MAX_FEDERATED_CREDENTIALS = 20
WORKLOAD_ID_DOC = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
ISSUER_KEYS_CACHE_SECONDS = 3600.0
ISSUER_KEYS_REFETCH_SECONDS = 30.0
_FIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$")

IdentityKind = Literal["system", "user"]


def seeded_guid(seed: int, label: str) -> str:
    """A stable GUID for ``label`` in this lab (same seed, same IDs in every notebook run)."""
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


# --- the tenant model ------------------------------------------------------------------------


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

    identity("wif-lab-vm", "system", f"{rg}/providers/Microsoft.Compute/virtualMachines/wif-lab-vm")
    for name in ("claude-inference", "batch-reporting"):
        identity(name, "user", f"{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}")

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


# --- errors ----------------------------------------------------------------------------------


class EntraError(Exception):
    """A refusal in Entra's wire form: the HTTP status and the JSON body to send."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("error_description", body.get("error")))
        self.status = status
        self.body = body


def aadsts_error(
    status: int, error: str, code: int, message: str, *, now: float, correlation_id: str | None = None
) -> EntraError:
    """An Entra error with the real layout: description ending in trace/correlation/timestamp."""
    stamp = dt.datetime.fromtimestamp(int(now), dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace_id, correlation_id = str(uuid.uuid4()), correlation_id or str(uuid.uuid4())
    description = (f"AADSTS{code}: {message} Trace ID: {trace_id} Correlation ID: {correlation_id} "
                   f"Timestamp: {stamp}")
    return EntraError(status, {
        "error": error,
        "error_description": description,
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": ERROR_URI.format(code=code),
    })


def resource_not_found(
    resource: str, tenant: Tenant, *, now: float, correlation_id: str | None = None
) -> EntraError:
    """AADSTS500011: no app registration answers to the requested resource."""
    return aadsts_error(
        400, "invalid_resource", 500011,
        f"The resource principal named {resource} was not found in the tenant named {tenant.display_name}. "
        "This can happen if the application has not been installed by the administrator of the tenant or "
        "consented to by any user in the tenant. You might have sent your authentication request to the "
        "wrong tenant.",
        now=now, correlation_id=correlation_id,
    )


def application_not_found(
    client_id: str, tenant: Tenant, *, now: float, correlation_id: str | None = None
) -> EntraError:
    """AADSTS700016: no application (or managed identity) in the tenant has this client ID."""
    return aadsts_error(
        400, "unauthorized_client", 700016,
        f"Application with identifier '{client_id}' was not found in the directory '{tenant.display_name}'. This "
        "can happen if the application has not been installed by the administrator of the tenant or consented to "
        "by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
        now=now, correlation_id=correlation_id,
    )


def method_not_accepted(
    method: str, *, now: float, correlation_id: str | None = None, accepted: str = "POST, OPTIONS"
) -> EntraError:
    """AADSTS900561: a POST-only endpoint (token, devicecode) asked with another method; 400."""
    return aadsts_error(
        400, "invalid_request", 900561,
        f"The endpoint only accepts {accepted} requests. Received a {method.upper()} request.",
        now=now, correlation_id=correlation_id,
    )


def tenant_not_found(segment: str, *, now: float) -> EntraError:
    """AADSTS90002, as discovery and keys answer for a tenant that does not exist."""
    return aadsts_error(
        400, "invalid_tenant", 90002,
        f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing "
        "into the correct cloud. Check with your subscription administrator, this may happen if there are "
        "no active subscriptions for the tenant.",
        now=now,
    )


def _correlation_id(header: str | None) -> str | None:
    """The caller's ``client-request-id`` when it is a GUID, as MSAL sends it; anything else is not
    echoed into error texts (a new ID is made, as when none was sent) [inferred]."""
    if header is None:
        return None
    value = header.strip()
    try:
        uuid.UUID(value)
    except ValueError:
        return None
    return value


def _aadsts_time(value: float) -> str:
    """Entra's instant format inside AADSTS700024 texts: ISO 8601 with seven fractional digits."""
    moment = dt.datetime.fromtimestamp(value, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond * 10:07d}Z"


@dataclass
class _Call:
    """One token request's facts every refusal needs: the time and the caller's correlation ID."""

    now: float
    correlation_id: str | None = None

    def fail(self, status: int, error: str, code: int, message: str) -> EntraError:
        return aadsts_error(status, error, code, message, now=self.now, correlation_id=self.correlation_id)

    def missing(self, parameter: str) -> EntraError:
        return self.fail(400, "invalid_request", 900144,
                         f"The request body must contain the following parameter: '{parameter}'.")

    def malformed(self) -> EntraError:
        return self.fail(400, "invalid_request", 50027, "JWT token is invalid or malformed.")

    def no_matching_record(self, code: int, what: str, value: str) -> EntraError:
        check = "Check" if code in (700213, 7002138) else "Please check"
        extra = (" The subject matches with case-insensitive comparison, but not with case-sensitive comparison."
                 if code == 7002138 else "")
        return self.fail(401, "invalid_client", code,
                         f"No matching federated identity record found for presented assertion {what} '{value}'."
                         f"{extra} {check} your federated identity credential Subject, Audience and Issuer against "
                         f"the presented assertion. {WORKLOAD_ID_DOC}")


# --- external issuers' keys (what Entra fetches to check a federated assertion) -------------


class IssuerMetadataError(Exception):
    """The issuer's discovery document or JWKS could not be fetched; ``detail`` says which step."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ExternalIssuerKeys:
    """Signing keys of the issuers federated credentials name: ``<issuer>/.well-known/openid-configuration``
    → ``jwks_uri`` over https, cached per issuer; an unknown ``kid`` forces one early re-fetch at most
    every :data:`ISSUER_KEYS_REFETCH_SECONDS` (a rotated cluster key is picked up)."""

    def __init__(
        self,
        outbound: Callable[[], httpx.AsyncClient],
        clock: Callable[[], float],
        *,
        cache_seconds: float = ISSUER_KEYS_CACHE_SECONDS,
        refetch_seconds: float = ISSUER_KEYS_REFETCH_SECONDS,
        fetch_deadline: float = FETCH_DEADLINE,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
    ) -> None:
        self._outbound = outbound
        self._clock = clock
        self.cache_seconds = cache_seconds
        self.refetch_seconds = refetch_seconds
        self.fetch_deadline = fetch_deadline  # discovery and JWKS together, connect to last byte
        self.max_document_bytes = max_document_bytes
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._forced: dict[str, float] = {}
        self.fetches = 0

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._forced.clear()

    async def key_for(self, issuer: str, kid: str) -> dict[str, Any] | None:
        now = self._clock()
        with self._lock:
            entry = self._cache.get(issuer)
        if entry is None or now - entry[0] > self.cache_seconds:
            keys = await self._fetch(issuer)
            with self._lock:
                self._cache[issuer] = (now, keys)
            return _find_key(keys, kid)
        found = _find_key(entry[1], kid)
        with self._lock:
            may_refetch = found is None and now - self._forced.get(issuer, float("-inf")) >= self.refetch_seconds
            if may_refetch:
                self._forced[issuer] = now
        if may_refetch:
            keys = await self._fetch(issuer)
            with self._lock:
                self._cache[issuer] = (now, keys)
            found = _find_key(keys, kid)
        return found

    async def _fetch(self, issuer: str) -> list[dict[str, Any]]:
        if urlsplit(issuer).scheme != "https":
            raise IssuerMetadataError(f"issuer {issuer!r} is not an https URL")
        limits = {"deadline": self.fetch_deadline, "max_bytes": self.max_document_bytes}
        try:
            async with asyncio.timeout(self.fetch_deadline), self._outbound() as client:
                doc = await fetch_json(client, issuer.rstrip("/") + "/.well-known/openid-configuration",
                                       "discovery document", **limits)
                jwks_uri = doc.get("jwks_uri") if isinstance(doc, dict) else None
                if not isinstance(jwks_uri, str) or urlsplit(jwks_uri).scheme != "https":
                    raise IssuerMetadataError("the discovery document names no https jwks_uri")
                body = await fetch_json(client, jwks_uri, "JWKS", **limits)
        except FetchFailed as exc:
            raise IssuerMetadataError(exc.detail) from exc
        except TimeoutError:
            raise IssuerMetadataError(f"discovery and JWKS did not arrive within {self.fetch_deadline:g} s") from None
        with self._lock:
            self.fetches += 1
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list):
            raise IssuerMetadataError(f"the JWKS at {jwks_uri} has no keys array")
        return [key for key in keys if isinstance(key, dict)]


def _find_key(keys: list[dict[str, Any]], kid: str) -> dict[str, Any] | None:
    return next((key for key in keys if key.get("kid") == kid), None)


# --- signing keys ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """An RSA key with the self-signed certificate Entra publishes for it."""

    private_key: rsa.RSAPrivateKey
    cert_der: bytes

    @property
    def kid(self) -> str:
        """``kid`` and ``x5t``: the base64url SHA-1 thumbprint of the certificate."""
        return base64.urlsafe_b64encode(hashlib.sha1(self.cert_der).digest()).rstrip(b"=").decode()

    def jwk(self, issuer: str | None) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        entry: dict[str, Any] = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
            "x5c": [base64.b64encode(self.cert_der).decode()],
        }
        if issuer is not None:  # the v2.0 keys carry these two members, the v1 keys do not
            entry["cloud_instance_name"] = CLOUD_INSTANCE
            entry["issuer"] = issuer
        return entry


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _self_signed(key: rsa.RSAPrivateKey, serial: int) -> bytes:
    """Entra's key certificates: self-signed, CN=accounts.accesscontrol.windows.net. Fixed dates and
    serial make the DER (and so the kid) a pure function of the key."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "accounts.accesscontrol.windows.net")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


# --- minted tokens ---------------------------------------------------------------------------


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
        from ..redact import redact

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


# --- the mock --------------------------------------------------------------------------------


class EntraMock:
    """One Entra tenant on the lab's https host: discovery, keys and token minting."""

    name = "entra"

    def __init__(
        self,
        ctx: LabContext,
        tenant: Tenant | None = None,
        *,
        outbound: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        self.ctx = ctx
        self.base_url = ctx.base_url(self.name)
        self.tenant = tenant or default_tenant(ctx.seed)
        self._lock = threading.RLock()
        self._rng = random.Random(f"{ctx.seed}:entra:tokens")
        self._lifetimes = random.Random(f"{ctx.seed}:entra:client-credentials")
        self._keys = [self._signing_key(name) for name in SIGNING_KEYS]
        # How Entra reaches external issuers (over https, trusting the lab CA); tests may route in-process.
        self.issuer_keys = ExternalIssuerKeys(outbound or ctx.outbound_client, ctx.clock)
        self.federated_requests: deque[FederatedTokenRequest] = deque(maxlen=256)
        self._trust_default_cluster()

    def _signing_key(self, name: str) -> SigningKey:
        key = self.ctx.keys.private_key(name)
        assert isinstance(key, rsa.RSAPrivateKey)
        serial = uuid.UUID(seeded_guid(self.ctx.seed, f"cert:{name}")).int >> 1  # positive, < 2**159
        return SigningKey(key, _self_signed(key, serial))

    # -- issuer facts

    @property
    def tenant_id(self) -> str:
        return self.tenant.tenant_id

    def issuer(self, version: int = 2) -> str:
        """The ``iss`` of this tenant's tokens: ``<base>/<tid>/v2.0`` (v2) or ``<base>/<tid>/`` (v1)."""
        root = f"{self.base_url}/{self.tenant_id}"
        return f"{root}/v2.0" if version == 2 else f"{root}/"

    @property
    def kid(self) -> str:
        return self._keys[0].kid

    def jwks(self, version: int = 2) -> dict[str, Any]:
        template = f"{self.base_url}/{{tenantid}}/v2.0" if version == 2 else None
        return {"keys": [key.jwk(template) for key in self._keys]}

    def discovery(self, version: int = 2, tenant_segment: str | None = None) -> dict[str, Any]:
        """The OpenID configuration for the tenant (or the ``{tenantid}`` template for common)."""
        t = tenant_segment or self.tenant_id
        iss_tid = "{tenantid}" if t in MULTI_TENANT_ALIASES else self.tenant_id
        base = f"{self.base_url}/{t}"
        if version == 2:
            return {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                          "client_secret_basic"],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{self.base_url}/{iss_tid}/v2.0",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                                     "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat",
                                     "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
                                     "at_hash", "c_hash", "email"],
                "kerberos_endpoint": f"{base}/kerberos",
                "tenant_region_scope": "WW",
                "cloud_instance_name": CLOUD_INSTANCE,
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            }
        return {
            "token_endpoint": f"{base}/oauth2/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "scopes_supported": ["openid"],
            "issuer": f"{self.base_url}/{iss_tid}/",
            "microsoft_multi_refresh_token": True,
            "authorization_endpoint": f"{base}/oauth2/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/logout",
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                                 "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time",
                                 "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"],
            "check_session_iframe": f"{base}/oauth2/checksession",
            "userinfo_endpoint": f"{base}/openid/userinfo",
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "WW",
            "cloud_instance_name": CLOUD_INSTANCE,
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    # -- admin API (what the portal / az CLI would change)

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

    def _trust_default_cluster(self) -> None:
        """The guide's setup: ``claude-inference`` trusts the lab cluster's ``inference/claude-inference``."""
        from .kubernetes import KubernetesMock

        cluster = self.ctx.mocks.get("kubernetes")
        if isinstance(cluster, KubernetesMock) and "claude-inference" in self.tenant.identities:
            self.add_federated_credential(
                "claude-inference", name="aks-claude-inference", issuer=cluster.issuer,
                subject=cluster.default_pod.service_account.subject,
            )

    # -- minting

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

    # -- workload identity federation: client credentials with a federated assertion

    def _client_credentials_lifetime(self) -> int:
        with self._lock:
            return self._lifetimes.randint(*CLIENT_CREDENTIALS_LIFETIME)

    async def redeem_federated_assertion(
        self, tenant_segment: str, form: Mapping[str, str], *, correlation_id: str | None = None, version: int = 2
    ) -> tuple[AccessToken, dict[str, Any]]:
        """The token endpoint's logic: the minted token and the 200 body, or :class:`EntraError`.

        ``version`` is the endpoint: 2 (``oauth2/v2.0/token``, a ``<resource>/.default`` scope, integer
        lifetimes) or 1 (``oauth2/token``, a ``resource`` parameter, every value a string plus
        ``expires_on``, ``not_before`` and ``resource``)."""
        call = _Call(self.ctx.clock(), correlation_id)
        record: dict[str, Any] = {"client_id": form.get("client_id"), "claims": None}
        try:
            minted = await self._redeem(call, tenant_segment, form, record, version)
        except EntraError as err:
            self.federated_requests.append(FederatedTokenRequest(
                call.now, record["client_id"], record["claims"], err.body["error_codes"][0]))
            raise
        self.federated_requests.append(FederatedTokenRequest(
            call.now, record["client_id"], record["claims"], None, minted.lifetime))
        if version == 1:
            lifetime = str(minted.lifetime)
            return minted, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                            "expires_on": str(minted.expires_on), "not_before": str(minted.not_before),
                            "resource": minted.resource, "access_token": minted.token}
        body = {"token_type": "Bearer", "expires_in": minted.lifetime, "ext_expires_in": minted.lifetime,
                "access_token": minted.token}
        return minted, body

    async def _redeem(
        self, call: _Call, segment: str, form: Mapping[str, str], record: dict[str, Any], version: int
    ) -> AccessToken:
        if not form.get("grant_type"):  # nothing can be said about the grant before it is named
            raise call.missing("grant_type")
        if segment.lower() in (*MULTI_TENANT_ALIASES, "consumers"):
            raise call.fail(400, "invalid_request", 9001023,
                            "The grant type is not supported over the /common or /consumers endpoints. "
                            "Please use the /organizations or tenant-specific endpoint.")
        if not self.tenant.resolve_alias(segment):
            raise tenant_not_found(segment, now=call.now)
        resource = self._check_request(call, form, version)
        assertion = form["client_assertion"].strip()  # the token file is often sent with its newline
        header, claims = self._parse_assertion(call, assertion)
        record["claims"] = claims
        self._check_assertion_times(call, claims)
        identity = self.tenant.identity_by_client_id(form["client_id"])
        if identity is None:
            raise application_not_found(form["client_id"], self.tenant, now=call.now,
                                        correlation_id=call.correlation_id)
        self._match_federated_credential(call, identity, claims)
        await self._check_signature(call, assertion, header, claims["iss"])
        if self.tenant.find_resource(resource) is None:
            raise resource_not_found(resource, self.tenant, now=call.now, correlation_id=call.correlation_id)
        return self.mint_access_token(identity, resource, now=call.now, lifetime=self._client_credentials_lifetime(),
                                      backdate=0)

    def _check_request(self, call: _Call, form: Mapping[str, str], version: int) -> str:
        """The form's own rules; returns the resource: v2 names it by the single ``<resource>/.default``
        scope, v1 by the ``resource`` parameter."""
        grant_type = form["grant_type"]
        if grant_type != "client_credentials":
            raise call.fail(400, "unsupported_grant_type", 70003,
                            f"The app requested an unsupported grant type '{grant_type}'.")
        if not form.get("client_id"):
            raise call.missing("client_id")
        if version == 2:
            resource = self._requested_resource(call, form)
        else:
            resource = form.get("resource", "").strip()
            if not resource:
                raise call.missing("resource")
        if not form.get("client_assertion"):
            if form.get("client_secret"):
                raise call.fail(401, "invalid_client", 7000215,
                                "Invalid client secret provided. Ensure the secret being sent in the request is "
                                f"the client secret value, not the client secret ID, for a secret added to app "
                                f"'{form['client_id']}'.")
            raise call.fail(401, "invalid_client", 7000218,
                            "The request body must contain the following parameter: 'client_assertion' or "
                            "'client_secret'.")
        assertion_type = form.get("client_assertion_type")
        if not assertion_type:
            raise call.missing("client_assertion_type")
        if assertion_type != CLIENT_ASSERTION_TYPE:
            raise call.fail(400, "invalid_request", 90011, "Unexpected client assertion type.")
        return resource

    @staticmethod
    def _requested_resource(call: _Call, form: Mapping[str, str]) -> str:
        """v2: exactly one scope, of the form ``<resource>/.default``."""
        scope = form.get("scope", "").strip()
        if not scope:
            raise call.missing("scope")
        scopes = scope.split()
        for item in scopes:
            if not item.endswith("/.default"):
                raise call.fail(400, "invalid_scope", 1002012,
                                f"The provided value for scope {item} is not valid. Client credential flows must "
                                "have a scope value with /.default suffixed to the resource identifier "
                                "(application ID URI).")
        if len(scopes) > 1:
            raise call.fail(400, "invalid_scope", 28000,
                            "Provided value for the input parameter scope is not valid because it contains more "
                            f"than one resource. Scope {scope} is not valid.")
        return scopes[0].removesuffix("/.default")

    def _parse_assertion(self, call: _Call, assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            parsed = parse_compact(assertion)
        except MalformedJWT as exc:
            raise call.malformed() from exc
        header, claims = parsed.header, parsed.claims
        if header.get("alg") not in ASSERTION_ALGORITHMS:
            raise call.malformed()
        if not isinstance(claims.get("iss"), str) or not isinstance(claims.get("sub"), str):
            raise call.malformed()
        # A time claim that is present must be a date; a missing iat or exp is AADSTS70023's case.
        if any(name in claims and numeric_date(claims[name]) is None for name in ("iat", "exp", "nbf")):
            raise call.malformed()
        return header, claims

    def _check_assertion_times(self, call: _Call, claims: Mapping[str, Any]) -> None:
        iat, exp, nbf = (numeric_date(claims.get(name)) for name in ("iat", "exp", "nbf"))
        if iat is None or exp is None or exp - iat > ASSERTION_MAX_LIFETIME:
            raise call.fail(400, "invalid_request", 70023,
                            "External OIDC Provider token must have a lifetime of less than or equal to "
                            f"1.01:00:00. Token issued at {int(iat or 0)}. Token expires on {int(exp or 0)}.")
        valid_from = nbf if nbf is not None else 0.0
        if exp < call.now - ASSERTION_CLOCK_SKEW or valid_from > call.now + ASSERTION_CLOCK_SKEW:
            raise call.fail(401, "invalid_client", 700024,
                            f"Client assertion is not within its valid time range. Current time: "
                            f"{_aadsts_time(call.now)}, assertion valid from {_aadsts_time(valid_from)}, expiry "
                            f"time of assertion {_aadsts_time(exp)}. Review the documentation at "
                            "https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")

    def _match_federated_credential(
        self, call: _Call, identity: ManagedIdentity, claims: Mapping[str, Any]
    ) -> FederatedCredential:
        """Issuer first, then subject, then audience: the first stage nothing passes names the error."""
        iss, sub = claims["iss"], claims["sub"]
        aud = claims.get("aud")
        listed = aud if isinstance(aud, list) else [aud]
        audiences = [a for a in listed if isinstance(a, str)]
        fics = self.federated_credentials(identity.name)
        if not fics:
            raise call.fail(401, "invalid_client", 70021,
                            f"No matching federated identity record found for presented assertion. Assertion "
                            f"Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: "
                            f"'{','.join(audiences)}'. {WORKLOAD_ID_DOC}")
        same_issuer = [f for f in fics if f.issuer == iss]
        if not same_issuer:
            raise call.no_matching_record(700211, "issuer", iss)
        same_subject = [f for f in same_issuer if f.subject == sub]
        if not same_subject:
            case_only = any(f.subject.lower() == sub.lower() for f in same_issuer)
            raise call.no_matching_record(7002138 if case_only else 700213, "subject", sub)
        for fic in same_subject:
            if any(a in audiences for a in fic.audiences):
                return fic
        raise call.no_matching_record(700212, "audience", ",".join(audiences))

    async def _check_signature(self, call: _Call, assertion: str, header: Mapping[str, Any], issuer: str) -> None:
        kid = header.get("kid")
        try:
            jwk = await self.issuer_keys.key_for(issuer, kid) if isinstance(kid, str) else None
        except IssuerMetadataError as exc:
            raise call.fail(400, "invalid_request", 90061, "Request to External OIDC endpoint failed.") from exc
        if jwk is None:
            raise call.fail(401, "invalid_client", 7000272,
                            f"The certificate with identifier {kid or ''} used to sign the federated credential "
                            f"could not be found in the metadata of identity provider {issuer}. Please validate "
                            "that your Identity Provider's metadata exposes the key used to sign the incoming "
                            "token.")
        try:
            key = jwt.PyJWK(jwk, algorithm=header["alg"]).key
            jwt.decode(assertion, key, algorithms=[header["alg"]],
                       options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                                "verify_iat": False, "verify_iss": False})
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise call.fail(401, "invalid_client", 700027,
                            "Client assertion failed signature validation. [Reason - The provided signature "
                            "value did not match the expected signature value.]") from exc

    # -- HTTP

    def tenant_refusal(self, segment: str) -> EntraError | None:
        """AADSTS90002 for a path segment that names no tenant here; ``common``/``organizations`` pass."""
        if segment in MULTI_TENANT_ALIASES or self.tenant.resolve_alias(segment):
            return None
        return tenant_not_found(segment, now=self.ctx.clock())

    def _metadata(self, body: dict[str, Any]) -> JSONResponse:
        headers = {"cache-control": "max-age=86400, private", "access-control-allow-origin": "*"}
        return JSONResponse(body, media_type=JSON_UTF8, headers=headers)

    def error_response(self, err: EntraError) -> JSONResponse:
        headers = {"cache-control": "no-store, no-cache", "pragma": "no-cache", "expires": "-1"}
        return JSONResponse(err.body, status_code=err.status, media_type=JSON_UTF8, headers=headers)

    async def discovery_v2(self, request: Request) -> JSONResponse:
        segment = request.path_params["tenant"]
        err = self.tenant_refusal(segment)
        if err:
            return self.error_response(err)
        return self._metadata(self.discovery(2, segment if segment in MULTI_TENANT_ALIASES else None))

    async def discovery_v1(self, request: Request) -> JSONResponse:
        segment = request.path_params["tenant"]
        err = self.tenant_refusal(segment)
        if err:
            return self.error_response(err)
        return self._metadata(self.discovery(1, segment if segment in MULTI_TENANT_ALIASES else None))

    async def keys_v2(self, request: Request) -> JSONResponse:
        err = self.tenant_refusal(request.path_params["tenant"])
        return self.error_response(err) if err else self._metadata(self.jwks(2))

    async def keys_v1(self, request: Request) -> JSONResponse:
        err = self.tenant_refusal(request.path_params["tenant"])
        return self.error_response(err) if err else self._metadata(self.jwks(1))

    def known_client(self, client_id: str) -> bool:
        """Whether a ``client_id`` names something in the tenant that can ask for tokens: an app
        registration (by app ID) or a managed identity (by client ID)."""
        wanted = client_id.strip().lower()
        with self._lock:
            apps = any(app.app_id == wanted for app in self.tenant.apps.values())
        return apps or self.tenant.identity_by_client_id(wanted) is not None

    def asgi(self) -> Starlette:
        from .entra_endpoints import EntraEndpoints

        return Starlette(
            routes=[
                Route("/{tenant}/v2.0/.well-known/openid-configuration", self.discovery_v2, methods=["GET"]),
                Route("/{tenant}/.well-known/openid-configuration", self.discovery_v1, methods=["GET"]),
                Route("/{tenant}/discovery/v2.0/keys", self.keys_v2, methods=["GET"]),
                Route("/{tenant}/discovery/keys", self.keys_v1, methods=["GET"]),
                *EntraEndpoints(self).routes(),
            ]
        )

    def connection(self) -> dict[str, Any]:
        with self._lock:
            apps = [app.summary() for app in self.tenant.apps.values()]
        return {
            "base_url": self.base_url,
            "tenant_id": self.tenant_id,
            "issuer_v2": self.issuer(2),
            "issuer_v1": self.issuer(1),
            "discovery_v2": f"{self.base_url}/{self.tenant_id}/v2.0/.well-known/openid-configuration",
            "discovery_v1": f"{self.base_url}/{self.tenant_id}/.well-known/openid-configuration",
            "jwks_uri_v2": f"{self.base_url}/{self.tenant_id}/discovery/v2.0/keys",
            "jwks_uri_v1": f"{self.base_url}/{self.tenant_id}/discovery/keys",
            "token_endpoint": f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token",
            "identities": [mi.summary() for mi in self.tenant.identities.values()],
            "apps": apps,
            "federated_credentials": {name: [f.summary() for f in fics]
                                      for name, fics in self.tenant.federated_credentials.items() if fics},
        }
