"""Helpers shared by the AWS STS tests: the mock in-process on a settable clock, and requests signed by
botocore's own SigV4 signer (as boto3 signs them)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.testclient import TestClient

from tests._azure_lab import FakeClock, azure_context
from wif_lab.mock.aws_sts import StsMock
from wif_lab.mock.aws_sts.models import Session
from wif_lab.mock.aws_sts.sigv4 import SigningKey, sign

STS_BASE = "https://sts.test"
AUDIENCE = "https://api.anthropic.com"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def build(state_dir: Path, clock: FakeClock | None = None, *, enabled: bool = True) -> tuple[StsMock, TestClient]:
    ctx = azure_context(state_dir, clock or FakeClock())
    ctx.base_urls["aws"] = STS_BASE
    mock = StsMock(ctx, federation_enabled=enabled)
    return mock, TestClient(mock.asgi(), base_url=STS_BASE)


def token_params(**members: Any) -> list[tuple[str, str]]:
    """A GetWebIdentityToken form: ``audience`` (str or list), ``algorithm``, ``duration``, ``tags``."""
    audience = members.get("audience", AUDIENCE)
    audiences = [audience] if isinstance(audience, str) else audience
    params = [("Action", "GetWebIdentityToken"), ("Version", "2011-06-15")]
    params += [(f"Audience.member.{i}", a) for i, a in enumerate(audiences, 1)]
    if members.get("algorithm", "RS256") is not None:
        params.append(("SigningAlgorithm", members.get("algorithm", "RS256")))
    if members.get("duration") is not None:
        params.append(("DurationSeconds", str(members["duration"])))
    for i, (key, value) in enumerate((members.get("tags") or {}).items(), 1):
        params += [(f"Tags.member.{i}.Key", key), (f"Tags.member.{i}.Value", value)]
    return params


def signed_post(http: TestClient, body: bytes, key: SigningKey, *, now: float, region: str = "us-east-1",
                drop: tuple[str, ...] = (), extra: dict[str, str] | None = None) -> httpx.Response:
    """POST ``body`` to the mock, signed for ``key`` at ``now`` by botocore's signer; ``drop`` removes headers
    after signing (a missing session token), ``extra`` adds them after signing (unsigned changes)."""
    headers = sign("POST", f"{STS_BASE}/", body, FORM, key=key, region=region,
                   timestamp=datetime.fromtimestamp(now, UTC))
    for name in drop:
        headers.pop(name, None)
    headers.update(extra or {})
    return http.post("/", content=body, headers=headers)


def call(mock: StsMock, http: TestClient, params: list[tuple[str, str]], session: Session | None = None,
         **options: Any) -> httpx.Response:
    session = session or mock.default_session
    return signed_post(http, urlencode(params).encode(), session.key, now=mock.ctx.clock(), **options)


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    """(status, Code, Message) of an STS XML error answer, parsed as botocore's QueryParser reads it."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(response.content)
    ns = {"s": "https://sts.amazonaws.com/doc/2011-06-15/"}
    assert root.tag == "{https://sts.amazonaws.com/doc/2011-06-15/}ErrorResponse", response.text
    assert root.findtext("s:Error/s:Type", namespaces=ns) == "Sender"
    assert root.findtext("s:RequestId", namespaces=ns) == response.headers["x-amzn-requestid"]
    return (response.status_code, root.findtext("s:Error/s:Code", namespaces=ns) or "",
            root.findtext("s:Error/s:Message", namespaces=ns) or "")
