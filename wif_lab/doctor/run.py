"""Run the checks in order, each one only when what it needs was found, and collect the report.

Checks that depend on an earlier finding (the token's claims, the issuer read back) are reported as
skipped with the reason, never left out, so a report always says how far it got. The exchange and the
Messages call run only when asked: they act on the real organization (and use up a ``jti``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..runbook import Runbook
from . import calls, environment, issuer, registered, sdk_env, token
from .context import Context, skipped
from .report import OK, Check, Report
from .sources import EnvSource, FileSource, ProviderSource, TokenSource

ORDER = ("settings", "env.credentials", "env.empty", "env.profile", "token.source", "token.jwt", "token.times",
         "issuer.url", "issuer.discovery", "issuer.jwks", "clock", "anthropic.issuer", "token.lifetime",
         "anthropic.rule", "anthropic.workspace", "exchange", "messages")
TITLES = {"token.jwt": "A JWT Anthropic can verify", "token.times": "Valid now (30 s leeway)",
          "issuer.url": "Issuer reachable by Anthropic (https, 443, public DNS)",
          "issuer.discovery": "Discovery document names the token's iss",
          "issuer.jwks": "The token's kid is published, and the signature verifies",
          "clock": "This clock against the identity provider's Date header", "anthropic.issuer": "Registered issuer",
          "token.lifetime": "exp − iat within the issuer's max_jwt_lifetime_seconds",
          "anthropic.rule": "Rule against the token's claims (preflight)",
          "anthropic.workspace": "Workspace and the service account's membership",
          "exchange": "Exchange at /v1/oauth/token", "messages": "One Messages call with the exchanged token"}


def as_source(value: Any) -> TokenSource | None:
    """A token source from what a notebook or the CLI has: a path, a token function, or a source."""
    if value is None:
        return None
    if hasattr(value, "read") and hasattr(value, "description"):
        return value  # type: ignore[no-any-return]
    if isinstance(value, str | Path):
        return FileSource(Path(value), origin="the token_source given")
    if callable(value):
        return ProviderSource(value)
    raise TypeError(f"token_source must be a path, a token function or a source, not {type(value).__name__}")


def source_from_sdk(resolution: sdk_env.Resolution) -> TokenSource | None:
    """The identity token the SDK itself would present in this environment (its file, or the literal)."""
    if resolution.kind in ("environment", "profile") and resolution.token_path:
        origin = (sdk_env.ENV_TOKEN_FILE if resolution.kind == "environment"
                  else f"profile {resolution.profile}: authentication.identity_token.path")
        return FileSource(Path(resolution.token_path), origin=origin)
    if resolution.kind == "environment" and resolution.token_literal:
        return EnvSource()
    if os.environ.get(sdk_env.ENV_TOKEN_FILE):
        return FileSource(Path(os.environ[sdk_env.ENV_TOKEN_FILE]), origin=sdk_env.ENV_TOKEN_FILE)
    if os.environ.get(sdk_env.ENV_TOKEN):
        return EnvSource()
    return None


def run(rb: Runbook, *, token_source: Any = None, exchange: bool = False, model: str = calls.DEFAULT_MODEL,
        strict: bool = False, now: Callable[[], float] = time.time) -> Report:
    """Check the setup ``rb`` describes with the token ``token_source`` gives (default: the SDK's own).

    ``exchange=True`` also exchanges the token and makes one Messages call with the result.
    """
    resolution = sdk_env.resolve()
    source = as_source(token_source) or source_from_sdk(resolution)
    ctx = Context(rb, source, resolution, now=now)
    found: dict[str, Check] = {}

    def add(check: Check) -> bool:
        found[check.id] = check
        return check.status == OK

    def skip(ids: tuple[str, ...], why: str) -> None:
        for check_id in ids:
            found.setdefault(check_id, skipped(check_id, TITLES[check_id], why))

    for check in (environment.check_settings, environment.check_credentials, environment.check_empty,
                  environment.check_profile):
        add(check(ctx))
    token_checks = ("token.jwt", "token.times", "issuer.url", "issuer.discovery", "issuer.jwks", "clock",
                    "anthropic.issuer", "token.lifetime", "anthropic.rule", "anthropic.workspace")
    if not add(token.check_source(ctx)):
        skip(token_checks, "no token to check (see the token source)")
    elif not add(token.check_jwt(ctx)):
        skip(token_checks[1:], "the token is not a JWT these checks can read")
    else:
        add(token.check_times(ctx))
        _issuer_and_registration(ctx, add, skip)
    if exchange:
        if ctx.token is None:
            skip(("exchange", "messages"), "no token to exchange")
        elif add(calls.check_exchange(ctx)):
            add(calls.check_messages(ctx, model))
        else:
            skip(("messages",), "the exchange gave no token")
    return Report(tuple(found[i] for i in ORDER if i in found), strict=strict)


def _issuer_and_registration(ctx: Context, add: Callable[[Check], bool],
                             skip: Callable[[tuple[str, ...], str], None]) -> None:
    add(registered.check_issuer(ctx))  # first: the registered issuer's jwks mode decides what is fetched
    add(issuer.check_url(ctx))
    if add(issuer.check_discovery(ctx)) or (ctx.discovery is None and issuer.jwks_mode(ctx)["type"] != "discovery"):
        add(issuer.check_jwks(ctx))
    else:
        skip(("issuer.jwks",), "no JWKS address without the discovery document")
    add(issuer.check_clock(ctx))
    later = ("token.lifetime", "anthropic.rule", "anthropic.workspace")
    if ctx.issuer is None or ctx.rule is None:
        why = registered.NO_ADMIN if not ctx.rb.can_read_back else "the issuer and rule could not be read back"
        skip(later, why)
        return
    add(token.check_lifetime(ctx))
    add(registered.check_rule(ctx))
    add(registered.check_workspace(ctx))
