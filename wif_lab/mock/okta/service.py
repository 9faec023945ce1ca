"""The mock Okta org: custom authorization servers, the org authorization server, and service apps.

Follows Okta's OpenID Connect & OAuth 2.0 API reference (``/.well-known/openid-configuration``,
``/.well-known/oauth-authorization-server``, ``/keys``, ``/token``), the Authorization Servers and
Applications management APIs for what an admin configures, and "Implement authorization by grant
type → Client Credentials". Routes are Okta's real paths under the org URL.

The org authorization server (issuer = the org URL) signs its access tokens with a key it does not
publish at ``/oauth2/v1/keys``: tokens from it are for Okta itself and cannot be verified by anyone
else, so they cannot be federated. That is the lab's teaching case.
"""

from __future__ import annotations

import collections
import secrets
from collections.abc import Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...errors import ConfigurationError
from ..base import LabContext, MockSpec
from ..keys import thumbprint
from . import errors as E
from .client_auth import AssertionLedger
from .console import (
    APPS_WITH_SECRETS,
    ASSERTION_ALGS,
    AUTH_METHODS,
    OIDC_SCOPES,
    AuthorizationServer,
    OktaIds,
    ServiceApp,
    jwk_with_kid,
)
from .dpop import DpopVerifier
from .lab_routes import attendee_routes
from .management import ManagementApi, management_routes
from .token import token_endpoint

ANTHROPIC_AUDIENCE = "https://api.anthropic.com"
LAB_SCOPE = "anthropic.access"
LAB_POLICY = "Anthropic workloads"
ORG_LAB_SCOPE = "okta.apps.read"
WORKLOAD_KEY, SECOND_WORKLOAD_KEY, NEW_APP_KEY = "okta-workload", "okta-workload-2", "okta-new-app"
KEYS_CACHE_CONTROL = "max-age=86400, must-revalidate"

_RESPONSE_TYPES = ["code", "token", "id_token", "code id_token", "code token", "id_token token", "code id_token token"]
_GRANT_TYPES = [
    "authorization_code", "implicit", "refresh_token", "password", "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:openid:params:grant-type:ciba",
]
_CUSTOM_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"]
_SIGNING_ALGS = ["HS256", "HS384", "HS512", *ASSERTION_ALGS]
_ACCESS_TOKEN_CLAIMS = ["ver", "jti", "iss", "aud", "iat", "exp", "cid", "uid", "scp", "sub"]
_ID_TOKEN_CLAIMS = [
    "iss", "ver", "sub", "aud", "iat", "exp", "jti", "auth_time", "amr", "idp", "nonce", "name", "nickname",
    "preferred_username", "given_name", "middle_name", "family_name", "email", "email_verified", "profile",
    "zoneinfo", "locale", "address", "phone_number", "picture", "website", "gender", "birthdate", "updated_at",
    "at_hash", "c_hash",
]


class OrgAuthorizationServer:
    """The built-in org authorization server at ``<org>/oauth2/v1/…`` (issuer: the org URL itself)."""

    ACCESS_TOKEN_KEY = "okta-org-access-token"  # signs access tokens; never published
    PUBLISHED_KEY = "okta-org-id-token"  # what /oauth2/v1/keys serves (ID-token signing)

    def __init__(self, org: OktaMock) -> None:
        self.org = org
        self.issuer = org.org_url
        self.token_endpoint = f"{org.org_url}/oauth2/v1/token"
        self.jwks_uri = f"{org.org_url}/oauth2/v1/keys"
        org.ctx.keys.private_key(self.ACCESS_TOKEN_KEY)
        org.ctx.keys.private_key(self.PUBLISHED_KEY)

    @property
    def signing_key(self) -> Any:
        return self.org.ctx.keys.private_key(self.ACCESS_TOKEN_KEY)

    @property
    def kid(self) -> str:
        return thumbprint(self.signing_key)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [jwk_with_kid(self.org.ctx.keys.private_key(self.PUBLISHED_KEY))]}


