"""The workload side of GitHub Actions (wif_lab.providers.github_actions) against the in-process mock:
the runner's variables, the audience merged into the URL, and each refusal turned into one typed error."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt
import pytest
from starlette.testclient import TestClient

from tests._github_lab import github_mock, http
from wif_lab.errors import ConfigurationError, ProviderError
from wif_lab.mock.github_actions import GitHubActionsMock
from wif_lab.providers import github_actions as gha


@pytest.fixture(scope="module")
def mock(state_dir: Path) -> GitHubActionsMock:
    return github_mock(state_dir)


def through(client: TestClient) -> httpx.MockTransport:
    """A sync transport that hands each request to the in-process app."""

    def handle(request: httpx.Request) -> httpx.Response:
        answer = client.request(request.method, request.url.raw_path.decode(), headers=dict(request.headers))
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    return httpx.MockTransport(handle)


def for_job(mock: GitHubActionsMock, job: str, **kwargs: object) -> gha.GitHubActionsClient:
    return gha.GitHubActionsClient(environ=mock.environment(mock.job(job)), transport=through(http(mock)),
                                   **kwargs)  # type: ignore[arg-type]


def test_reads_the_runners_variables_and_gets_a_token(mock: GitHubActionsMock) -> None:
    client = for_job(mock, "main-push")
    token = client.get_token()
    assert token.claims()["aud"] == gha.AUDIENCE and token.claims()["iss"] == gha.ISSUER
    assert token.value not in repr(token) and "sub='repo:wif-lab-org/claude-ci:ref:refs/heads/main'" in repr(token)
    provide = gha.token_provider(client)
    first, second = provide(), provide()
    assert jwt.decode(first, options={"verify_signature": False})["jti"] != \
        jwt.decode(second, options={"verify_signature": False})["jti"]
    assert client.calls == 3


def test_the_audience_is_merged_into_the_runners_query() -> None:
    url = "https://pipelines.example/x/idtoken?api-version=2.0"
    assert gha.with_audience(url, "https://api.anthropic.com") == \
        "https://pipelines.example/x/idtoken?api-version=2.0&audience=https%3A%2F%2Fapi.anthropic.com"
    assert gha.with_audience(url + "&audience=old", "new").endswith("?api-version=2.0&audience=new")
    assert gha.with_audience(url, None) == url


def test_without_the_permission_the_error_says_id_token_write(mock: GitHubActionsMock) -> None:
    with pytest.raises(ConfigurationError) as caught:
        for_job(mock, "no-id-token-permission")
    assert "ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN not set" in caught.value.message
    assert "id-token: write" in caught.value.hint


@pytest.mark.parametrize("job, status, hint", [
    ("completed", 401, "still running"),
])
def test_refusals_carry_the_status_and_a_hint(mock: GitHubActionsMock, job: str, status: int, hint: str) -> None:
    with pytest.raises(gha.GitHubActionsRefused) as caught:
        for_job(mock, job).get_token()
    assert caught.value.status == status and hint in caught.value.hint
    assert caught.value.server_message and caught.value.server_message in caught.value.message


def test_a_wrong_request_token_and_a_wrong_url(mock: GitHubActionsMock) -> None:
    env = mock.environment(mock.job("main-push"))
    with pytest.raises(gha.GitHubActionsRefused) as wrong_token:
        for_job(mock, "main-push", request_token="not-the-jobs").get_token()
    assert wrong_token.value.status == 401
    with pytest.raises(gha.GitHubActionsRefused) as no_version:
        for_job(mock, "main-push", request_url=env["ACTIONS_ID_TOKEN_REQUEST_URL"].split("?")[0]).get_token()
    assert no_version.value.status == 400 and "api-version=2.0" in no_version.value.hint


@pytest.mark.parametrize("status, body, hint", [
    (503, b"<html>busy</html>", "retry with backoff"),
    (404, b'{"message": "gone"}', "unchanged apart from the audience"),
    (403, b'{"message": "no"}', "id-token: write"),
])
def test_refusal_mapping(status: int, body: bytes, hint: str) -> None:
    err = gha.refusal(httpx.Response(status, content=body))
    assert isinstance(err, gha.GitHubActionsRefused) and err.status == status and hint in err.hint


def test_a_200_without_value_is_an_error() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"token": "x"}))
    client = gha.GitHubActionsClient(request_url="https://runner.example/idtoken?api-version=2.0",
                                     request_token="t", transport=transport)
    with pytest.raises(ProviderError) as caught:
        client.get_token()
    assert "without a token in `value`" in caught.value.message
