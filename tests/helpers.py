"""Small builders shared by tests: a registered issuer + service account + rule on a running lab."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from wif_lab.lab import Connection, Lab
from wif_lab.mock.stack import MockStack

M = TypeVar("M")


def typed_mock(stack: MockStack, name: str, kind: type[M]) -> M:
    """The running mock called ``name``, checked to be a ``kind`` (so tests get a typed object)."""
    mock = stack.mocks[name]
    assert isinstance(mock, kind), f"{name} is a {type(mock).__name__}, not a {kind.__name__}"
    return mock


def lab_of(stack: MockStack) -> Lab:
    return Lab(Connection.load(stack.connection_file), stack)


@dataclass
class Federation:
    issuer: Any
    service_account: Any
    rule: Any


_counter = iter(range(10_000))


def federate(
    lab: Lab,
    *,
    issuer_url: str,
    match: dict[str, Any],
    jwks: dict[str, Any] | None = None,
    max_jwt_lifetime_seconds: int | None = None,
    check_jti: bool | None = None,
    token_lifetime_seconds: int = 600,
    workspace_id: str | None = None,
    scope: str = "workspace:developer",
) -> Federation:
    """Register issuer, service account and rule through the real SDK's Admin API."""
    n = next(_counter)
    admin = lab.admin()
    kwargs: dict[str, Any] = {}
    if max_jwt_lifetime_seconds is not None:
        kwargs["max_jwt_lifetime_seconds"] = max_jwt_lifetime_seconds
    if check_jti is not None:
        kwargs["check_jti"] = check_jti
    issuer = admin.organization.federation.issuers.create(
        name=f"test-issuer-{n}", issuer_url=issuer_url, jwks=jwks or {"type": "discovery"}, **kwargs
    )
    sa = admin.organization.service_accounts.create(name=f"test-sa-{n}")
    rule = admin.organization.federation.rules.create(
        name=f"test-rule-{n}", issuer_id=issuer.id, match=match,
        target={"type": "service_account", "service_account_id": sa.id}, oauth_scope=scope,
        workspace_id=workspace_id or lab.default_workspace_id, token_lifetime_seconds=token_lifetime_seconds,
    )
    return Federation(issuer, sa, rule)


@contextmanager
def own_stack(state_dir: Path, name: str) -> Iterator[MockStack]:
    """A running stack of a test module's own (for tests that rotate tokens or create and archive
    objects), warm from the session's cached keys and CA when they exist."""
    home = state_dir / name
    for sub in ("keys", "tls"):
        src = state_dir / "shared" / sub
        if src.exists():
            shutil.copytree(src, home / sub, dirs_exist_ok=True)
    with MockStack(home) as running:
        yield running
