"""The mock GitHub Actions token service and issuer, in-process: GitHub's claim set and types, the subject
forms, discovery and JWKS at GitHub's paths, and one test per refusal of the token service."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from starlette.testclient import TestClient

from tests._azure_lab import START, FakeClock
from tests._github_lab import BASE, github_mock, http
from wif_lab.mock.github_actions import ISSUER, GitHubActionsMock
from wif_lab.mock.github_actions import errors as gh_errors

AUDIENCE = "https://api.anthropic.com"
NUMERIC = {"iat", "nbf", "exp"}


@pytest.fixture(scope="module")
def mock(state_dir: Path) -> GitHubActionsMock:
    return github_mock(state_dir, FakeClock())


@pytest.fixture(scope="module")
def client(mock: GitHubActionsMock) -> TestClient:
    return http(mock)


def ask(client: TestClient, mock: GitHubActionsMock, job: str, *, audience: str | None = AUDIENCE,
        scheme: str = "Bearer", token: str | None = None, url: str | None = None):  # type: ignore[no-untyped-def]
    target = url or mock.request_url(mock.job(job))
    if audience is not None:
        target += "&audience=" + audience  # the guide's cURL appends it unencoded
    bearer = token if token is not None else mock.job(job).request_token
    return client.get(target.removeprefix(BASE), headers={"authorization": f"{scheme} {bearer}"} if scheme else {})


def verified(mock: GitHubActionsMock, client: TestClient, token: str, audience: str = AUDIENCE) -> dict:
    keys = client.get("/.well-known/jwks").json()["keys"]
    header = jwt.get_unverified_header(token)
    key = jwt.PyJWK(next(k for k in keys if k["kid"] == header["kid"]))
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=ISSUER,
                      options={"verify_exp": False, "verify_iat": False, "verify_nbf": False})


def test_a_job_gets_githubs_claim_set_with_string_custom_claims(mock: GitHubActionsMock, client: TestClient) -> None:
    answer = ask(client, mock, "main-push")
    assert answer.status_code == 200 and set(answer.json()) == {"value"}
    token = answer.json()["value"]
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": mock.kid, "typ": "JWT", "x5t": mock.x5t}
    claims = verified(mock, client, token)
    assert list(claims) == sorted(claims)  # GitHub writes members sorted by name
    assert {k for k, v in claims.items() if not isinstance(v, str)} == NUMERIC
    assert claims["exp"] - claims["iat"] == 300 and claims["iat"] - claims["nbf"] == 300
    assert claims["iat"] == int(START)
    assert claims["sub"] == "repo:wif-lab-org/claude-ci:ref:refs/heads/main"
    assert claims["repository_owner"] == "wif-lab-org" and claims["ref_protected"] == "true"
    assert claims["repository_owner_id"].isdigit() and claims["run_id"].isdigit()
    documented = {"actor", "actor_id", "aud", "base_ref", "check_run_id", "event_name", "exp", "head_ref", "iat",
                  "iss", "job_workflow_ref", "job_workflow_sha", "jti", "nbf", "ref", "ref_protected", "ref_type",
                  "repository", "repository_id", "repository_owner", "repository_owner_id", "repository_visibility",
                  "run_attempt", "run_id", "run_number", "runner_environment", "sha", "sub", "workflow",
                  "workflow_ref", "workflow_sha"}
    assert set(claims) == documented


def test_every_request_mints_a_new_token(mock: GitHubActionsMock, client: TestClient) -> None:
    first, second = (jwt.decode(ask(client, mock, "main-push").json()["value"], options={"verify_signature": False})
                     for _ in range(2))
    assert first["jti"] != second["jti"]


@pytest.mark.parametrize("job, subject", [
    ("main-push", "repo:wif-lab-org/claude-ci:ref:refs/heads/main"),
    ("fork-pull-request", "repo:wif-lab-org/claude-ci:pull_request"),
    ("production-deploy", "repo:wif-lab-org/claude-ci:environment:production"),
    ("feature-branch", "repo:wif-lab-org/claude-ci:ref:refs/heads/feature/summaries"),
    ("new-repository", "repo:wif-lab-org@131804563/agents-ci@781244015:ref:refs/heads/main"),
])
def test_subject_forms(mock: GitHubActionsMock, client: TestClient, job: str, subject: str) -> None:
    claims = jwt.decode(ask(client, mock, job).json()["value"], options={"verify_signature": False})
    assert claims["sub"] == subject
    if job == "production-deploy":
        assert claims["environment"] == "production"
    if job == "fork-pull-request":  # the base repository's context: same owner, the fork's branch as head_ref
        assert claims["repository_owner"] == "wif-lab-org" and claims["head_ref"] == "patch-1"
        assert claims["event_name"] == "pull_request" and claims["ref"] == "refs/pull/7/merge"


def test_a_colon_inside_a_subject_component_is_percent_encoded(mock: GitHubActionsMock) -> None:
    job = mock.job("production-deploy")
    job.environment = "prod:eu"
    try:
        assert job.subject == "repo:wif-lab-org/claude-ci:environment:prod%3Aeu"
    finally:
        job.environment = "production"


def test_without_audience_the_token_is_for_the_owners_url(mock: GitHubActionsMock, client: TestClient) -> None:
    claims = jwt.decode(ask(client, mock, "main-push", audience=None).json()["value"],
                        options={"verify_signature": False})
    assert claims["aud"] == "https://github.com/wif-lab-org"


def test_encoded_audience_and_lowercase_scheme(mock: GitHubActionsMock, client: TestClient) -> None:
    answer = ask(client, mock, "main-push", audience="https%3A%2F%2Fapi.anthropic.com", scheme="bearer")
    assert jwt.decode(answer.json()["value"], options={"verify_signature": False})["aud"] == AUDIENCE


def test_discovery_and_jwks_at_githubs_paths(mock: GitHubActionsMock, client: TestClient) -> None:
    doc = client.get("/.well-known/openid-configuration").json()
    assert doc["issuer"] == ISSUER and doc["jwks_uri"] == f"{BASE}/.well-known/jwks"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"] and "repository_owner" in doc["claims_supported"]
    (key,) = client.get("/.well-known/jwks").json()["keys"]
    assert key["kid"] == mock.kid and key["x5t"] == mock.x5t and key["alg"] == "RS256" and len(key["x5c"]) == 1


def test_the_runner_sets_the_request_variables_only_with_the_permission(mock: GitHubActionsMock) -> None:
    env = mock.environment(mock.job("main-push"))
    assert env["ACTIONS_ID_TOKEN_REQUEST_URL"].endswith("/idtoken?api-version=2.0")
    assert env["GITHUB_ACTIONS"] == "true"
    denied = mock.environment(mock.job("no-id-token-permission"))
    assert "ACTIONS_ID_TOKEN_REQUEST_URL" not in denied and "ACTIONS_ID_TOKEN_REQUEST_TOKEN" not in denied


# --- one test per refusal ----------------------------------------------------------------------------


def refused(answer, status: int, message: str) -> None:  # type: ignore[no-untyped-def]
    assert answer.status_code == status, answer.text
    assert answer.json() == {"message": message}


def test_refuses_a_request_without_a_bearer(mock: GitHubActionsMock, client: TestClient) -> None:
    refused(ask(client, mock, "main-push", scheme=""), 401, gh_errors.MISSING_BEARER)
    refused(ask(client, mock, "main-push", scheme="Basic"), 401, gh_errors.MISSING_BEARER)


def test_refuses_another_jobs_request_token(mock: GitHubActionsMock, client: TestClient) -> None:
    other = mock.job("feature-branch").request_token
    refused(ask(client, mock, "main-push", token=other), 401, gh_errors.WRONG_BEARER)


def test_refuses_a_completed_job(mock: GitHubActionsMock, client: TestClient) -> None:
    refused(ask(client, mock, "completed"), 401, gh_errors.JOB_COMPLETED)


def test_refuses_a_job_without_the_id_token_permission(mock: GitHubActionsMock, client: TestClient) -> None:
    job = mock.job("no-id-token-permission")
    answer = client.get(mock.request_url(job).removeprefix(BASE) + "&audience=x",
                        headers={"authorization": f"Bearer {job.request_token}"})
    refused(answer, 403, gh_errors.NO_PERMISSION)


def test_refuses_an_unknown_job(mock: GitHubActionsMock, client: TestClient) -> None:
    url = mock.request_url(mock.job("main-push")).replace(mock.job("main-push").job_id, "0" * 8)
    refused(ask(client, mock, "main-push", url=url), 404, gh_errors.UNKNOWN_JOB)


@pytest.mark.parametrize("query", ["", "?api-version=1.0", "?api-version="], ids=["missing", "unsupported", "empty"])
def test_refuses_a_missing_or_unsupported_api_version(mock: GitHubActionsMock, client: TestClient, query: str) -> None:
    url = mock.request_url(mock.job("main-push")).split("?")[0] + query
    bearer = {"authorization": f"Bearer {mock.job('main-push').request_token}"}
    answer = client.get(url.removeprefix(BASE), headers=bearer)
    refused(answer, 400, gh_errors.API_VERSION)


def test_refuses_a_repeated_audience(mock: GitHubActionsMock, client: TestClient) -> None:
    url = mock.request_url(mock.job("main-push")) + "&audience=a"
    refused(ask(client, mock, "main-push", url=url), 400, gh_errors.REPEATED.format(name="audience"))


def test_refuses_a_query_that_is_not_utf8(mock: GitHubActionsMock, client: TestClient) -> None:
    answer = ask(client, mock, "main-push", audience="%ff")
    assert answer.status_code == 400 and "not valid UTF-8" in answer.json()["message"]


def test_only_get(mock: GitHubActionsMock, client: TestClient) -> None:
    url = mock.request_url(mock.job("main-push")).removeprefix(BASE)
    bearer = {"authorization": f"Bearer {mock.job('main-push').request_token}"}
    assert client.post(url, headers=bearer).status_code == 405
