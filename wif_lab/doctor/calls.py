"""The two checks that act, run only when asked (``--exchange``): the jwt-bearer exchange, then one Messages
call with the token it returned. Neither token is shown; a refusal shows the status, the error and what
to check, and in the lab the authentication history's reason."""

from __future__ import annotations

from typing import Any

from .. import http
from ..errors import ExchangeRefused, WifLabError
from .context import Context
from .report import FAIL, OK, Check

MESSAGES_PATH = "/v1/messages"
API_VERSION = "2023-06-01"
OAUTH_BETA = "oauth-2025-04-20"
DEFAULT_MODEL = "claude-haiku-4-5"
# History reasons no earlier check can see coming (the rest have a row of their own above).
REASON_FIXES = {
    "jti_reused": "present a fresh token: each jti is exchanged once (fetch a new token per exchange; a token file "
                  "changes at the next rotation), or switch off the issuer's check_jti knowingly",
    "scope_not_allowed": "the rule's oauth_scope: workspace:developer or workspace:inference for a workload",
    "organization_mismatch": "organization_id must be the organization the rule belongs to",
    "jwks_fetch_failed": "Anthropic could not fetch the keys: the issuer must answer on public https (see the issuer "
                         "rows), or register its keys inline",
}


def check_exchange(ctx: Context) -> Check:
    title = "Exchange at /v1/oauth/token"
    assert ctx.token is not None
    try:
        result = ctx.rb.exchange(ctx.token)
    except ExchangeRefused as exc:
        data: dict[str, Any] = {"status": exc.status, "error": exc.error, "request_id": exc.request_id}
        found = f"refused: HTTP {exc.status} {exc.error}: {exc.description}"
        fix = exc.hint or "the authentication history for this rule"
        event = ctx.rb.event_for(exc.request_id)
        if event is not None:
            reason = event.get("status", {}).get("reason")
            data["event_reason"] = reason
            found += f"; the authentication history says {reason}"
            fix = REASON_FIXES.get(str(reason), f"{reason}: the failing row above says what to change")
        return Check("exchange", title, FAIL, found, fix, data)
    except WifLabError as exc:
        return Check("exchange", title, FAIL, exc.message, exc.hint or "the Claude API base URL")
    ctx.exchanged = result
    data = {"token_type": result.token_type, "expires_in": result.expires_in, "scope": result.scope}
    found = f"a {result.token_type} token for {result.expires_in} s, scope {result.scope}"
    if ctx.decoded is not None and "jti" in ctx.decoded.claims and getattr(ctx.issuer, "check_jti", True) is not False:
        found += ("; this identity token's jti is now used, so the workload's next exchange needs a fresh one "
                  "(a token file: the next rotation)")
    return Check("exchange", title, OK, found, data=data)


def check_messages(ctx: Context, model: str = DEFAULT_MODEL) -> Check:
    title = "One Messages call with the exchanged token"
    assert ctx.exchanged is not None
    url = ctx.rb.base_url.rstrip("/") + MESSAGES_PATH
    headers = {"authorization": f"Bearer {ctx.exchanged.access_token.reveal()}", "anthropic-version": API_VERSION,
               "anthropic-beta": OAUTH_BETA, "content-type": "application/json"}
    body = {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "Reply with: ok"}]}
    try:
        response = http.request("POST", url, what="the Messages API", verify=ctx.rb.verify, deadline=60,
                                json=body, headers=headers)
    except WifLabError as exc:
        return Check("messages", title, FAIL, exc.message, exc.hint or "the Claude API base URL")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    data = {"status": response.status_code, "model": model, "request_id": response.headers.get("request-id")}
    if response.status_code == 200 and isinstance(answer, dict) and answer.get("type") == "message":
        return Check("messages", title, OK, f"HTTP 200, a message from {answer.get('model', model)}", data=data)
    error = answer.get("error", {}) if isinstance(answer, dict) else {}
    kind, message = (error.get("type"), error.get("message")) if isinstance(error, dict) else (None, None)
    fix = {401: "the exchanged token was refused: the organization, or the API's oauth beta",
           403: "the rule's oauth_scope (workspace:developer or workspace:inference) and the workspace's permissions",
           404: f"the model name ({model}) and the base URL",
           429: "the workspace's rate limits"}.get(response.status_code, "the error message")
    return Check("messages", title, FAIL, f"HTTP {response.status_code} {kind or ''}: {message or response.text[:200]}",
                 fix, data)
