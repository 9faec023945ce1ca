"""The workload side of AWS without sockets: StsClient signs with botocore and reads STS's XML, through an
httpx transport that hands each request to the mock in-process; refusals become AwsRefused with a hint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.auth
import httpx
import pytest

from tests._aws_lab import AUDIENCE, STS_BASE, build
from tests._azure_lab import FakeClock
from wif_lab.errors import ConfigurationError
from wif_lab.providers.aws import HINTS, AwsRefused, StsClient, refusal, web_identity_token_provider


@pytest.fixture
def lab(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[StsClient, Any]]:
    mock, http = build(state_dir / "aws-provider", FakeClock(), enabled=False)

    def forward(request: httpx.Request) -> httpx.Response:
        answer = http.request(request.method, str(request.url), headers=request.headers, content=request.content)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    session = mock.default_session.key
    credentials = {"access_key_id": session.access_key_id, "secret_access_key": session.secret_access_key,
                   "session_token": session.session_token}
    # The mock's clock runs ahead of this machine's: sign at the mock's time, as a machine with that clock would.
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: datetime.fromtimestamp(mock.ctx.clock(), UTC))
    yield StsClient(region="us-east-1", endpoint_url=STS_BASE, credentials=credentials,
                    transport=httpx.MockTransport(forward)), mock


def test_refused_then_issued(lab: tuple[StsClient, Any]) -> None:
    client, mock = lab
    with pytest.raises(AwsRefused) as caught:
        client.get_web_identity_token(AUDIENCE, duration_seconds=900)
    refused = caught.value
    assert refused.code == "OutboundWebIdentityFederationDisabledException" and refused.status == 403
    assert refused.hint == HINTS[refused.code] and "enable-outbound-web-identity-federation" in refused.hint
    assert refused.request_id
    mock.account.set_federation(True)
    token = client.get_web_identity_token(AUDIENCE, duration_seconds=900, tags={"team": "ml"})
    claims = token.claims()
    assert claims["https://sts.amazonaws.com/"]["request_tags"] == {"team": "ml"}
    assert token.expiration.timestamp() == claims["exp"]
    assert token.token.reveal() not in repr(token) and "signature redacted" in repr(token)
    assert client.get_caller_identity()["Arn"] == mock.default_session.arn
    assert web_identity_token_provider(client)() != web_identity_token_provider(client)()  # a new jti each time


def test_refusal_reads_the_xml_and_survives_other_bodies() -> None:
    body = (b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            b'<Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message>'
            b'</Error><RequestId>r-1</RequestId></ErrorResponse>')
    parsed = refusal(httpx.Response(400, content=body))
    assert (parsed.code, parsed.request_id, parsed.hint) == ("ExpiredToken", "r-1", HINTS["ExpiredToken"])
    assert "expired" in parsed.message
    odd = refusal(httpx.Response(503, content=b"<html>busy", headers={"x-amzn-RequestId": "r-2"}))
    assert odd.code is None and odd.request_id == "r-2" and "retry" in odd.hint


def test_no_region_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="regional"):
        StsClient()
