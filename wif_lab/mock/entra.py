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
stays inside the lab. Real managed-identity tokens are backdated 5 min (``exp - iat`` ≈ 86,700 s);
the lab issues ``iat = nbf = now`` and ``exp - iat = 86,399`` so the Claude docs' issuer setting
``max_jwt_lifetime_seconds: 86400`` accepts them as the docs promise.

The tenant model (:class:`Tenant`) and :meth:`EntraMock.mint_access_token` are shared by the mock
IMDS and by the later ``/oauth2/v2.0/token`` (workload identity) endpoint.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import random
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .base import LabContext

JSON_UTF8 = "application/json; charset=utf-8"
MI_TOKEN_LIFETIME = 86399  # seconds between iat and exp for a managed-identity token
SIGNING_KEYS = ("entra-1", "entra-2")  # both published; the first signs (Entra publishes spares)
CLOUD_INSTANCE = "microsoftonline.com"
MULTI_TENANT_ALIASES = ("common", "organizations")
ERROR_URI = "https://login.microsoftonline.com/error?code={code}"

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

    def resolve_alias(self, segment: str) -> str | None:
        """The tenant a URL path segment names (its GUID or domain), or ``None`` if it is not ours."""
        lowered = segment.lower()
        return self.tenant_id if lowered in (self.tenant_id, self.domain) else None

    def find_resource(self, resource: str) -> AppRegistration | None:
        return next((app for app in self.apps.values() if app.answers_to(resource)), None)

    def identity(self, name: str) -> ManagedIdentity:
        return self.identities[name]


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


def resource_not_found(resource: str, tenant: Tenant, *, now: float) -> EntraError:
    """AADSTS500011: no app registration answers to the requested resource."""
    return aadsts_error(
        400, "invalid_resource", 500011,
        f"The resource principal named {resource} was not found in the tenant named {tenant.display_name}. "
        "This can happen if the application has not been installed by the administrator of the tenant or "
        "consented to by any user in the tenant. You might have sent your authentication request to the "
        "wrong tenant.",
        now=now,
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


# --- the mock --------------------------------------------------------------------------------


class EntraMock:
    """One Entra tenant on the lab's https host: discovery, keys and token minting."""

    name = "entra"

    def __init__(self, ctx: LabContext, tenant: Tenant | None = None) -> None:
        self.ctx = ctx
        self.base_url = ctx.base_url(self.name)
        self.tenant = tenant or default_tenant(ctx.seed)
        self._lock = threading.RLock()
        self._rng = random.Random(f"{ctx.seed}:entra:tokens")
        self._keys = [self._signing_key(name) for name in SIGNING_KEYS]

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

    # -- minting

    def _opaque(self, prefix: str, nbytes: int) -> str:
        with self._lock:
            raw = self._rng.getrandbits(8 * nbytes).to_bytes(nbytes, "big")
        return prefix + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def mint_access_token(
        self, identity: ManagedIdentity | str, resource: str, *, now: float | None = None
    ) -> AccessToken:
        """Issue an app-only access token for ``identity`` to ``resource``, as Entra does for a
        managed identity. The resource app's token version decides v1 or v2 claims.

        Raises :class:`EntraError` (AADSTS500011) if no app registration answers to ``resource``.
        """
        mi = self.identity(identity) if isinstance(identity, str) else identity
        now = self.ctx.clock() if now is None else now
        with self._lock:
            app = self.tenant.find_resource(resource)
            version = app.access_token_version if app else 0
        if app is None:
            raise resource_not_found(resource, self.tenant, now=now)
        iat = int(now)
        claims: dict[str, Any] = {
            # v2: the bare app ID GUID even when api://<APP_ID> was asked for; v1: the URI as requested.
            "aud": app.app_id if version == 2 else resource,
            "iss": self.issuer(version),
            "iat": iat,
            "nbf": iat,
            "exp": iat + MI_TOKEN_LIFETIME,
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

    # -- HTTP

    def _tenant_or_error(self, segment: str) -> EntraError | None:
        if segment in MULTI_TENANT_ALIASES or self.tenant.resolve_alias(segment):
            return None
        return tenant_not_found(segment, now=self.ctx.clock())

    def _metadata(self, body: dict[str, Any]) -> JSONResponse:
        headers = {"cache-control": "max-age=86400, private", "access-control-allow-origin": "*"}
        return JSONResponse(body, media_type=JSON_UTF8, headers=headers)

    def _error(self, err: EntraError) -> JSONResponse:
        headers = {"cache-control": "no-store, no-cache", "pragma": "no-cache", "expires": "-1"}
        return JSONResponse(err.body, status_code=err.status, media_type=JSON_UTF8, headers=headers)

    async def discovery_v2(self, request: Request) -> JSONResponse:
        segment = request.path_params["tenant"]
        err = self._tenant_or_error(segment)
        if err:
            return self._error(err)
        return self._metadata(self.discovery(2, segment if segment in MULTI_TENANT_ALIASES else None))

    async def discovery_v1(self, request: Request) -> JSONResponse:
        segment = request.path_params["tenant"]
        err = self._tenant_or_error(segment)
        if err:
            return self._error(err)
        return self._metadata(self.discovery(1, segment if segment in MULTI_TENANT_ALIASES else None))

    async def keys_v2(self, request: Request) -> JSONResponse:
        err = self._tenant_or_error(request.path_params["tenant"])
        return self._error(err) if err else self._metadata(self.jwks(2))

    async def keys_v1(self, request: Request) -> JSONResponse:
        err = self._tenant_or_error(request.path_params["tenant"])
        return self._error(err) if err else self._metadata(self.jwks(1))

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/{tenant}/v2.0/.well-known/openid-configuration", self.discovery_v2, methods=["GET"]),
                Route("/{tenant}/.well-known/openid-configuration", self.discovery_v1, methods=["GET"]),
                Route("/{tenant}/discovery/v2.0/keys", self.keys_v2, methods=["GET"]),
                Route("/{tenant}/discovery/keys", self.keys_v1, methods=["GET"]),
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
            "identities": [mi.summary() for mi in self.tenant.identities.values()],
            "apps": apps,
        }
