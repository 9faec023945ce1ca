"""The Admin API operations on the store, independent of HTTP (lab code can call them directly)."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from ....rules import tenant_pinning_problem
from .paging import ListQuery, cursor_page, keyed_page, query_bool, query_limit
from .validation import (
    ADMIN_SCOPE,
    DEFAULT_LIFETIME,
    MAX_JWT_LIFETIME,
    SERVICE_ACCOUNT_ROLES,
    TOKEN_LIFETIME,
    WORKSPACE_PAGE_LIMIT,
    WORKSPACE_ROLES,
    AdminError,
    Caller,
    bad_request,
    boolean_field,
    bounded_field,
    check_fields,
    check_issuer_urls,
    conflict,
    console_only,
    name_field,
    needs_console,
    not_found,
    optional_field,
    parse_jwks,
    parse_match,
    parse_scope,
    parse_target,
    string_field,
)

if TYPE_CHECKING:
    from ..store import Store


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
        ref = string_field(ref, field)
        if allow_default:  # the literal "default" names the org's default workspace
            ws_id = self.store.resolve_workspace_ref(ref)
        else:
            ws_id = ref if ref in self.store.workspaces else None
        if ws_id is None:
            raise bad_request(f"{field}: workspace {ref!r} does not exist in this organization")
        if self.store.workspaces[ws_id].get("archived_at"):
            raise bad_request(f"{field}: workspace {ref!r} is archived")
        return ws_id

    def _require_member(self, sa: dict[str, Any], ws_id: str) -> None:
        """wif-reference / wif-admin-api (rule ``workspace_id``): the target service account must be a
        member of the workspace the rule names. Every account belongs to the default workspace."""
        if not self.store.is_member(sa["id"], ws_id):
            raise bad_request(
                f"workspace_id: service account {sa['id']!r} is not a member of workspace {ws_id!r}; add it first "
                f"with POST /v1/organizations/service_accounts/{sa['id']}/workspaces"
            )

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
        check_fields(body, {"issuer_url", "name", "check_jti", "jwks", "max_jwt_lifetime_seconds"},
                     ("issuer_url", "name"))
        name = name_field(body["name"])
        jwks = parse_jwks(body["jwks"] if body.get("jwks") is not None else {"type": "discovery"})
        issuer_url = check_issuer_urls(body["issuer_url"], jwks)
        check_jti = optional_field(body, "check_jti", boolean_field, True)
        lifetime = optional_field(body, "max_jwt_lifetime_seconds", bounded_field(MAX_JWT_LIFETIME), DEFAULT_LIFETIME)
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
        check_fields(body, {"check_jti", "issuer_url", "jwks", "jwks_polling_disabled", "max_jwt_lifetime_seconds",
                            "name"})
        with self.store.lock:
            issuer = self._issuer(issuer_id)
            if issuer.get("archived_at"):
                raise bad_request(
                    f"federation issuer {issuer_id!r} is archived and cannot be updated; create a new issuer instead"
                )
            parsed = {
                "name": optional_field(body, "name", name_field, None),
                "jwks": optional_field(body, "jwks", lambda value, _: parse_jwks(value), None),
                "check_jti": optional_field(body, "check_jti", boolean_field, None),
                "max_jwt_lifetime_seconds": optional_field(
                    body, "max_jwt_lifetime_seconds", bounded_field(MAX_JWT_LIFETIME), None
                ),
            }
            changes = {key: value for key, value in parsed.items() if value is not None}
            if body.get("issuer_url") is not None or "jwks" in changes:
                # Which URLs are dialed depends on the JWKS mode, so check the result as a whole.
                url = issuer["issuer_url"] if body.get("issuer_url") is None else body["issuer_url"]
                changes["issuer_url"] = check_issuer_urls(url, changes.get("jwks", issuer["jwks"]))
            if "issuer_url" in changes:
                for rule in self._live_rules(lambda r: r["issuer_id"] == issuer_id):
                    problem = tenant_pinning_problem(changes["issuer_url"], rule["match"])
                    if problem:
                        raise bad_request(f"issuer_url: live rule {rule['id']!r} does not pin a tenant; {problem}")
            if body.get("jwks_polling_disabled") is not None:
                if boolean_field(body["jwks_polling_disabled"], "jwks_polling_disabled"):
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
        check_fields(body, ())
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
        check_fields(
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
        name = name_field(body["name"])
        issuer_id = string_field(body["issuer_id"], "issuer_id")
        match = parse_match(body["match"])
        sa_id = parse_target(body["target"])
        scope = parse_scope(body["oauth_scope"])
        lifetime = optional_field(body, "token_lifetime_seconds", bounded_field(TOKEN_LIFETIME), DEFAULT_LIFETIME)
        all_workspaces = optional_field(body, "applies_to_all_workspaces", boolean_field, False)
        description = optional_field(body, "description", string_field, None)
        if body.get("workspace_id") is None and not all_workspaces:
            raise bad_request("workspace_id: field required unless applies_to_all_workspaces is true")
        with self.store.lock:
            issuer = self.store.issuers.get(issuer_id)
            if issuer is None:
                raise bad_request(f"issuer_id: federation issuer {issuer_id!r} does not exist")
            if issuer.get("archived_at"):
                raise bad_request(f"issuer_id: federation issuer {issuer_id!r} is archived")
            problem = tenant_pinning_problem(issuer["issuer_url"], match)
            if problem:
                raise bad_request(problem)
            sa = self._live_target(sa_id)
            ws_id = None if body.get("workspace_id") is None else self._workspace_in_body(body["workspace_id"])
            if ws_id is not None:
                self._require_member(sa, ws_id)
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
        check_fields(
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
            "name": optional_field(body, "name", name_field, None),
            "match": optional_field(body, "match", lambda value, _: parse_match(value), None),
            "token_lifetime_seconds": optional_field(body, "token_lifetime_seconds", bounded_field(TOKEN_LIFETIME),
                                                     None),
            "applies_to_all_workspaces": optional_field(body, "applies_to_all_workspaces", boolean_field, None),
        }
        changes = {key: value for key, value in parsed.items() if value is not None}
        if "description" in body:  # null clears it (stored as the empty string)
            changes["description"] = optional_field(body, "description", string_field, "")
        sa_id = optional_field(body, "target", lambda value, _: parse_target(value), None)
        scope = optional_field(body, "oauth_scope", lambda value, _: parse_scope(value), None)
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
            # The rule's workspace_id (the one create/update set) must keep naming a workspace its target
            # belongs to, whichever of the two this update changes.
            bound = ws_id or rule.get("workspace_id")
            if bound is not None and (ws_id is not None or sa is not None):
                self._require_member(sa or self.store.service_accounts[rule["target"]["service_account_id"]], bound)
            if (
                changes.get("applies_to_all_workspaces") is False
                and ws_id is None
                and not (rule["workspace_ids"] or rule["workspace_id"])
            ):
                raise bad_request(
                    "applies_to_all_workspaces: cannot be false while the rule is enabled for no "
                    "workspace; pass workspace_id or enable a workspace first"
                )
            # Re-checked on every update: a stored rule that does not pin the tenant needs a conforming
            # match in the same update, whatever else the update changes.
            problem = tenant_pinning_problem(self.store.issuers[rule["issuer_id"]]["issuer_url"],
                                             changes.get("match", rule["match"]))
            if problem:
                raise bad_request(problem)
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
        check_fields(body, ())
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
        check_fields(body, {"workspace_id"}, ("workspace_id",))
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
        role = string_field(value, "organization_role")
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
        check_fields(body, {"name", "description", "organization_role"}, ("name",))
        name = name_field(body["name"])
        description = optional_field(body, "description", string_field, None)
        role = optional_field(body, "organization_role", lambda value, _: self._check_role(value, caller), "developer")
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
        check_fields(body, {"description", "organization_role"})
        with self.store.lock:
            sa = self._service_account(sa_id)
            if sa.get("archived_at"):
                raise bad_request(f"service account {sa_id!r} is archived and cannot be updated")
            changes: dict[str, Any] = {}
            if "description" in body:  # null clears it (stored as the empty string)
                changes["description"] = optional_field(body, "description", string_field, "")
            if body.get("organization_role") is not None:  # null leaves it unchanged
                changes["organization_role"] = self._check_role(body["organization_role"], caller)
            sa.update(changes)
            sa["updated_at"] = self.store.now_iso()
            sa["updated_by_actor_id"] = caller.actor_id
            return copy.deepcopy(sa)

    def archive_service_account(self, sa_id: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        check_fields(body, ())
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
            if page is None:
                if sa.get("archived_at"):
                    return {"data": [], "next_page": None}
                if self.store.default_workspace_id not in self.store.sa_workspaces.get(sa_id, {}):
                    head.append(self._implicit_membership(sa_id))
            result = keyed_page("svws", explicit, "workspace_id", limit, page)
            result["data"] = head + result["data"]
            return result

    @staticmethod
    def _workspace_role(value: Any) -> str:
        role = string_field(value, "workspace_role")
        if role == "workspace_billing":
            raise bad_request("workspace_role: service accounts cannot hold the workspace_billing role")
        if role not in WORKSPACE_ROLES:
            raise bad_request(f"workspace_role: must be one of {', '.join(WORKSPACE_ROLES)}")
        return role

    def add_membership(self, sa_id: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        check_fields(body, {"workspace_id", "workspace_role"}, ("workspace_id", "workspace_role"))
        role = self._workspace_role(body["workspace_role"])
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

    # ----- the same memberships seen from the workspace (/workspaces/{id}/service_accounts)

    def _member_workspace(self, ref: str) -> str:
        workspace = self._workspace_in_path(ref)
        if workspace.get("archived_at"):
            raise bad_request(f"workspace {ref!r} is archived")
        return workspace["id"]

    def get_workspace_member(self, workspace_ref: str, sa_id: str) -> dict[str, Any]:
        """An explicit membership, or the implicit one every account has in the default workspace."""
        with self.store.lock:
            ws_id = self._member_workspace(workspace_ref)
            sa = self._service_account(sa_id)
            if sa.get("archived_at"):
                raise not_found("service account", sa_id)
            member = self.store.sa_workspaces.get(sa_id, {}).get(ws_id)
            if member is not None:
                return copy.deepcopy(member)
            if ws_id == self.store.default_workspace_id:
                return self._implicit_membership(sa_id)
            raise not_found("workspace membership", f"{sa_id} in {ws_id}")

    def update_workspace_member(self, workspace_ref: str, sa_id: str, body: dict[str, Any]) -> dict[str, Any]:
        check_fields(body, {"workspace_role"}, ("workspace_role",))
        role = self._workspace_role(body["workspace_role"])
        with self.store.lock:
            ws_id = self._member_workspace(workspace_ref)
            sa = self._service_account(sa_id)
            if sa.get("archived_at"):
                raise bad_request(f"service account {sa_id!r} is archived and cannot be updated")
            member = self.store.sa_workspaces.get(sa_id, {}).get(ws_id)
            if member is None:
                if ws_id == self.store.default_workspace_id:
                    raise bad_request(
                        "workspace_role: the default-workspace membership is implicit and cannot be updated; "
                        f"add the service account explicitly with POST /v1/organizations/workspaces/{ws_id}"
                        "/service_accounts"
                    )
                raise not_found("workspace membership", f"{sa_id} in {ws_id}")
            member["workspace_role"] = role
            return copy.deepcopy(member)

    def list_workspace_members(self, workspace_ref: str, limit: int, page: str | None) -> dict[str, Any]:
        """Explicit memberships of live accounts only: no implicit default entries, no archived accounts."""
        with self.store.lock:
            ws_id = self._member_workspace(workspace_ref)
            members = [
                self.store.sa_workspaces[sa_id][ws_id]
                for sa_id, sa in self.store.service_accounts.items()
                if sa.get("archived_at") is None and ws_id in self.store.sa_workspaces.get(sa_id, {})
            ]
            return keyed_page("wssv", members, "service_account_id", limit, page)

    def add_workspace_member(self, workspace_ref: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        check_fields(body, {"service_account_id", "workspace_role"}, ("service_account_id", "workspace_role"))
        sa_id = string_field(body["service_account_id"], "service_account_id")
        with self.store.lock:
            ws_id = self._member_workspace(workspace_ref)
            if sa_id not in self.store.service_accounts:
                raise bad_request(f"service_account_id: service account {sa_id!r} does not exist")
            return self.add_membership(sa_id, {"workspace_id": ws_id, "workspace_role": body["workspace_role"]},
                                       caller)

    def remove_workspace_member(self, workspace_ref: str, sa_id: str) -> dict[str, Any]:
        with self.store.lock:
            ws_id = self._workspace_in_path(workspace_ref)["id"]
            return self.remove_membership(sa_id, ws_id)

    # ----- organization and workspaces (read-only here; the lab creates workspaces itself)

    def organization(self) -> dict[str, Any]:
        return {"id": self.store.organization_id, "type": "organization", "name": self.store.organization_name}

    def list_workspaces(self, request: Request) -> dict[str, Any]:
        """``SyncPage`` shape (``data``, ``has_more``, ``first_id``, ``last_id``), paged by id."""
        include_archived = query_bool(request, "include_archived")
        include_default = query_bool(request, "include_default")
        limit = query_limit(request, WORKSPACE_PAGE_LIMIT)
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


