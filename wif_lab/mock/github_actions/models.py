"""The state behind the GitHub Actions mock: repositories, the jobs running in them, and the claims a
job's OIDC token carries.

Follows GitHub's "OpenID Connect reference" (``shared/reference/providers.md`` §1.3): every custom
claim is a JSON **string** (IDs, counters, ``ref_protected`` alike); ``iat``, ``nbf`` and ``exp`` are
numbers, with ``nbf`` 300 s before ``iat`` and ``exp`` 300 s after it (as a real token of 2026-02
shows); ``aud`` is one string; ``jti`` is a fresh UUID per token. The subject names the repository and
then, in this order of precedence, the job's environment, ``pull_request`` for pull-request events, or
the ref. Repositories created (or renamed, or transferred) after 2026-07-15 name themselves with their
immutable IDs, ``repo:OWNER@OWNER_ID/REPO@REPO_ID:…``; older ones keep ``repo:OWNER/REPO:…``. A ``:``
inside a subject component is written ``%3A``.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

ISSUER = "https://token.actions.githubusercontent.com"
TOKEN_LIFETIME = 300  # exp − iat
NOT_BEFORE_SKEW = 300  # iat − nbf
PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")


def _component(text: str) -> str:
    """A subject component: GitHub writes a colon inside one as %3A so the parts stay separable."""
    return text.replace(":", "%3A")


@dataclass(frozen=True)
class Repository:
    """A repository and its owner, with the numeric IDs GitHub keeps for both (as strings, as in tokens)."""

    owner: str
    name: str
    owner_id: str
    id: str
    visibility: str = "private"
    immutable_subject: bool = False  # created after 2026-07-15: the subject carries the IDs

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def subject_name(self) -> str:
        if self.immutable_subject:
            return f"{_component(self.owner)}@{self.owner_id}/{_component(self.name)}@{self.id}"
        return f"{_component(self.owner)}/{_component(self.name)}"


@dataclass
class Job:
    """One running job of a workflow run: what its token says, and the runner's request credentials.

    ``id_token_permission`` is ``permissions: id-token: write``; without it the runner sets neither
    ``ACTIONS_ID_TOKEN_REQUEST_URL`` nor ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``. ``completed`` jobs keep
    their URL, but the request token no longer works.
    """

    name: str
    repository: Repository
    request_token: str
    plan_id: str
    job_id: str
    event_name: str = "push"
    ref: str = "refs/heads/main"
    environment: str | None = None
    actor: str = "octocat"
    actor_id: str = "583231"
    head_ref: str = ""
    base_ref: str = ""
    workflow: str = "Claude review"
    workflow_file: str = ".github/workflows/claude.yml"
    run_id: str = "21561244697"
    run_number: str = "42"
    run_attempt: str = "1"
    id_token_permission: bool = True
    completed: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def sha(self) -> str:
        return hashlib.sha1(f"{self.repository.full_name}:{self.ref}".encode()).hexdigest()

    @property
    def ref_type(self) -> str:
        if self.ref.startswith("refs/heads/"):
            return "branch"
        if self.ref.startswith("refs/tags/"):
            return "tag"
        return ""

    @property
    def subject(self) -> str:
        repo = f"repo:{self.repository.subject_name}"
        if self.environment:
            return f"{repo}:environment:{_component(self.environment)}"
        if self.event_name in PULL_REQUEST_EVENTS:
            return f"{repo}:pull_request"
        return f"{repo}:ref:{_component(self.ref)}"

    def claims(self, audience: str, now: int, *, issuer: str = ISSUER) -> dict[str, Any]:
        """The token's payload, members in the order GitHub writes them (sorted by name)."""
        repo = self.repository
        workflow_ref = f"{repo.full_name}/{self.workflow_file}@{self.ref}"
        body: dict[str, Any] = {
            "actor": self.actor,
            "actor_id": self.actor_id,
            "aud": audience,
            "base_ref": self.base_ref,
            "check_run_id": str(int(self.run_id) * 3 + 1),
            "event_name": self.event_name,
            "exp": now + TOKEN_LIFETIME,
            "head_ref": self.head_ref,
            "iat": now,
            "iss": issuer,
            "job_workflow_ref": workflow_ref,
            "job_workflow_sha": self.sha,
            "jti": str(uuid.uuid4()),
            "nbf": now - NOT_BEFORE_SKEW,
            "ref": self.ref,
            "ref_protected": "true" if self.ref == "refs/heads/main" else "false",
            "ref_type": self.ref_type,
            "repository": repo.full_name,
            "repository_id": repo.id,
            "repository_owner": repo.owner,
            "repository_owner_id": repo.owner_id,
            "repository_visibility": repo.visibility,
            "run_attempt": self.run_attempt,
            "run_id": self.run_id,
            "run_number": self.run_number,
            "runner_environment": "github-hosted",
            "sha": self.sha,
            "sub": self.subject,
            "workflow": self.workflow,
            "workflow_ref": workflow_ref,
            "workflow_sha": self.sha,
        }
        if self.environment:
            body["environment"] = self.environment
        body.update(self.extra)
        return dict(sorted(body.items()))