class OktaMock:
    """One Okta org. Configure it like the Admin Console; serve it with :meth:`asgi`.

    Built with the lab scenario of the Okta WIF guide already clicked through: a custom
    authorization server (``aus…``) and ``default``, both with audience ``https://api.anthropic.com``
    and scope ``anthropic.access``; two API Services apps using ``private_key_jwt`` with "Require DPoP"
    unticked as the guide says, and a third left at Okta's defaults (DPoP required), all allowed by an
    access policy rule. Pass ``scenario=False`` for a bare org.
    """

    name = "okta"

    def __init__(self, ctx: LabContext, *, scenario: bool = True) -> None:
        self.ctx = ctx
        self.org_url = ctx.base_url(self.name)
        self.ids = OktaIds(ctx.seed)
        self.apps: dict[str, ServiceApp] = {}
        self._servers: dict[str, AuthorizationServer] = {}
        self.assertion_ledger = AssertionLedger(ctx.clock)
        self.dpop = DpopVerifier(ctx.clock)
        self.request_log: collections.deque[dict[str, Any]] = collections.deque(maxlen=1000)
        self.org_server = OrgAuthorizationServer(self)
        # Every org with API Access Management has "default", created with audience api://default and a
        # Default Policy (all clients, any scope) holding a Default Policy Rule.
        default = self._add_server("default", "default", "api://default", "Default Authorization Server")
        default.add_policy_rule("Default Policy", name="Default Policy Rule", clients=None, scopes=None,
                                grant_types=("client_credentials", "authorization_code",
                                             "urn:ietf:params:oauth:grant-type:device_code",
                                             "urn:ietf:params:oauth:grant-type:token-exchange"))
        self.workload_app: ServiceApp | None = None
        self.second_app: ServiceApp | None = None
        self.new_app: ServiceApp | None = None
        self.lab_server: AuthorizationServer | None = None
        if scenario:
            self._set_up_lab_scenario()
        self.management = ManagementApi(self)  # Security → API → Tokens: the lab's SSWS token

    # --- Admin Console: Applications ------------------------------------------------------------
    def create_service_app(
        self,
        name: str,
        *,
        public_jwk: dict[str, Any] | Iterable[dict[str, Any]] | None = None,
        token_endpoint_auth_method: str = "private_key_jwt",
        require_dpop: bool = True,
        client_secret: str | None = None,
        profile: dict[str, Any] | None = None,
    ) -> ServiceApp:
        """Applications → Create App Integration → API Services, then Client Credentials → Edit.

        ``public_jwk``: one JWK, a list, or a JWKS dict (public keys only). Secret methods get a
        generated 40-character secret unless ``client_secret`` is given. ``require_dpop`` defaults to
        on, as Okta's console ticks "Require DPoP" for every new API Services app since 2024; the
        Okta WIF guide unticks it (``require_dpop=False``).
        """
        if token_endpoint_auth_method not in AUTH_METHODS:
            raise ValueError(f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}")
        app = ServiceApp(self.ids.new("0oa"), name, token_endpoint_auth_method, require_dpop=require_dpop,
                         profile=dict(profile or {}))
        if token_endpoint_auth_method in APPS_WITH_SECRETS:
            app.client_secret = client_secret or secrets.token_urlsafe(30)
        if isinstance(public_jwk, dict):
            public_jwk = public_jwk.get("keys", [public_jwk])
        for jwk in public_jwk or ():
            app.add_public_key(jwk)
        self.apps[app.client_id] = app
        return app

    def app(self, client_id: str) -> ServiceApp:
        try:
            return self.apps[client_id]
        except KeyError:
            raise ConfigurationError(f"no app with client id {client_id!r} in this Okta org",
                                     hint=f"known client ids: {', '.join(self.apps) or 'none'}") from None

    def delete_app(self, client_id: str) -> None:
        self.apps.pop(client_id, None)

    # --- Admin Console: Security → API → Authorization Servers ----------------------------------
    def _add_server(self, server_id: str, name: str, audience: str, description: str) -> AuthorizationServer:
        server = AuthorizationServer(self, server_id, name, audience, description)
        self._servers[server_id] = server
        return server

    def create_authorization_server(self, name: str, *, audience: str, description: str = "") -> AuthorizationServer:
        """Add Authorization Server: name, audience, description. It starts with no scopes or policies."""
        return self._add_server(self.ids.new("aus"), name, audience, description)

    def authorization_server(self, server_id: str) -> AuthorizationServer:
        try:
            return self._servers[server_id]
        except KeyError:
            raise ConfigurationError(f"no authorization server {server_id!r} in this Okta org",
                                     hint=f"known ids: {', '.join(self._servers)}") from None

    @property
    def authorization_servers(self) -> dict[str, AuthorizationServer]:
        return dict(self._servers)

    def delete_authorization_server(self, server_id: str) -> None:
        if server_id == "default":
            raise ValueError("the default authorization server cannot be deleted")
        self._servers.pop(server_id, None)

    # --- the lab scenario ---------------------------------------------------------------------------
    def _set_up_lab_scenario(self) -> None:
        keys = self.ctx.keys
        self.workload_app = self.create_service_app(
            "wif-lab workload", public_jwk=jwk_with_kid(keys.private_key(WORKLOAD_KEY)),
            profile={"workload": "wif-lab-pipeline"}, require_dpop=False,
        )
        self.second_app = self.create_service_app(
            "wif-lab second workload", public_jwk=jwk_with_kid(keys.private_key(SECOND_WORKLOAD_KEY)),
            profile={"workload": "wif-lab-other"}, require_dpop=False,
        )
        self.workload_app.grant_okta_api_scopes(ORG_LAB_SCOPE)
        self.lab_server = self.create_authorization_server(
            "Anthropic API", audience=ANTHROPIC_AUDIENCE, description="Tokens for Workload Identity Federation"
        )
        # Left at the console's defaults, DPoP required (created after the server, so the older
        # objects keep their seeded ids).
        self.new_app = self.create_service_app(
            "wif-lab new app (Okta defaults)", public_jwk=jwk_with_kid(keys.private_key(NEW_APP_KEY)),
            profile={"workload": "wif-lab-new"},
        )
        default = self.authorization_server("default")
        default.set_audience(ANTHROPIC_AUDIENCE)
        for server in (self.lab_server, default):
            server.add_scope(LAB_SCOPE, description="Exchange for Claude API access", discoverable=True)
        self.lab_server.add_policy_rule(
            LAB_POLICY, name="Workloads may request anthropic.access",
            clients=[self.workload_app, self.second_app, self.new_app], scopes=[LAB_SCOPE],
        )

    def connection(self) -> dict[str, Any]:
        section: dict[str, Any] = {
            "base_url": self.org_url,
            "org_url": self.org_url,
            "authorization_servers": {sid: s.issuer for sid, s in self._servers.items()},
            "api_token": self.management.api_token,  # a secret: SSWS token for the Management API
            "org_authorization_server": {
                "issuer": self.org_server.issuer,
                "token_endpoint": self.org_server.token_endpoint,
                "jwks_uri": self.org_server.jwks_uri,
                "scope": ORG_LAB_SCOPE,
            },
        }
        if self.lab_server and self.workload_app and self.second_app and self.new_app:
            section.update(
                issuer=self.lab_server.issuer,
                token_endpoint=self.lab_server.token_endpoint,
                jwks_uri=self.lab_server.jwks_uri,
                authorization_server_id=self.lab_server.id,
                scope=LAB_SCOPE,
                audience=ANTHROPIC_AUDIENCE,
                **self._app_section(self.workload_app, WORKLOAD_KEY),
                second_app=self._app_section(self.second_app, SECOND_WORKLOAD_KEY),
                new_app=self._app_section(self.new_app, NEW_APP_KEY) | {"require_dpop": self.new_app.require_dpop},
            )
        return section

    def _app_section(self, app: ServiceApp, key_name: str) -> dict[str, Any]:
        return {
            "client_id": app.client_id,
            "private_key": str(self.ctx.keys.path(key_name)),
            "key_id": app.jwks[0]["kid"],
        }

    # --- HTTP ---------------------------------------------------------------------------------------
    def record(self, request: Request, endpoint: str, status: int, error: str | None, *,
               client_id: str | None = None) -> None:
        """Keep a short, secret-free log line per token request (what a System Log entry would show)."""
        self.request_log.append(
            {"time": self.ctx.clock(), "endpoint": endpoint, "status": status, "error": error, "client_id": client_id}
        )

    def _server_or_404(self, request: Request) -> AuthorizationServer | Response:
        server_id = request.path_params["server_id"]
        server = self._servers.get(server_id)
        return server if server is not None else E.not_found(server_id)

    def _metadata(self, server: AuthorizationServer | None, *, oidc: bool) -> dict[str, Any]:
        issuer = server.issuer if server else self.org_url
        base = server.issuer if server else f"{self.org_url}/oauth2"
        custom = [s.name for s in server.scopes.values() if s.discoverable] if server else []
        auth_methods = _CUSTOM_AUTH_METHODS if server else [m for m in _CUSTOM_AUTH_METHODS if m != "private_key_jwt"]
        doc: dict[str, Any] = {
            "issuer": issuer,
            "authorization_endpoint": f"{base}/v1/authorize",
            "token_endpoint": f"{base}/v1/token",
        }
        if oidc:
            doc["userinfo_endpoint"] = f"{base}/v1/userinfo"
        doc.update({
            "registration_endpoint": f"{self.org_url}/oauth2/v1/clients",
            "jwks_uri": f"{base}/v1/keys",
            "response_types_supported": _RESPONSE_TYPES,
            "response_modes_supported": ["query", "fragment", "form_post", "okta_post_message"],
            "grant_types_supported": _GRANT_TYPES,
            "subject_types_supported": ["public"],
        })
        if oidc:
            doc["id_token_signing_alg_values_supported"] = ["RS256"]
        doc.update({
            "scopes_supported": [*OIDC_SCOPES, *custom],
            "token_endpoint_auth_methods_supported": auth_methods,
            "claims_supported": _ID_TOKEN_CLAIMS if oidc else _ACCESS_TOKEN_CLAIMS,
            "code_challenge_methods_supported": ["S256"],
            "introspection_endpoint": f"{base}/v1/introspect",
            "introspection_endpoint_auth_methods_supported": auth_methods,
            "revocation_endpoint": f"{base}/v1/revoke",
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "end_session_endpoint": f"{base}/v1/logout",
            "request_parameter_supported": True,
            "request_object_signing_alg_values_supported": _SIGNING_ALGS,
            "device_authorization_endpoint": f"{base}/v1/device/authorize",
            "dpop_signing_alg_values_supported": list(ASSERTION_ALGS),
        })
        return doc

    async def server_discovery(self, request: Request) -> Response:
        server = self._server_or_404(request)
        if isinstance(server, Response):
            return server
        return JSONResponse(self._metadata(server, oidc=True))

    async def server_metadata(self, request: Request) -> Response:
        server = self._server_or_404(request)
        if isinstance(server, Response):
            return server
        return JSONResponse(self._metadata(server, oidc=False))

    async def server_keys(self, request: Request) -> Response:
        server = self._server_or_404(request)
        if isinstance(server, Response):
            return server
        return JSONResponse(server.jwks(), headers={"cache-control": KEYS_CACHE_CONTROL})

    async def server_token(self, request: Request) -> Response:
        server = self._server_or_404(request)
        if isinstance(server, Response):
            return server
        return await token_endpoint(self, server, request)

    async def org_discovery(self, request: Request) -> Response:
        return JSONResponse(self._metadata(None, oidc=True))

    async def org_keys(self, request: Request) -> Response:
        return JSONResponse(self.org_server.jwks(), headers={"cache-control": KEYS_CACHE_CONTROL})

    async def org_token(self, request: Request) -> Response:
        return await token_endpoint(self, None, request)

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.org_discovery, methods=["GET"]),
                Route("/oauth2/v1/keys", self.org_keys, methods=["GET"]),
                Route("/oauth2/v1/token", self.org_token, methods=["POST"]),
                Route("/.well-known/oauth-authorization-server/oauth2/{server_id}", self.server_metadata,
                      methods=["GET"]),
                Route("/oauth2/{server_id}/.well-known/openid-configuration", self.server_discovery, methods=["GET"]),
                Route("/oauth2/{server_id}/.well-known/oauth-authorization-server", self.server_metadata,
                      methods=["GET"]),
                Route("/oauth2/{server_id}/v1/keys", self.server_keys, methods=["GET"]),
                Route("/oauth2/{server_id}/v1/token", self.server_token, methods=["POST"]),
                *management_routes(self.management),
                *attendee_routes(self),
            ]
        )


SPEC = MockSpec("okta", "https", factory=OktaMock)
