"""GitHub Actions demonstrations: the job's view of the runner, tokens from the lab's other jobs (a pull
request from a fork, another owner's repository, a repository with immutable subjects, a completed job),
the page's rule, and rules the Admin API refuses for a shared issuer.

In the lab the runbook plays the runner: the workload's job environment comes from the connection file.
In live mode it is this process's own environment (the notebook runs inside a job); every step that needs
another job, or provokes a refusal, is skipped with a note. Nothing here imports a mock.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..display import Table, summary
from ..errors import WifLabError
from ..providers.github_actions import (
    AUDIENCE,
    ISSUER,
    TOKEN_VARIABLE,
    URL_VARIABLE,
    GitHubActionsClient,
    with_audience,
)
from ..redact import Secret, redact
from ..rules import Evaluation, evaluate
from ..runbook import Note, Outcome, Runbook, Settings
from ..tokens import decode


def _job_settings(env: Mapping[str, str]) -> Settings:
    return Settings({"github_actions": env.get("GITHUB_ACTIONS"), "repository": env.get("GITHUB_REPOSITORY"),
                     "ref": env.get("GITHUB_REF"), "event_name": env.get("GITHUB_EVENT_NAME"),
                     "request_url": env.get(URL_VARIABLE),
                     "request_token": Secret(env[TOKEN_VARIABLE]) if env.get(TOKEN_VARIABLE) else None})


def job(rb: Runbook, name: str | None = None) -> Settings | None:
    """What the runner put in a job's environment: the lab's workload job (or the job ``name``), or, in live
    mode, this process's own (``name`` given: another job, which only the lab has, so None)."""
    if rb.lab is None:
        return None if name else _job_settings(os.environ)
    section = rb.lab.section("github_actions")
    return _job_settings(section["jobs"][name]["env"] if name else section["env"])


def client(rb: Runbook, settings: Settings | None, audience: str | None = AUDIENCE) -> GitHubActionsClient | None:
    """A client for a job's token service (None for a skipped job); raises when the job has no permission."""
    if settings is None:
        return None
    return GitHubActionsClient(audience, request_url=settings.request_url, request_token=settings.request_token,
                               environ={}, verify=rb.verify)


def job_table(settings: Settings, audience: str | None = AUDIENCE) -> Table:
    """The job's request variables as a step sees them (the request token redacted) and the URL it GETs."""
    url = settings.get("request_url")
    rows = {"GITHUB_ACTIONS": settings.get("github_actions") or "—",
            "GITHUB_REPOSITORY": settings.get("repository") or "—",
            "GITHUB_REF": settings.get("ref") or "—", "GITHUB_EVENT_NAME": settings.get("event_name") or "—",
            URL_VARIABLE: url or "not set (the job lacks permissions: id-token: write)",
            TOKEN_VARIABLE: redact(settings["request_token"]) if settings.get("request_token") else "not set",
            "the step GETs": with_audience(url, audience) if url else "—"}
    return summary("The job's environment (set by the runner)", rows)


def lab_jobs(rb: Runbook) -> Table | Note:
    """The lab's jobs and the subject each one's token carries."""
    if rb.lab is None:
        return Note("live mode: only this job exists here; its subject is in the claims table above.")
    rows = [(name, j["repository"], j["event_name"], j["ref"], j["environment"] or "—", j["subject"],
             "completed" if j["completed"] else ("running" if "ACTIONS_ID_TOKEN_REQUEST_URL" in j["env"]
                                                 else "running, no id-token permission"))
            for name, j in rb.lab.section("github_actions")["jobs"].items()]
    return Table("The lab's jobs", ["job", "repository", "event", "ref", "environment", "sub", "state"], rows)


def jwks_mode(settings: Mapping[str, Any]) -> dict[str, Any]:
    """How Anthropic finds GitHub's keys: discovery at the issuer URL, or (the lab) at ``discovery_base``."""
    base = settings.get("discovery_base")
    return {"type": "discovery", **({"discovery_base": base} if base else {})}


def page_match(token: str | Mapping[str, Any] | None, audience: str = AUDIENCE) -> dict[str, Any]:
    """The guide's rule for a token's repository: its main branch exactly, the audience, and the owner.

    ``token`` may be the token or its claims; None (a lab-only token in live mode) gives an empty match.
    """
    if token is None:
        return {}
    claims = decode(token).claims if isinstance(token, str) else token
    return {"subject_prefix": f"repo:{claims['repository']}:ref:refs/heads/main", "audience": audience,
            "claims": {"repository_owner": claims["repository_owner"]}}


def subject(token: str | None) -> str | None:
    """The token's ``sub``, to copy into a rule (None for a lab-only token in live mode)."""
    return decode(token).claims.get("sub") if token is not None else None


def token_or_none(gh_client: GitHubActionsClient | None) -> str | None:
    return gh_client.get_token().value if gh_client is not None else None


def try_token(rb: Runbook, name: str, title: str, audience: str = AUDIENCE) -> Outcome:
    """Ask the runner for another of the lab's jobs' tokens and show the answer, refusal included (lab only)."""
    settings = job(rb, name)
    if settings is None:
        return Outcome(title, "skipped", note="skipped in live mode: it needs another job than this one")
    try:
        answer = client(rb, settings, audience)
        assert answer is not None
        token = answer.get_token()
    except WifLabError as exc:
        return Outcome(title, "refused", error=exc)
    claims = token.claims()
    return Outcome(title, "accepted", extra=[("token", redact(token.value)), ("sub", claims["sub"])])


def try_rule(rb: Runbook, *, name: str, issuer: Any, service_account: Any, match: dict[str, Any],
             title: str) -> Outcome:
    """Ask the Admin API to create a rule and show its answer (lab only: it creates objects on purpose)."""
    if rb.lab is None or issuer is None or service_account is None:
        return Outcome(title, "skipped", note="skipped in live mode: it creates rules in your organization")
    import anthropic

    try:
        rule = rb.register_rule(name=name, issuer=issuer, service_account=service_account, match=match,
                                lab_only=True)
    except anthropic.BadRequestError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", {}) if isinstance(body.get("error"), dict) else {}
        return Outcome(title, "refused", extra=[("HTTP status", str(exc.status_code)),
                                                ("error", str(error.get("type"))),
                                                ("message", str(error.get("message")))])
    return Outcome(title, "accepted", extra=[("rule", f"{rule.name} ({rule.id})")])


def would_pass(match: Mapping[str, Any], token: str | None, *, title: str) -> Table | Note:
    """How the rules engine judges a token against a match (no exchange: for a rule the API will not store)."""
    if token is None:
        return Note("skipped in live mode: it needs a token from a repository that is not yours")
    evaluation: Evaluation = evaluate({"issuer_url": ISSUER}, {"match": dict(match)}, decode(token).claims,
                                      default_audience=AUDIENCE)
    rows = [(v.matcher, "pass" if v.passed else "FAIL", v.reason) for v in evaluation.verdicts
            if v.matcher not in ("issuer_active", "rule_active")]
    verdict = "every matcher passes" if evaluation.passed else "refused"
    return Table(f"{title}: {verdict}", ["matcher", "verdict", "why"], rows)
