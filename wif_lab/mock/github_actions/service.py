"""Mock of GitHub Actions' OIDC: the runner's token service a job asks, and GitHub's issuer.

Follows GitHub's "OpenID Connect reference" and the Claude guide's GitHub Actions page
(``shared/reference/providers.md`` §1):

- a job with ``permissions: id-token: write`` finds ``ACTIONS_ID_TOKEN_REQUEST_URL`` (ending in
  ``/idtoken?api-version=2.0``) and ``ACTIONS_ID_TOKEN_REQUEST_TOKEN`` in its environment; it GETs the
  URL with ``&audience=<aud>`` appended and ``Authorization: Bearer <request token>`` (any case of the
  scheme: ``id`` sends ``bearer``), and the answer is ``{"value": "<JWT>"}``; without ``audience`` the
  token's ``aud`` is the owner's URL, ``https://github.com/<owner>``;
- the URL stays valid for the whole job, and every request mints a new token (new ``jti``);
- tokens: RS256, header ``kid``, ``typ`` and ``x5t``, claims as :mod:`.models` builds them;
- the issuer publishes discovery at ``/.well-known/openid-configuration`` and its keys at
  ``/.well-known/jwks`` (each key with its certificate, ``x5c`` and ``x5t``);
- refusals as :mod:`.errors` describes them.

Lab deviations: one host serves both the token service (``pipelines.actions.githubusercontent.com``) and
the issuer's documents (``token.actions.githubusercontent.com``). Tokens carry GitHub's real issuer URL,
so Claude's shared-issuer rules apply to them exactly as to real ones; the discovery document names that
issuer and a ``jwks_uri`` on this host, and Anthropic is pointed here with ``jwks.discovery_base``. The
lab's jobs are fixed at start (see :data:`JOBS`); a completed job stays listed so its refusal can be shown.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import secrets
import uuid
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..base import LabContext, MockSpec, seeded_guid
from ..errors import EXCEPTION_HANDLERS
from ..inbound import Rejected, query_pairs
from ..keys import public_jwk
from . import errors
from .models import ISSUER, Job, Repository

SIGNING_KEY = "github-actions"
API_VERSIONS = ("2.0",)
ANTHROPIC_AUDIENCE = "https://api.anthropic.com"
PROJECT = "00000000-0000-0000-0000-000000000000"
TOKEN_PATH = "/{account}/{project}/_apis/distributedtask/hubs/Actions/plans/{plan}/jobs/{job}/idtoken"
CLAIMS_SUPPORTED = (
    "sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository", "repository_id",
    "repository_owner", "repository_owner_id", "enterprise", "enterprise_id", "run_id", "run_number",
    "run_attempt", "actor", "actor_id", "workflow", "workflow_ref", "workflow_sha", "head_ref", "base_ref",
    "event_name", "ref_type", "ref_protected", "environment", "job_workflow_ref", "job_workflow_sha",
    "repository_visibility", "runner_environment", "check_run_id",
)

ORG = Repository("wif-lab-org", "claude-ci", owner_id="131804563", id="632596897")
NEW_REPO = Repository("wif-lab-org", "agents-ci", owner_id="131804563", id="781244015", immutable_subject=True)
STRANGER = Repository("someone-else", "claude-ci", owner_id="90210777", id="700100200", visibility="public")

# name → what the job is (the lab's jobs; the first is the workload the notebook follows)
JOBS: dict[str, dict[str, Any]] = {
    "main-push": {"repository": ORG},
    "fork-pull-request": {"repository": ORG, "event_name": "pull_request", "ref": "refs/pull/7/merge",
                          "head_ref": "patch-1", "base_ref": "main", "actor": "outside-contributor",
                          "actor_id": "77001234"},
    "production-deploy": {"repository": ORG, "environment": "production", "workflow": "Deploy"},
    "feature-branch": {"repository": ORG, "ref": "refs/heads/feature/summaries"},
    "other-owner": {"repository": STRANGER, "actor": "someone-else", "actor_id": "90210777"},
    "new-repository": {"repository": NEW_REPO},
    "no-id-token-permission": {"repository": ORG, "id_token_permission": False},
    "completed": {"repository": ORG, "completed": True},
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class GitHubActionsMock:
    """The runner's token service for the lab's jobs, and the issuer that signs their tokens."""

    name = "github_actions"

    def __init__(self, ctx: LabContext) -> None:
        self.ctx = ctx
        self.base_url = ctx.base_url(self.name)
        self.issuer = ISSUER
        self._key = ctx.keys.private_key(SIGNING_KEY)
        self._certificate = self._self_signed()
        der = self._certificate.public_bytes(serialization.Encoding.DER)
        self.x5t = _b64(hashlib.sha1(der).digest())
        self.x5c = base64.b64encode(der).decode()
        self.kid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ISSUER}#{self.x5t}"))
        self.account = _b64(hashlib.sha256(f"{ctx.seed}:actions-account".encode()).digest())[:42]
        self.jobs: dict[str, Job] = {}
        for job_name, spec in JOBS.items():
            self.jobs[job_name] = Job(
                name=job_name, request_token=self._request_token(job_name),
                plan_id=seeded_guid(ctx.seed, f"actions-plan:{job_name}"),
                job_id=seeded_guid(ctx.seed, f"actions-job:{job_name}"), **spec)
        self.tokens_issued = 0

    def _request_token(self, job_name: str) -> str:
        """A job's request token: secret to the job, stable per lab seed (as the IMDS header is), so the
        notebooks' redacted prefixes do not change from run to run."""
        return _b64(hashlib.sha256(f"{self.ctx.seed}:actions-request-token:{job_name}".encode()).digest())

    def _self_signed(self) -> x509.Certificate:
        """The certificate GitHub publishes with each key (``x5c``); its SHA-1 is the ``x5t`` of tokens."""
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "token.actions.githubusercontent.com")])
        start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self._key.public_key()).serial_number(int(self.ctx.seed))
                .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=730))
                .sign(self._key, hashes.SHA256()))  # type: ignore[arg-type]

    # -- the runner's view of a job

    def job(self, name: str) -> Job:
        return self.jobs[name]

    def request_url(self, job: Job) -> str:
        path = TOKEN_PATH.format(account=self.account, project=PROJECT, plan=job.plan_id, job=job.job_id)
        return f"{self.base_url}{path}?api-version={API_VERSIONS[-1]}"

    def environment(self, job: Job) -> dict[str, str]:
        """What the runner puts in the job's environment (the two request variables only with the permission)."""
        env = {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_REPOSITORY": job.repository.full_name,
               "GITHUB_REPOSITORY_OWNER": job.repository.owner, "GITHUB_REF": job.ref,
               "GITHUB_EVENT_NAME": job.event_name, "GITHUB_SHA": job.sha, "GITHUB_RUN_ID": job.run_id,
               "GITHUB_WORKFLOW": job.workflow}
        if job.id_token_permission:
            env["ACTIONS_ID_TOKEN_REQUEST_URL"] = self.request_url(job)
            env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = job.request_token
        return env

    # -- the token service

    def _find(self, plan: str, job_id: str) -> Job:
        for job in self.jobs.values():
            if job.plan_id == plan and job.job_id == job_id:
                return job
        raise errors.NotFound()

    def mint(self, job: Job, audience: str | None) -> str:
        """A fresh token for ``job`` (``audience`` None: the owner's URL, as GitHub defaults it)."""
        aud = audience if audience is not None else f"https://github.com/{job.repository.owner}"
        claims = job.claims(aud, int(self.ctx.clock()))
        self.tokens_issued += 1
        return jwt.encode(claims, self._key, algorithm="RS256",
                          headers={"kid": self.kid, "typ": "JWT", "x5t": self.x5t})

    def token_response(self, plan: str, job_id: str, params: list[tuple[str, str]], authorization: str) -> str:
        """The token a request earns, or the :class:`~.errors.TokenServiceRefusal` it gets (checked in this order:
        the job, the bearer, the job's state and permission, then the query)."""
        job = self._find(plan, job_id)
        scheme, _, credential = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise errors.Unauthorized(errors.MISSING_BEARER)
        if not secrets.compare_digest(credential.strip().encode(), job.request_token.encode()):
            raise errors.Unauthorized(errors.WRONG_BEARER)
        if job.completed:
            raise errors.Unauthorized(errors.JOB_COMPLETED)
        if not job.id_token_permission:
            raise errors.Forbidden()
        seen: dict[str, str] = {}
        for name, value in params:
            if name in seen and name in ("api-version", "audience"):
                raise errors.BadRequest(errors.REPEATED.format(name=name))
            seen[name] = value
        if seen.get("api-version") not in API_VERSIONS:
            raise errors.BadRequest(errors.API_VERSION)
        return self.mint(job, seen.get("audience") or None)

    # -- HTTP

    async def idtoken(self, request: Request) -> JSONResponse:
        try:
            params = query_pairs(request)
        except Rejected as exc:
            raise errors.BadRequest(errors.UNREADABLE.format(reason=exc.reason)) from None
        p = request.path_params
        token = self.token_response(p["plan"], p["job"], params, request.headers.get("authorization", ""))
        return JSONResponse({"value": token})

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.base_url}/.well-known/jwks",
            "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"],
            "claims_supported": list(CLAIMS_SUPPORTED),
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid"],
        }

    def jwks(self) -> dict[str, Any]:
        jwk = public_jwk(self._key, self.kid, "RS256")  # type: ignore[arg-type]
        jwk.update(x5c=[self.x5c], x5t=self.x5t)
        return {"keys": [jwk]}

    async def discovery_endpoint(self, request: Request) -> JSONResponse:
        return JSONResponse(self.discovery())

    async def jwks_endpoint(self, request: Request) -> JSONResponse:
        return JSONResponse(self.jwks())

    def asgi(self) -> Starlette:
        path = TOKEN_PATH.replace("{plan}", "{plan:str}").replace("{job}", "{job:str}")
        return Starlette(routes=[
            Route(path, self.idtoken, methods=["GET"]),
            Route("/.well-known/openid-configuration", self.discovery_endpoint, methods=["GET"]),
            Route("/.well-known/jwks", self.jwks_endpoint, methods=["GET"]),
        ], exception_handlers=EXCEPTION_HANDLERS)

    def connection(self) -> dict[str, Any]:
        main = self.jobs["main-push"]
        return {
            "base_url": self.base_url,
            "issuer": self.issuer,
            "discovery_base": self.base_url,
            "jwks_uri": f"{self.base_url}/.well-known/jwks",
            "audience": ANTHROPIC_AUDIENCE,
            "repository": main.repository.full_name,
            "repository_owner": main.repository.owner,
            "env": self.environment(main),
            "jobs": {name: {"repository": job.repository.full_name, "event_name": job.event_name, "ref": job.ref,
                            "environment": job.environment, "subject": job.subject, "completed": job.completed,
                            "env": self.environment(job)}
                     for name, job in self.jobs.items()},
        }


SPEC = MockSpec("github_actions", "https", factory=GitHubActionsMock)
