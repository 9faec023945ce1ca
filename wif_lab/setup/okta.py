"""``wif-lab setup okta``: the Okta side of the Okta guide, through Okta's Management API.

The API Services app (client authentication ``private_key_jwt`` with the workload's public JWK, the
"Require DPoP" setting), the custom authorization server (found by name, created when missing) with
its audience, the scope, and an access policy assigned to the app with one rule for the
client-credentials grant and that scope. Found by name, changed only where they differ; updates send
the whole object back (``PUT``), as Okta requires. The API token comes from ``OKTA_API_TOKEN`` and goes
out as ``Authorization: SSWS <token>``.
"""

from __future__ import annotations

import os
import re
from typing import Any

import httpx

from .. import http
from ..errors import ConfigurationError, ProviderError
from .okta_config import OktaConfig
from .plan import CREATE, NEW, UNCHANGED, UPDATE, Plan, Step, diff

ENV_API_TOKEN = "OKTA_API_TOKEN"
TOKEN_HINT = (f"export {ENV_API_TOKEN} with an Okta API token (Security → API → Tokens) of an admin who may manage "
              "apps and authorization servers")
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


def api_token_from_env() -> str:
    token = os.environ.get(ENV_API_TOKEN, "").strip()
    if not token:
        raise ConfigurationError(f"{ENV_API_TOKEN} is not set: setup needs an Okta API token", hint=TOKEN_HINT)
    return token


