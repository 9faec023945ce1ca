"""Lab-only routes (never called by a real client): the authentication history and workspaces.

``GET /lab/events`` plays the part of the Console's Workload identity → authentication history page:
it shows why each exchange failed, which the token endpoint itself never says. Both routes use the
Admin API's auth (an ``org:admin`` bearer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.routing import Route

from .admin import Call, admin_endpoint, bad_request

if TYPE_CHECKING:
    from .service import AnthropicMock


@admin_endpoint()
def list_events(call: Call) -> dict[str, Any]:
    store = call.request.app.state.store
    rule_id = call.query("federation_rule_id")
    rid = call.query("request_id")
    raw = call.query("limit") or "100"
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19):  # int() would take " 5" and "1_0" too
        raise bad_request("limit: must be an integer")
    limit = max(1, min(1000, int(raw)))
    with store.lock:
        events = [e for e in store.events
                  if (rule_id is None or e.federation_rule_id == rule_id) and (rid is None or e.request_id == rid)]
    return {"data": [e.to_json() for e in reversed(events[-limit:])]}


@admin_endpoint(body=True)
def create_workspace(call: Call) -> dict[str, Any]:
    name = call.body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise bad_request("name: field required")
    return call.request.app.state.store.create_workspace(name.strip())


def lab_routes(mock: AnthropicMock) -> list[Route]:
    return [
        Route("/lab/events", list_events, methods=["GET"]),
        Route("/lab/workspaces", create_workspace, methods=["POST"]),
    ]
