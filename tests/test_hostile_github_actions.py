"""Hostile input against the mock GitHub Actions token service, in-process: whatever arrives in the query,
the Authorization header or the path, the answer is a token for exactly what was asked or one of the
service's own ``{"message": …}`` refusals, never a 5xx."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests._github_lab import BASE, github_mock, http
from tests._hostile import BAD_ESCAPES, examples
from wif_lab.mock.github_actions import GitHubActionsMock
from wif_lab.mock.github_actions import errors as gh_errors


class Runner:
    def __init__(self, state_dir: Path) -> None:
        self.mock: GitHubActionsMock = github_mock(state_dir)
        self.http: TestClient = http(self.mock)
        job = self.mock.job("main-push")
        self.path = self.mock.request_url(job).removeprefix(BASE)
        self.bearer = {"authorization": f"Bearer {job.request_token}"}


@pytest.fixture(scope="module")
def runner(state_dir: Path) -> Runner:
    return Runner(state_dir)


@examples(40)
@given(audience=st.text(min_size=1, max_size=200))
def test_any_audience_text_comes_back_exactly(runner: Runner, audience: str) -> None:
    r = runner.http.get(f"{runner.path}&audience={quote(audience, safe='')}", headers=runner.bearer)
    assert r.status_code == 200, r.text
    claims = jwt.decode(r.json()["value"], options={"verify_signature": False})
    assert claims["aud"] == audience


@examples(30)
@given(escape=BAD_ESCAPES, where=st.sampled_from(["audience", "api-version", "name"]))
def test_a_query_that_is_not_utf8_is_a_400(runner: Runner, escape: str, where: str) -> None:
    base, _, version = runner.path.partition("?")
    query = f"{version}&audience=x"
    query = query.replace(f"{where}=", f"{where}={escape}") if where != "name" else f"{query}&{escape}=1"
    r = runner.http.get(f"{base}?{query}", headers=runner.bearer)
    assert r.status_code == 400
    assert r.json() == {"message": gh_errors.UNREADABLE.format(reason="the query string is not valid UTF-8")}


def test_a_query_with_too_many_fields_is_a_400(runner: Runner) -> None:
    r = runner.http.get(runner.path + "".join(f"&f{i}=1" for i in range(120)), headers=runner.bearer)
    assert r.status_code == 400 and "more than 100 fields" in r.json()["message"]


@examples(40)
@given(header=st.binary(min_size=0, max_size=80).filter(
    lambda b: b"\r" not in b and b"\n" not in b and b"\x00" not in b and b.strip() == b))
def test_a_hostile_authorization_header_is_a_401(runner: Runner, header: bytes) -> None:
    r = runner.http.get(runner.path + "&audience=x", headers={"authorization": header})
    assert r.status_code == 401, r.text
    assert r.json()["message"] in (gh_errors.MISSING_BEARER, gh_errors.WRONG_BEARER)


@examples(30)
@given(segment=st.text(min_size=1, max_size=40), which=st.sampled_from(["plan", "job"]))
def test_a_hostile_plan_or_job_is_a_404(runner: Runner, segment: str, which: str) -> None:
    job = runner.mock.job("main-push")
    real = job.plan_id if which == "plan" else job.job_id
    if segment == real:
        return
    r = runner.http.get(runner.path.replace(real, quote(segment, safe="")) + "&audience=x", headers=runner.bearer)
    assert r.status_code == 404, r.text  # no route (a "/" in the segment) or no such job: never a 5xx
