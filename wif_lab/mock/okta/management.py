"""The part of Okta's Management API that ``wif-lab setup okta`` uses, over the console objects.

Follows Okta's Applications API (``/api/v1/apps``: an OIDC app with ``name: oidc_client``,
``settings.oauthClient`` and ``credentials.oauthClient``) and Authorization Servers API
(``/api/v1/authorizationServers`` with ``/scopes``, ``/policies`` and ``/policies/{id}/rules``):
the same paths, bodies and answers, ``Authorization: SSWS <api token>``, updates as ``PUT`` of the
whole object (Okta has no partial updates), lists paged with ``limit``/``after`` and a ``Link:
<…>; rel="next"`` header, and every refusal in the management error shape (``E0000011`` bad token,
``E0000006`` not permitted, ``E0000007`` not found, ``E0000001`` validation with ``errorCauses``,
``E0000003`` malformed body, ``E0000022`` method not allowed).

What the lab leaves out: apps other than API Services (``application_type: service``), app and
server lifecycle (activate/deactivate/delete), claims, key rotation and OAuth 2.0 bearer tokens for
the Management API (only SSWS API tokens). Where Okta's documentation is silent the wording of a
validation cause is the lab's own ([inferred]).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..inbound import Rejected, json_object
from . import errors as E
from .console import (
    CLIENT_CREDENTIALS,
    KNOWN_GRANT_TYPES,
    MAX_TOKEN_MINUTES,
    MIN_TOKEN_MINUTES,
    OIDC_SCOPES,
    AccessPolicy,
    AuthorizationServer,
    OktaIds,
    PolicyRule,
    Scope,
    ServiceApp,
)

if TYPE_CHECKING:
    from .service import OktaMock

SUPER_ADMIN, READ_ONLY_ADMIN = "SUPER_ADMIN", "READ_ONLY_ADMIN"
APP_AUTH_METHODS = ("private_key_jwt", "client_secret_basic", "client_secret_post", "client_secret_jwt")
PAGE_DEFAULTS = {"apps": (20, 200), "servers": (200, 200), "scopes": (200, 200)}  # default and maximum limit
_BODY_LIMIT = 1 << 20


class Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _invalid(what: str, *causes: str) -> Refused:
    return Refused(E.api_error(400, "E0000001", f"Api validation failed: {what}", list(causes)))


def _not_found(resource_id: str, kind: str) -> Refused:
    return Refused(E.not_found(resource_id, kind))


class ManagementApi:
    """Management API state kept beside the console objects: tokens, ids, timestamps, statuses."""

    def __init__(self, org: OktaMock) -> None:
        self.org = org
        self.ids = OktaIds(org.ctx.seed, "okta-management")  # never disturbs the console's seeded ids
        self.tokens: dict[str, str] = {}
        self._stamps: dict[str, tuple[str, str]] = {}  # id -> (created, lastUpdated)
        self._priority: dict[str, int] = {}
        self._rule_actions: dict[str, dict[str, int]] = {}
        self.api_token = self.issue_token()

    # --- tokens ---------------------------------------------------------------------------------

    def issue_token(self, role: str = SUPER_ADMIN) -> str:
        """Security → API → Tokens → Create token: an SSWS token with the creating admin's role."""
        token = "00" + secrets.token_urlsafe(30)[:40]
        self.tokens[token] = role
        return token

    def _caller(self, request: Request) -> str:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        role = self.tokens.get(value.strip()) if scheme == "SSWS" else None
        if role is None:
            raise Refused(E.api_error(401, "E0000011", "Invalid token provided"))
        if request.method not in ("GET", "HEAD") and role == READ_ONLY_ADMIN:
            raise Refused(E.api_error(403, "E0000006", "You do not have permission to perform the requested action"))
        return role

    # --- bookkeeping ------------------------------------------------------------------------------

    def _now(self) -> str:
        return datetime.fromtimestamp(self.org.ctx.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def _stamp(self, object_id: str, *, touched: bool = False) -> tuple[str, str]:
        now = self._now()
        created, updated = self._stamps.get(object_id, (now, now))
        self._stamps[object_id] = (created, now if touched else updated)
        return self._stamps[object_id]

    def _scope_id(self, scope: Scope) -> str:
        if not scope.id:
            scope.id = self.ids.new("scp")
        return scope.id

    def _policy_id(self, policy: AccessPolicy) -> str:
        if not policy.id:
            policy.id = self.ids.new("00p")
        return policy.id

    def _rule_id(self, rule: PolicyRule) -> str:
        if not rule.id:
            rule.id = self.ids.new("0pr")
        return rule.id

    def _href(self, path: str) -> str:
        return f"{self.org.org_url}{path}"

    # --- apps -------------------------------------------------------------------------------------

    def app_json(self, app: ServiceApp) -> dict[str, Any]:
        created, updated = self._stamp(app.client_id)
        oauth_credentials: dict[str, Any] = {"autoKeyRotation": True, "client_id": app.client_id,
                                             "token_endpoint_auth_method": app.token_endpoint_auth_method,
                                             "pkce_required": False}
        settings: dict[str, Any] = {
            "application_type": "service", "grant_types": list(app.grant_types), "response_types": ["token"],
            "redirect_uris": [], "consent_method": "TRUSTED", "issuer_mode": "ORG_URL",
            "dpop_bound_access_tokens": app.require_dpop,
        }
        if app.jwks:
            settings["jwks"] = {"keys": [dict(k) for k in app.jwks]}
        return {
            "id": app.client_id, "name": "oidc_client", "label": app.name, "status": "ACTIVE",
            "created": created, "lastUpdated": updated, "signOnMode": "OPENID_CONNECT",
            "accessibility": {"selfService": False, "errorRedirectUrl": None, "loginRedirectUrl": None},
            "visibility": {"autoSubmitToolbar": False, "hide": {"iOS": True, "web": True}},
            "features": [],
            "credentials": {"userNameTemplate": {"template": "${source.login}", "type": "BUILT_IN"},
                            "oauthClient": oauth_credentials},
            "settings": {"app": {}, "notifications": {"vpn": {"network": {"connection": "DISABLED"}}},
                         "oauthClient": settings},
            "_links": {"self": {"href": self._href(f"/api/v1/apps/{app.client_id}")}},
        }

    def _app_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        """What a create or full update sets, validated as Okta does for an API Services app."""
        if body.get("name") != "oidc_client" or body.get("signOnMode") != "OPENID_CONNECT":
            raise _invalid("name", "name: the lab serves OIDC apps only (name oidc_client, signOnMode OPENID_CONNECT)")
        label = body.get("label")
        if not isinstance(label, str) or not label.strip():
            raise _invalid("label", "label: The field cannot be left blank")
        credentials = (body.get("credentials") or {}).get("oauthClient") or {}
        settings = (body.get("settings") or {}).get("oauthClient")
        if not isinstance(settings, dict):
            raise _invalid("settings", "settings.oauthClient: The field cannot be left blank")
        method = credentials.get("token_endpoint_auth_method", "client_secret_basic")
        if method not in APP_AUTH_METHODS:
            raise _invalid("token_endpoint_auth_method",
                           f"token_endpoint_auth_method: must be one of {', '.join(APP_AUTH_METHODS)}")
        if settings.get("application_type") != "service":
            raise _invalid("application_type", "application_type: the lab serves API Services apps (service) only")
        grants = settings.get("grant_types")
        if not isinstance(grants, list) or not grants or any(g not in KNOWN_GRANT_TYPES for g in grants):
            raise _invalid("grant_types", "grant_types: must be a list of known grant types")
        if grants != [CLIENT_CREDENTIALS]:
            raise _invalid("grant_types", "grant_types: Service applications can only use the client_credentials "
                           "grant type")
        dpop = settings.get("dpop_bound_access_tokens", False)
        if not isinstance(dpop, bool):
            raise _invalid("dpop_bound_access_tokens", "dpop_bound_access_tokens: must be true or false")
        jwks = settings.get("jwks")
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if jwks is not None and not isinstance(keys, list):
            raise _invalid("jwks", "jwks: must be an object with a keys array")
        if method == "private_key_jwt" and not keys:
            raise _invalid("jwks", "jwks: A public key is required for the private_key_jwt client authentication "
                           "method")
        probe = ServiceApp("0oaprobe", label, method)
        for key in keys or []:
            if not isinstance(key, dict):
                raise _invalid("jwks", "jwks.keys: each key must be a JSON Web Key object")
            try:
                probe.add_public_key(key)
            except ValueError as exc:
                raise _invalid("jwks", f"jwks.keys: {exc}") from None
        return {"label": label.strip(), "method": method, "dpop": dpop, "jwks": probe.jwks,
                "secret": credentials.get("client_secret")}

    def list_apps(self, request: Request) -> Response:
        q = (request.query_params.get("q") or "").lower()
        apps = [a for a in self.org.apps.values()
                if not q or a.name.lower().startswith(q) or "oidc_client".startswith(q)]
        return self._page(request, "apps", [self.app_json(a) for a in apps])

    def create_app(self, body: dict[str, Any]) -> Response:
        fields = self._app_fields(body)
        app = self.org.create_service_app(fields["label"], public_jwk=fields["jwks"], require_dpop=fields["dpop"],
                                          token_endpoint_auth_method=fields["method"], client_secret=fields["secret"])
        self._stamp(app.client_id)
        shown = self.app_json(app)
        if app.client_secret:  # shown once, on create
            shown["credentials"]["oauthClient"]["client_secret"] = app.client_secret
        return JSONResponse(shown)

    def _app(self, app_id: str) -> ServiceApp:
        app = self.org.apps.get(app_id)
        if app is None:
            raise _not_found(app_id, "AppInstance")
        return app

    def get_app(self, app_id: str) -> Response:
        return JSONResponse(self.app_json(self._app(app_id)))

    def replace_app(self, app_id: str, body: dict[str, Any]) -> Response:
        app = self._app(app_id)
        fields = self._app_fields(body)
        if fields["method"] != app.token_endpoint_auth_method and fields["method"] != "private_key_jwt" \
                and not app.client_secret:
            raise _invalid("token_endpoint_auth_method", "token_endpoint_auth_method: a client secret must be "
                           "generated before switching to a secret-based method")
        app.name, app.token_endpoint_auth_method = fields["label"], fields["method"]
        app.require_dpop, app.jwks = fields["dpop"], fields["jwks"]
        self._stamp(app.client_id, touched=True)
        return JSONResponse(self.app_json(app))

    # --- authorization servers ---------------------------------------------------------------------

    def server_json(self, server: AuthorizationServer) -> dict[str, Any]:
        created, updated = self._stamp(server.id)
        base = f"/api/v1/authorizationServers/{server.id}"
        return {
            "id": server.id, "name": server.name, "description": server.description,
            "audiences": list(server.audiences), "issuer": server.issuer, "issuerMode": "ORG_URL",
            "status": "ACTIVE", "created": created, "lastUpdated": updated,
            "credentials": {"signing": {"rotationMode": "AUTO", "kid": server.kid, "use": "sig"}},
            "_links": {"self": {"href": self._href(base)}, "scopes": {"href": self._href(f"{base}/scopes")},
                       "policies": {"href": self._href(f"{base}/policies")}},
        }

    def _server_fields(self, body: dict[str, Any]) -> tuple[str, str, str]:
        name, description, audiences = body.get("name"), body.get("description"), body.get("audiences")
        causes = []
        if not isinstance(name, str) or not name.strip():
            causes.append("name: The field cannot be left blank")
        if not isinstance(description, str) or not description.strip():
            causes.append("description: The field cannot be left blank")
        if not isinstance(audiences, list) or len(audiences) != 1 or not isinstance(audiences[0], str) \
                or not audiences[0]:
            causes.append("audiences: An authorization server must have exactly one audience")
        if causes:
            raise _invalid("authorizationServer", *causes)
        return str(name).strip(), str(description), str(audiences[0])  # type: ignore[index]

    def _server(self, server_id: str) -> AuthorizationServer:
        server = self.org.authorization_servers.get(server_id)
        if server is None:
            raise _not_found(server_id, "AuthorizationServer")
        return server

    def list_servers(self, request: Request) -> Response:
        q = (request.query_params.get("q") or "").lower()
        servers = [s for s in self.org.authorization_servers.values()
                   if not q or s.name.lower().startswith(q) or any(a.lower().startswith(q) for a in s.audiences)]
        return self._page(request, "servers", [self.server_json(s) for s in servers])

    def create_server(self, body: dict[str, Any]) -> Response:
        name, description, audience = self._server_fields(body)
        if any(s.name == name for s in self.org.authorization_servers.values()):
            raise _invalid("name", "name: An authorization server with the same name already exists.")
        server = self.org.create_authorization_server(name, audience=audience, description=description)
        return JSONResponse(self.server_json(server))

    def get_server(self, server_id: str) -> Response:
        return JSONResponse(self.server_json(self._server(server_id)))

    def replace_server(self, server_id: str, body: dict[str, Any]) -> Response:
        server = self._server(server_id)
        name, description, audience = self._server_fields(body)
        if any(s.name == name and s.id != server.id for s in self.org.authorization_servers.values()):
            raise _invalid("name", "name: An authorization server with the same name already exists.")
        server.name, server.description = name, description
        server.set_audience(audience)
        self._stamp(server.id, touched=True)
        return JSONResponse(self.server_json(server))

    # --- scopes -----------------------------------------------------------------------------------

    def scope_json(self, scope: Scope, *, system: bool = False) -> dict[str, Any]:
        return {"id": self._scope_id(scope), "name": scope.name, "description": scope.description,
                "system": system, "default": scope.default, "displayName": scope.name, "consent": scope.consent,
                "optional": False, "metadataPublish": "ALL_CLIENTS" if scope.discoverable else "NO_CLIENTS"}

    def _system_scopes(self, server: AuthorizationServer) -> list[Scope]:
        cache = getattr(server, "_system_scopes", None)
        if cache is None:
            cache = [Scope(name, f"the OIDC {name} scope", discoverable=True) for name in OIDC_SCOPES]
            server._system_scopes = cache  # type: ignore[attr-defined]
        return cache

    def _scope_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or " " in name:
            raise _invalid("name", "name: A scope name must be a non-empty string without spaces")
        consent = body.get("consent", "IMPLICIT")
        publish = body.get("metadataPublish", "NO_CLIENTS")
        causes = []
        if consent not in ("IMPLICIT", "REQUIRED", "FLEXIBLE"):
            causes.append("consent: must be IMPLICIT, REQUIRED or FLEXIBLE")
        if publish not in ("NO_CLIENTS", "ALL_CLIENTS"):
            causes.append("metadataPublish: must be NO_CLIENTS or ALL_CLIENTS")
        if not isinstance(body.get("default", False), bool):
            causes.append("default: must be true or false")
        if not isinstance(body.get("description", ""), str):
            causes.append("description: must be a string")
        if causes:
            raise _invalid("scope", *causes)
        return {"name": name, "description": body.get("description", ""), "default": body.get("default", False),
                "discoverable": publish == "ALL_CLIENTS", "consent": "IMPLICIT" if consent == "FLEXIBLE" else consent}

    def list_scopes(self, request: Request, server_id: str) -> Response:
        server = self._server(server_id)
        q = (request.query_params.get("q") or "").lower()
        rows = [self.scope_json(s, system=True) for s in self._system_scopes(server)]
        rows += [self.scope_json(s) for s in server.scopes.values()]
        return self._page(request, "scopes", [r for r in rows if not q or r["name"].lower().startswith(q)])

    def create_scope(self, server_id: str, body: dict[str, Any]) -> Response:
        server = self._server(server_id)
        fields = self._scope_fields(body)
        if fields["name"] in server.scopes or fields["name"] in OIDC_SCOPES:
            raise _invalid("name", "name: A scope with the same name already exists.")
        scope = server.add_scope(fields["name"], description=fields["description"], default=fields["default"],
                                 discoverable=fields["discoverable"])
        scope.consent = fields["consent"]
        return JSONResponse(self.scope_json(scope))

    def _scope(self, server: AuthorizationServer, scope_id: str) -> Scope:
        found = next((s for s in server.scopes.values() if self._scope_id(s) == scope_id), None)
        if found is None:
            raise _not_found(scope_id, "OAuth2Scope")
        return found

    def get_scope(self, server_id: str, scope_id: str) -> Response:
        return JSONResponse(self.scope_json(self._scope(self._server(server_id), scope_id)))

    def replace_scope(self, server_id: str, scope_id: str, body: dict[str, Any]) -> Response:
        server = self._server(server_id)
        scope = self._scope(server, scope_id)
        fields = self._scope_fields(body)
        if fields["name"] != scope.name:
            if fields["name"] in server.scopes:
                raise _invalid("name", "name: A scope with the same name already exists.")
            server.scopes[fields["name"]] = server.scopes.pop(scope.name)
        scope.name, scope.description, scope.default = fields["name"], fields["description"], fields["default"]
        scope.discoverable, scope.consent = fields["discoverable"], fields["consent"]
        return JSONResponse(self.scope_json(scope))

    # --- access policies --------------------------------------------------------------------------

    def policy_json(self, server: AuthorizationServer, policy: AccessPolicy) -> dict[str, Any]:
        policy_id = self._policy_id(policy)
        created, updated = self._stamp(policy_id)
        base = f"/api/v1/authorizationServers/{server.id}/policies/{policy_id}"
        return {
            "type": "OAUTH_AUTHORIZATION_POLICY", "id": policy_id, "status": "ACTIVE", "name": policy.name,
            "description": policy.description, "priority": server.policies.index(policy) + 1, "system": False,
            "conditions": {"clients": {"include": ["ALL_CLIENTS"] if policy.clients is None else list(policy.clients)}},
            "created": created, "lastUpdated": updated,
            "_links": {"self": {"href": self._href(base)}, "rules": {"href": self._href(f"{base}/rules")}},
        }

    def _policy_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        causes = []
        if body.get("type", "OAUTH_AUTHORIZATION_POLICY") != "OAUTH_AUTHORIZATION_POLICY":
            causes.append("type: must be OAUTH_AUTHORIZATION_POLICY")
        name, description = body.get("name"), body.get("description")
        if not isinstance(name, str) or not name.strip():
            causes.append("name: The field cannot be left blank")
        if not isinstance(description, str) or not description.strip():
            causes.append("description: The field cannot be left blank")
        include = ((body.get("conditions") or {}).get("clients") or {}).get("include")
        if not isinstance(include, list) or not include or not all(isinstance(c, str) for c in include):
            causes.append("conditions.clients.include: must list client IDs, or ALL_CLIENTS")
        priority = body.get("priority", 1)
        if not isinstance(priority, int) or isinstance(priority, bool) or priority < 1:
            causes.append("priority: must be a whole number of 1 or more")
        if body.get("status", "ACTIVE") not in ("ACTIVE", "INACTIVE"):
            causes.append("status: must be ACTIVE or INACTIVE")
        elif body.get("status", "ACTIVE") == "INACTIVE":
            causes.append("status: the lab serves ACTIVE policies only")
        if causes:
            raise _invalid("policy", *causes)
        assert isinstance(include, list)
        if "ALL_CLIENTS" in include:
            clients = None
        else:
            unknown = [c for c in include if c not in self.org.apps]
            if unknown:
                raise _invalid("conditions", f"conditions.clients.include: unknown client id(s) {', '.join(unknown)}")
            clients = list(dict.fromkeys(include))
        return {"name": str(name).strip(), "description": description, "clients": clients, "priority": priority}

    def _place(self, items: list[Any], item: Any, priority: int) -> None:
        """Okta keeps priorities 1..n without gaps: an item asked to sit at ``priority`` moves the rest down."""
        if item in items:
            items.remove(item)
        items.insert(min(priority, len(items) + 1) - 1, item)

    def _policy(self, server: AuthorizationServer, policy_id: str) -> AccessPolicy:
        found = next((p for p in server.policies if self._policy_id(p) == policy_id), None)
        if found is None:
            raise _not_found(policy_id, "Policy")
        return found

    def list_policies(self, server_id: str) -> Response:
        server = self._server(server_id)
        return JSONResponse([self.policy_json(server, p) for p in server.policies])

    def create_policy(self, server_id: str, body: dict[str, Any]) -> Response:
        server = self._server(server_id)
        fields = self._policy_fields(body)
        if server.policy(fields["name"]) is not None:
            raise _invalid("name", "name: A policy with the same name already exists.")
        policy = server.add_policy(fields["name"], clients=fields["clients"], description=fields["description"])
        self._place(server.policies, policy, fields["priority"])
        return JSONResponse(self.policy_json(server, policy))

    def get_policy(self, server_id: str, policy_id: str) -> Response:
        server = self._server(server_id)
        return JSONResponse(self.policy_json(server, self._policy(server, policy_id)))

    def replace_policy(self, server_id: str, policy_id: str, body: dict[str, Any]) -> Response:
        server = self._server(server_id)
        policy = self._policy(server, policy_id)
        fields = self._policy_fields(body)
        if any(p.name == fields["name"] and p is not policy for p in server.policies):
            raise _invalid("name", "name: A policy with the same name already exists.")
        policy.name, policy.description, policy.clients = fields["name"], fields["description"], fields["clients"]
        self._place(server.policies, policy, fields["priority"])
        self._stamp(self._policy_id(policy), touched=True)
        return JSONResponse(self.policy_json(server, policy))

    # --- policy rules -------------------------------------------------------------------------------

    def rule_json(self, server: AuthorizationServer, policy: AccessPolicy, rule: PolicyRule) -> dict[str, Any]:
        rule_id = self._rule_id(rule)
        created, updated = self._stamp(rule_id)
        actions = {"accessTokenLifetimeMinutes": rule.access_token_lifetime_minutes,
                   "refreshTokenLifetimeMinutes": 0, "refreshTokenWindowMinutes": 10080,
                   **self._rule_actions.get(rule_id, {})}
        base = f"/api/v1/authorizationServers/{server.id}/policies/{self._policy_id(policy)}/rules/{rule_id}"
        return {
            "type": "RESOURCE_ACCESS", "id": rule_id, "status": "ACTIVE", "name": rule.name,
            "priority": policy.rules.index(rule) + 1, "system": False, "created": created, "lastUpdated": updated,
            "conditions": {
                "people": {"users": {"include": [], "exclude": []}, "groups": {"include": ["EVERYONE"], "exclude": []}},
                "grantTypes": {"include": list(rule.grant_types)},
                "scopes": {"include": ["*"] if rule.scopes is None else list(rule.scopes)},
            },
            "actions": {"token": actions},
            "_links": {"self": {"href": self._href(base)}},
        }

    def _rule_fields(self, server: AuthorizationServer, body: dict[str, Any]) -> dict[str, Any]:
        causes = []
        if body.get("type", "RESOURCE_ACCESS") != "RESOURCE_ACCESS":
            causes.append("type: must be RESOURCE_ACCESS")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            causes.append("name: The field cannot be left blank")
        conditions = body.get("conditions") or {}
        grants = (conditions.get("grantTypes") or {}).get("include")
        scopes = (conditions.get("scopes") or {}).get("include")
        if not isinstance(grants, list) or not grants or any(g not in KNOWN_GRANT_TYPES for g in grants):
            causes.append("conditions.grantTypes.include: must list grant types")
        if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
            causes.append("conditions.scopes.include: must list scope names, or *")
        elif "*" not in scopes:
            unknown = [s for s in scopes if s not in server.scopes and s not in OIDC_SCOPES]
            if unknown:
                causes.append(f"conditions.scopes.include: unknown scope(s) {', '.join(unknown)}")
        token = (body.get("actions") or {}).get("token") or {}
        lifetime = token.get("accessTokenLifetimeMinutes", 60)
        if not isinstance(lifetime, int) or isinstance(lifetime, bool) \
                or not MIN_TOKEN_MINUTES <= lifetime <= MAX_TOKEN_MINUTES:
            causes.append(f"actions.token.accessTokenLifetimeMinutes: must be from {MIN_TOKEN_MINUTES} to "
                          f"{MAX_TOKEN_MINUTES}")
        priority = body.get("priority", 1)
        if not isinstance(priority, int) or isinstance(priority, bool) or priority < 1:
            causes.append("priority: must be a whole number of 1 or more")
        if body.get("status", "ACTIVE") != "ACTIVE":
            causes.append("status: the lab serves ACTIVE rules only")
        if causes:
            raise _invalid("rule", *causes)
        assert isinstance(grants, list) and isinstance(scopes, list)
        extra = {k: token[k] for k in ("refreshTokenLifetimeMinutes", "refreshTokenWindowMinutes")
                 if isinstance(token.get(k), int)}
        return {"name": str(name).strip(), "grants": grants, "scopes": None if "*" in scopes else scopes,
                "lifetime": lifetime, "priority": priority, "extra": extra}

    def _rule(self, policy: AccessPolicy, rule_id: str) -> PolicyRule:
        found = next((r for r in policy.rules if self._rule_id(r) == rule_id), None)
        if found is None:
            raise _not_found(rule_id, "PolicyRule")
        return found

    def list_rules(self, server_id: str, policy_id: str) -> Response:
        server = self._server(server_id)
        policy = self._policy(server, policy_id)
        return JSONResponse([self.rule_json(server, policy, r) for r in policy.rules])

    def create_rule(self, server_id: str, policy_id: str, body: dict[str, Any]) -> Response:
        server = self._server(server_id)
        policy = self._policy(server, policy_id)
        fields = self._rule_fields(server, body)
        if any(r.name == fields["name"] for r in policy.rules):
            raise _invalid("name", "name: A rule with the same name already exists in this policy.")
        rule = PolicyRule(fields["name"], fields["grants"], fields["scopes"], fields["lifetime"])
        self._place(policy.rules, rule, fields["priority"])
        self._rule_actions[self._rule_id(rule)] = fields["extra"]
        return JSONResponse(self.rule_json(server, policy, rule))

    def get_rule(self, server_id: str, policy_id: str, rule_id: str) -> Response:
        server = self._server(server_id)
        policy = self._policy(server, policy_id)
        return JSONResponse(self.rule_json(server, policy, self._rule(policy, rule_id)))

    def replace_rule(self, server_id: str, policy_id: str, rule_id: str, body: dict[str, Any]) -> Response:
        server = self._server(server_id)
        policy = self._policy(server, policy_id)
        rule = self._rule(policy, rule_id)
        fields = self._rule_fields(server, body)
        if any(r.name == fields["name"] and r is not rule for r in policy.rules):
            raise _invalid("name", "name: A rule with the same name already exists in this policy.")
        rule.name, rule.grant_types, rule.scopes = fields["name"], fields["grants"], fields["scopes"]
        rule.access_token_lifetime_minutes = fields["lifetime"]
        self._place(policy.rules, rule, fields["priority"])
        self._rule_actions[rule_id] = fields["extra"]
        self._stamp(rule_id, touched=True)
        return JSONResponse(self.rule_json(server, policy, rule))

    # --- paging -----------------------------------------------------------------------------------

    def _page(self, request: Request, kind: str, rows: list[dict[str, Any]]) -> Response:
        default, maximum = PAGE_DEFAULTS[kind]
        raw = request.query_params.get("limit")
        try:
            limit = default if raw is None else int(raw)
        except ValueError:
            raise _invalid("limit", "limit: must be a number") from None
        limit = max(1, min(limit, maximum))
        after = request.query_params.get("after")
        ids = [r["id"] for r in rows]
        start = ids.index(after) + 1 if after in ids else 0
        page = rows[start:start + limit]
        headers = {}
        if start + limit < len(rows):
            query = {k: v for k, v in request.query_params.items() if k != "after"}
            query.update(after=page[-1]["id"], limit=str(limit))
            headers["link"] = f'<{self._href(request.url.path)}?{urlencode(query)}>; rel="next"'
        return JSONResponse(page, headers=headers)


# --- HTTP -----------------------------------------------------------------------------------------

Handler = Callable[[ManagementApi, Request, dict[str, Any]], Response]
A = "/api/v1/apps"
S = "/api/v1/authorizationServers"
ROUTES: dict[str, dict[str, Handler]] = {
    A: {"GET": lambda m, r, b: m.list_apps(r), "POST": lambda m, r, b: m.create_app(b)},
    A + "/{app_id}": {"GET": lambda m, r, b: m.get_app(r.path_params["app_id"]),
                      "PUT": lambda m, r, b: m.replace_app(r.path_params["app_id"], b)},
    S: {"GET": lambda m, r, b: m.list_servers(r), "POST": lambda m, r, b: m.create_server(b)},
    S + "/{server_id}": {"GET": lambda m, r, b: m.get_server(r.path_params["server_id"]),
                         "PUT": lambda m, r, b: m.replace_server(r.path_params["server_id"], b)},
    S + "/{server_id}/scopes": {"GET": lambda m, r, b: m.list_scopes(r, r.path_params["server_id"]),
                                "POST": lambda m, r, b: m.create_scope(r.path_params["server_id"], b)},
    S + "/{server_id}/scopes/{scope_id}": {
        "GET": lambda m, r, b: m.get_scope(r.path_params["server_id"], r.path_params["scope_id"]),
        "PUT": lambda m, r, b: m.replace_scope(r.path_params["server_id"], r.path_params["scope_id"], b)},
    S + "/{server_id}/policies": {"GET": lambda m, r, b: m.list_policies(r.path_params["server_id"]),
                                  "POST": lambda m, r, b: m.create_policy(r.path_params["server_id"], b)},
    S + "/{server_id}/policies/{policy_id}": {
        "GET": lambda m, r, b: m.get_policy(r.path_params["server_id"], r.path_params["policy_id"]),
        "PUT": lambda m, r, b: m.replace_policy(r.path_params["server_id"], r.path_params["policy_id"], b)},
    S + "/{server_id}/policies/{policy_id}/rules": {
        "GET": lambda m, r, b: m.list_rules(r.path_params["server_id"], r.path_params["policy_id"]),
        "POST": lambda m, r, b: m.create_rule(r.path_params["server_id"], r.path_params["policy_id"], b)},
    S + "/{server_id}/policies/{policy_id}/rules/{rule_id}": {
        "GET": lambda m, r, b: m.get_rule(r.path_params["server_id"], r.path_params["policy_id"],
                                          r.path_params["rule_id"]),
        "PUT": lambda m, r, b: m.replace_rule(r.path_params["server_id"], r.path_params["policy_id"],
                                              r.path_params["rule_id"], b)},
}


async def _json_body(request: Request) -> dict[str, Any]:
    """A JSON object, read strictly (:mod:`..inbound`): NaN, out-of-range numbers, lone surrogates and deep
    nesting are as malformed as broken syntax, so nothing that cannot be written back out is ever stored."""
    try:
        return await json_object(request, limit=_BODY_LIMIT)
    except Rejected:
        raise Refused(E.api_error(400, "E0000003", "The request body was not well-formed.")) from None


def _endpoint(api: ManagementApi, methods: dict[str, Handler]) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            handler = methods.get(request.method)
            if handler is None:
                return E.api_error(405, "E0000022", "The endpoint does not support the provided HTTP method",
                                   headers={"allow": ", ".join(methods)})
            api._caller(request)
            body = await _json_body(request) if request.method in ("POST", "PUT") else {}
            return handler(api, request, body)
        except Refused as refused:
            return refused.response

    return endpoint


def management_routes(api: ManagementApi) -> list[Route]:
    """One route per path, every method answered (Okta's 405 for the ones a path does not take)."""
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return [Route(path, _endpoint(api, table), methods=methods) for path, table in ROUTES.items()]
