"""``POST /v1/messages`` for federation tokens: a deterministic reply that says who called.

Auth follows what the SDK sends with a credentials provider: ``Authorization: Bearer sk-ant-oat01-…``
plus ``anthropic-beta`` containing ``oauth-2025-04-20``. The reply names the service account and
workspace the minted token is bound to, so a notebook can show *as whom* the call ran. Streaming
uses the SSE event sequence of the Messages API.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from .http import api_error, bearer_grant, json_body, ok, request_id

if TYPE_CHECKING:
    from .service import AnthropicMock

MESSAGES_SCOPES = {"workspace:developer", "workspace:inference"}


def _validate(body: dict[str, Any]) -> str | None:
    if "model" not in body:
        return "model: field required"
    if not isinstance(body["model"], str) or not body["model"]:
        return "model: must be a non-empty string"
    if "max_tokens" not in body:
        return "max_tokens: field required"
    mt = body["max_tokens"]
    if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
        return "max_tokens: must be a positive integer"
    msgs = body.get("messages")
    if msgs is None:
        return "messages: field required"
    if not isinstance(msgs, list) or not msgs:
        return "messages: must be a non-empty list"
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant") or "content" not in m:
            return f"messages.{i}: each message needs a role (user or assistant) and content"
    if msgs[0].get("role") != "user":
        return "messages: the first message must use the user role"
    return None


def _count_words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_count_words(v) for v in value)
    if isinstance(value, dict):
        return _count_words(value.get("text", "")) + _count_words(value.get("content", ""))
    return 0


async def create_message(request: Request) -> Response:
    mock: AnthropicMock = request.app.state.mock
    store = mock.store
    grant, error = bearer_grant(request, require_beta=False)
    if error is not None:
        return error
    assert grant is not None
    if not grant.scopes() & MESSAGES_SCOPES:
        return api_error(request, 403, "permission_error",
                         f"this token's scope ({grant.scope}) does not allow the Messages API")
    body, problem = await json_body(request)
    if body is None:
        return api_error(request, 400, "invalid_request_error", problem or "invalid body")
    problem = _validate(body)
    if problem:
        return api_error(request, 400, "invalid_request_error", problem)
    sa = store.service_accounts.get(grant.service_account_id, {})
    ws = store.workspaces.get(grant.workspace_id or "", {})
    text = (
        f"Hello from the wif-lab mock Claude API. This call ran as service account "
        f"'{sa.get('name', '?')}' ({grant.service_account_id}) in workspace '{ws.get('name', '?')}' "
        f"({grant.workspace_id}) with scope {grant.scope}."
    )
    msg_id = "msg_01" + store.ids.request_id()[6:]
    usage = {
        "input_tokens": max(1, _count_words(body["messages"])),
        "output_tokens": len(text.split()),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }
    message = {
        "id": msg_id, "type": "message", "role": "assistant", "model": body["model"],
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn", "stop_sequence": None, "usage": usage,
    }
    if body.get("stream"):
        return StreamingResponse(
            _sse(message), media_type="text/event-stream",
            headers={"request-id": request_id(request), "cache-control": "no-cache"},
        )
    return ok(request, message)


async def _sse(message: dict[str, Any]) -> AsyncIterator[bytes]:
    def frame(event: str, data: dict[str, Any]) -> bytes:
        return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()

    start = {**message, "content": [], "stop_reason": None,
             "usage": {**message["usage"], "output_tokens": 1}}
    yield frame("message_start", {"type": "message_start", "message": start})
    yield frame("content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    words = message["content"][0]["text"].split(" ")
    for i in range(0, len(words), 6):
        chunk = " ".join(words[i:i + 6]) + (" " if i + 6 < len(words) else "")
        yield frame("content_block_delta",
                    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}})
    yield frame("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield frame("message_delta", {"type": "message_delta",
                                  "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                  "usage": {"output_tokens": message["usage"]["output_tokens"]}})
    yield frame("message_stop", {"type": "message_stop"})


def messages_routes(mock: AnthropicMock) -> list[Route]:
    return [Route("/v1/messages", create_message, methods=["POST"])]
