"""HTTP: one small endpoint per Admin API route, with the API's auth and error shape."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ....rules import check_condition
from ..http import api_error, bearer_grant, json_body, ok
from .operations import FederationAdmin
from .paging import list_query, query_limit
from .validation import ADMIN_SCOPE, PAGE_LIMIT, AdminError, Caller

if TYPE_CHECKING:
    from ..service import AnthropicMock


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
                await _check_condition_off_loop(data)
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


async def _check_condition_off_loop(body: dict[str, Any]) -> None:
    """Check a rule's CEL condition in a thread first: the engine runs in a worker process and may take
    up to its deadline, which must not stall this server's event loop. The operation then finds the
    verdict cached (:func:`wif_lab.rules.check_condition`)."""
    match = body.get("match")
    if isinstance(match, dict) and isinstance(match.get("condition"), str):
        await asyncio.to_thread(check_condition, match["condition"])


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
    limit = query_limit(call.request, PAGE_LIMIT)
    return call.admin.list_memberships(call.path("service_account_id"), limit, call.query("page"))


@admin_endpoint(body=True)
def add_membership(call: Call) -> dict[str, Any]:
    return call.admin.add_membership(call.path("service_account_id"), call.body, call.caller)


@admin_endpoint()
def remove_membership(call: Call) -> dict[str, Any]:
    return call.admin.remove_membership(call.path("service_account_id"), call.path("workspace_id"))


@admin_endpoint()
def get_workspace_member(call: Call) -> dict[str, Any]:
    return call.admin.get_workspace_member(call.path("workspace_id"), call.path("service_account_id"))


@admin_endpoint(body=True)
def update_workspace_member(call: Call) -> dict[str, Any]:
    return call.admin.update_workspace_member(call.path("workspace_id"), call.path("service_account_id"), call.body)


@admin_endpoint()
def list_workspace_members(call: Call) -> dict[str, Any]:
    limit = query_limit(call.request, PAGE_LIMIT)
    return call.admin.list_workspace_members(call.path("workspace_id"), limit, call.query("page"))


@admin_endpoint(body=True)
def add_workspace_member(call: Call) -> dict[str, Any]:
    return call.admin.add_workspace_member(call.path("workspace_id"), call.body, call.caller)


@admin_endpoint()
def remove_workspace_member(call: Call) -> dict[str, Any]:
    return call.admin.remove_workspace_member(call.path("workspace_id"), call.path("service_account_id"))


ORG = "/v1/organizations"
ISSUER = ORG + "/federation_issuers/{issuer_id}"
RULE = ORG + "/federation_rules/{rule_id}"
ACCOUNT = ORG + "/service_accounts/{service_account_id}"
MEMBER = ORG + "/workspaces/{workspace_id}/service_accounts/{service_account_id}"


def admin_routes(mock: AnthropicMock) -> list[Route]:
    del mock  # endpoints find the store on the app (request.app.state.store)
    return [
        Route(ORG + "/me", get_organization, methods=["GET"]),
        Route(ORG + "/workspaces", list_workspaces, methods=["GET"]),
        Route(ORG + "/workspaces/{workspace_id}", get_workspace, methods=["GET"]),
        Route(ORG + "/workspaces/{workspace_id}/service_accounts", list_workspace_members, methods=["GET"]),
        Route(ORG + "/workspaces/{workspace_id}/service_accounts", add_workspace_member, methods=["POST"]),
        Route(MEMBER, get_workspace_member, methods=["GET"]),
        Route(MEMBER, update_workspace_member, methods=["POST"]),
        Route(MEMBER, remove_workspace_member, methods=["DELETE"]),
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
