"""Lab-only routes (never called by a real client): the authentication history and workspaces.

``GET /lab/events`` plays the part of the Console's Workload identity → authentication history page:
it shows why each exchange failed, which the token endpoint itself never says.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .http import api_error, bearer_grant, json_body, ok

if TYPE_CHECKING:
    from .service import AnthropicMock


def _admin(request: Request) -> JSONResponse | None:
    grant, error = bearer_grant(request)
    if error is not None:
        return error
    assert grant is not None
    if "org:admin" not in grant.scopes():
        return api_error(request, 403, "permission_error", "the authentication history needs org:admin")
    return None


async def list_events(request: Request) -> JSONResponse:
    if (denied := _admin(request)) is not None:
        return denied
    store = request.app.state.store
    rule_id = request.query_params.get("federation_rule_id")
    try:
        limit = max(1, min(1000, int(request.query_params.get("limit", "100"))))
    except ValueError:
        return api_error(request, 400, "invalid_request_error", "limit: must be an integer")
    with store.lock:
        events = [e for e in store.events if rule_id is None or e.federation_rule_id == rule_id]
    return ok(request, {"data": [e.to_json() for e in reversed(events[-limit:])]})


async def create_workspace(request: Request) -> JSONResponse:
    if (denied := _admin(request)) is not None:
        return denied
    body, problem = await json_body(request)
    if body is None or not isinstance(body.get("name"), str) or not body["name"].strip():
        return api_error(request, 400, "invalid_request_error", problem or "name: field required")
    return ok(request, request.app.state.store.create_workspace(body["name"].strip()))


def lab_routes(mock: AnthropicMock) -> list[Route]:
    return [
        Route("/lab/events", list_events, methods=["GET"]),
        Route("/lab/workspaces", create_workspace, methods=["POST"]),
    ]