class OktaApi:
    """A small client for ``/api/v1``: SSWS auth, Link-header paging, Okta's error shape turned into one error."""

    def __init__(self, org_url: str, token: str, *, verify: http.Verify = True, deadline: float = 30.0) -> None:
        self.org_url = org_url
        self._headers = {"authorization": f"SSWS {token}", "accept": "application/json"}
        self._verify = verify
        self._deadline = deadline
        self._client = http.client(verify, deadline=deadline, headers=self._headers)

    def close(self) -> None:
        self._client.close()

    def call(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        url = path if path.startswith("https://") else f"{self.org_url}{path}"
        with http.failures(url, what="Okta's Management API", deadline=self._deadline,
                           hint="org_url in [okta], the network path to it, and ca_bundle behind a TLS proxy"):
            response = self._client.request(method, url, json=body, params=params)
        self._check(method, url, response)
        return response.json() if response.content else None

    def all(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every page of a list (Okta pages with ``after`` cursors named in the ``Link`` header)."""
        rows: list[dict[str, Any]] = []
        url: str | None = f"{self.org_url}{path}"
        while url:
            with http.failures(url, what="Okta's Management API", deadline=self._deadline):
                response = self._client.get(url, params=params)
            self._check("GET", url, response)
            rows.extend(response.json())
            found = _NEXT.search(response.headers.get("link", ""))
            url, params = (found.group(1), None) if found else (None, None)
        return rows

    def _check(self, method: str, url: str, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        try:
            body = response.json()
        except ValueError:
            body = {}
        code = body.get("errorCode") if isinstance(body, dict) else None
        summary = body.get("errorSummary") if isinstance(body, dict) else None
        causes = [c.get("errorSummary") for c in (body.get("errorCauses") or []) if isinstance(c, dict)] \
            if isinstance(body, dict) else []
        detail = f"{code} {summary}" if code else response.text[:200]
        if causes:
            detail += " (" + "; ".join(str(c) for c in causes) + ")"
        hints = {401: TOKEN_HINT + "; the token may have been revoked or have expired after 30 days unused",
                 403: "the API token's admin needs a role that may manage apps and authorization servers (e.g. "
                      "Super Administrator), and API Access Management must be enabled for custom servers",
                 404: "org_url in [okta] names your org; an id in the path may have been deleted meanwhile",
                 429: "Okta's rate limit: wait for X-Rate-Limit-Reset and run again (the run is idempotent)"}
        raise ProviderError(f"Okta refused {method} {url.split('?')[0]} (HTTP {response.status_code}): {detail}",
                            status=response.status_code, error=code, description=summary,
                            hint=hints.get(response.status_code, "the setup file's value for the field named above"))


def _public(jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: jwk[k] for k in ("kty", "kid", "use", "alg", "n", "e", "crv", "x", "y") if k in jwk}


class OktaSetup:
    def __init__(self, config: OktaConfig, *, api_token: str | None = None, api: OktaApi | None = None) -> None:
        self.config = config
        self.api = api or OktaApi(config.org_url, api_token or api_token_from_env(),
                                  verify=str(config.ca_bundle) if config.ca_bundle else True)

    def run(self, *, dry_run: bool = False) -> Plan:
        """Create or update the app, server, scope, policy and rule; ``dry_run`` only says what would change."""
        cfg = self.config
        plan = Plan(f"Okta setup from {cfg.source.name}", dry_run)
        try:
            client_id = self._app(plan, dry_run)
            server = self._server(plan, dry_run)
            server_id = server["id"] if server else NEW
            self._scope(plan, dry_run, server_id)
            policy_id = self._policy(plan, dry_run, server_id, client_id)
            self._rule(plan, dry_run, server_id, policy_id)
        finally:
            self.api.close()
        issuer = server["issuer"] if server else f"{cfg.org_url}/oauth2/{NEW}"
        plan.values = {"okta_issuer": issuer, "okta_client_id": client_id, "okta_key_id": cfg.jwk["kid"],
                       "okta_scope": cfg.scope, "audience": cfg.audience}
        return plan

    # --- the app --------------------------------------------------------------------------------

    def _app_body(self, current: dict[str, Any] | None) -> dict[str, Any]:
        cfg = self.config
        body: dict[str, Any] = dict(current or {})
        for key in ("id", "created", "lastUpdated", "_links", "_embedded"):
            body.pop(key, None)
        body.update(name="oidc_client", label=cfg.app_label, signOnMode="OPENID_CONNECT")
        credentials = dict((body.get("credentials") or {}).get("oauthClient") or {})
        credentials["token_endpoint_auth_method"] = "private_key_jwt"
        body["credentials"] = {**(body.get("credentials") or {}), "oauthClient": credentials}
        settings = dict((body.get("settings") or {}).get("oauthClient") or {})
        settings.update(application_type="service", grant_types=["client_credentials"], response_types=["token"],
                        dpop_bound_access_tokens=cfg.require_dpop, jwks={"keys": [cfg.jwk]})
        body["settings"] = {**(body.get("settings") or {}), "oauthClient": settings}
        return body

    def _app(self, plan: Plan, dry_run: bool) -> str:
        cfg = self.config
        found = [a for a in self.api.all("/api/v1/apps", {"q": cfg.app_label}) if a.get("label") == cfg.app_label]
        if len(found) > 1:
            raise ConfigurationError(f"{len(found)} Okta apps are labelled {cfg.app_label!r}",
                                     hint="delete or relabel all but one, or choose another label in [okta.app]")
        wanted = {"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"],
                  "dpop_bound_access_tokens": cfg.require_dpop, "public keys": [_public(cfg.jwk)]}
        if not found:
            plan.add(Step("Okta app (API Services)", cfg.app_label, CREATE, diff({}, wanted)))
            if dry_run:
                return NEW
            made = self.api.call("POST", "/api/v1/apps", body=self._app_body(None))
            plan.steps[-1].object_id = made["id"]
            return str(made["credentials"]["oauthClient"]["client_id"])
        app = found[0]
        settings = app.get("settings", {}).get("oauthClient", {})
        current = {"token_endpoint_auth_method": app["credentials"]["oauthClient"]["token_endpoint_auth_method"],
                   "grant_types": settings.get("grant_types"),
                   "dpop_bound_access_tokens": settings.get("dpop_bound_access_tokens", False),
                   "public keys": [_public(k) for k in (settings.get("jwks") or {}).get("keys", [])]}
        changes = diff(current, wanted)
        plan.add(Step("Okta app (API Services)", cfg.app_label, UPDATE if changes else UNCHANGED, changes, app["id"]))
        if changes and not dry_run:
            full = self.api.call("GET", f"/api/v1/apps/{app['id']}")
            self.api.call("PUT", f"/api/v1/apps/{app['id']}", body=self._app_body(full))
        return str(app["credentials"]["oauthClient"]["client_id"])

    # --- the authorization server ------------------------------------------------------------------

    def _server(self, plan: Plan, dry_run: bool) -> dict[str, Any] | None:
        cfg = self.config
        servers = [s for s in self.api.all("/api/v1/authorizationServers", {"q": cfg.server_name})
                   if s.get("name") == cfg.server_name]
        wanted = {"audiences": [cfg.audience], "description": cfg.server_description}
        body = {"name": cfg.server_name, **wanted}
        if not servers:
            step = plan.add(Step("authorization server", cfg.server_name, CREATE, diff({}, wanted)))
            if dry_run:
                return None
            made: dict[str, Any] = self.api.call("POST", "/api/v1/authorizationServers", body=body)
            step.object_id = made["id"]
            return made
        server = servers[0]
        changes = diff(server, wanted)
        plan.add(Step("authorization server", cfg.server_name, UPDATE if changes else UNCHANGED, changes, server["id"]))
        if changes and not dry_run:
            server = self.api.call("PUT", f"/api/v1/authorizationServers/{server['id']}",
                                   body={**{k: server[k] for k in ("name", "description", "audiences")}, **wanted})
        return server

    # --- scope, policy, rule ------------------------------------------------------------------------

    def _scope(self, plan: Plan, dry_run: bool, server_id: str) -> None:
        cfg = self.config
        base = f"/api/v1/authorizationServers/{server_id}/scopes"
        existing = [] if server_id == NEW else [s for s in self.api.all(base) if s.get("name") == cfg.scope]
        # Listed in discovery (like the guide's scope), granted without a consent screen.
        wanted = {"description": cfg.scope_description, "consent": "IMPLICIT", "metadataPublish": "ALL_CLIENTS"}
        if not existing:
            step = plan.add(Step("scope", cfg.scope, CREATE, diff({}, wanted)))
            if not dry_run:
                step.object_id = self.api.call("POST", base, body={"name": cfg.scope, **wanted})["id"]
            return
        scope = existing[0]
        changes = diff(scope, wanted)
        plan.add(Step("scope", cfg.scope, UPDATE if changes else UNCHANGED, changes, scope["id"]))
        if changes and not dry_run:
            kept = {k: scope[k] for k in ("name", "default", "displayName") if k in scope}
            self.api.call("PUT", f"{base}/{scope['id']}", body={**kept, **wanted})

    def _policy(self, plan: Plan, dry_run: bool, server_id: str, client_id: str) -> str:
        cfg = self.config
        base = f"/api/v1/authorizationServers/{server_id}/policies"
        listed = [] if server_id == NEW else self.api.call("GET", base)
        existing = [p for p in listed if p.get("name") == cfg.policy_name]
        if not existing:
            wanted = {"description": cfg.policy_description, "conditions": {"clients": {"include": [client_id]}}}
            step = plan.add(Step("access policy", cfg.policy_name, CREATE, diff({}, wanted)))
            if dry_run:
                return NEW
            made = self.api.call("POST", base, body={"type": "OAUTH_AUTHORIZATION_POLICY", "status": "ACTIVE",
                                                     "name": cfg.policy_name, "priority": 1, **wanted})
            step.object_id = made["id"]
            return str(made["id"])
        policy = existing[0]
        include = list(policy.get("conditions", {}).get("clients", {}).get("include", []))
        # The policy may hold other apps too: this app is added, never the others removed.
        assigned = include if "ALL_CLIENTS" in include or client_id in include else [*include, client_id]
        wanted = {"description": cfg.policy_description, "status": "ACTIVE",
                  "conditions": {"clients": {"include": assigned}}}
        changes = diff(policy, wanted)
        plan.add(Step("access policy", cfg.policy_name, UPDATE if changes else UNCHANGED, changes, policy["id"]))
        if changes and not dry_run:
            kept = {k: policy[k] for k in ("type", "name", "priority") if k in policy}
            self.api.call("PUT", f"{base}/{policy['id']}", body={**kept, **wanted})
        return str(policy["id"])

    def _rule(self, plan: Plan, dry_run: bool, server_id: str, policy_id: str) -> None:
        cfg = self.config
        base = f"/api/v1/authorizationServers/{server_id}/policies/{policy_id}/rules"
        existing = [] if NEW in (server_id, policy_id) else [
            r for r in self.api.call("GET", base) if r.get("name") == cfg.rule_name]
        wanted = {"conditions": {"grantTypes": {"include": ["client_credentials"]},
                                 "scopes": {"include": [cfg.scope]}},
                  "actions": {"token": {"accessTokenLifetimeMinutes": cfg.token_minutes}}}
        body = {"type": "RESOURCE_ACCESS", "status": "ACTIVE", "name": cfg.rule_name, "priority": 1,
                # People conditions apply to user grants; "everyone" keeps them out of the way.
                "conditions": {"people": {"groups": {"include": ["EVERYONE"]}}, **wanted["conditions"]},
                "actions": {"token": {**wanted["actions"]["token"], "refreshTokenLifetimeMinutes": 0,
                                      "refreshTokenWindowMinutes": 10080}}}
        if not existing:
            step = plan.add(Step("access policy rule", cfg.rule_name, CREATE, diff({}, wanted)))
            if not dry_run:
                step.object_id = self.api.call("POST", base, body=body)["id"]
            return
        rule = existing[0]
        current = {"conditions": {k: rule.get("conditions", {}).get(k) for k in ("grantTypes", "scopes")},
                   "actions": {"token": {"accessTokenLifetimeMinutes":
                                         rule.get("actions", {}).get("token", {}).get("accessTokenLifetimeMinutes")}}}
        changes = diff(current, wanted)
        plan.add(Step("access policy rule", cfg.rule_name, UPDATE if changes else UNCHANGED, changes, rule["id"]))
        if changes and not dry_run:
            body["priority"] = rule.get("priority", 1)
            body["conditions"]["people"] = rule.get("conditions", {}).get("people", body["conditions"]["people"])
            self.api.call("PUT", f"{base}/{rule['id']}", body=body)
