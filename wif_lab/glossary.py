"""What each claim means, for the kinds of token the lab shows: Okta access tokens and client
assertions, DPoP proofs, Entra v1.0/v2.0 access tokens (IMDS and workload identity), Kubernetes
projected service-account tokens, SPIFFE JWT-SVIDs, and generic OIDC tokens.

The same claim name means different things per issuer (``sub`` is an Okta app's client ID, an Entra
identity's object ID, a Kubernetes service account), so :func:`token_kind` first recognises the token
from its claims, then :func:`meaning` picks the sentence for that kind, falling back to the generic one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

GENERIC: dict[str, str] = {
    "iss": "issuer: must equal the registered issuer_url byte for byte",
    "sub": "subject: who the token is about",
    "aud": "audience: who the token is for",
    "exp": "expiry",
    "iat": "issued at",
    "nbf": "not valid before",
    "auth_time": "when the subject authenticated",
    "jti": "token ID, unique per token: Anthropic refuses a second exchange of it (check_jti)",
    "azp": "authorized party: the client the token was issued to",
    "scope": "scopes granted",
    "scp": "scopes granted",
    "client_id": "the client the token was issued to",
    "nonce": "value that ties the token to one request",
    "email": "the subject's e-mail address",
    "name": "the subject's display name",
    "groups": "groups the subject belongs to",
    "cnf": "confirmation: the key the token is bound to (jkt: its SHA-256 JWK thumbprint)",
}

OKTA_ACCESS: dict[str, str] = {
    "iss": "the custom authorization server's issuer URL (register exactly this, /oauth2/<id> included)",
    "sub": "the service app's client ID (what subject_prefix pins)",
    "aud": "the authorization server's audience (Security → API → Settings)",
    "cid": "client ID of the app the token was issued to (equals sub for client_credentials)",
    "uid": "the user's ID (absent for client_credentials)",
    "scp": "scopes granted by the authorization server's access policy",
    "jti": "token ID (AT.…), unique: a second exchange of it is refused as a replay",
    "ver": "Okta's access-token format version (1)",
    "cnf": "DPoP binding: jkt is the thumbprint of the proof key the token is bound to",
}

CLIENT_ASSERTION: dict[str, str] = {
    "iss": "the app's client ID: the client vouches for itself (RFC 7523)",
    "sub": "the app's client ID again (iss = sub for client authentication)",
    "aud": "the token endpoint: the only place this assertion is accepted",
    "jti": "unique per assertion: Okta refuses one it has already seen",
    "exp": "expiry (short-lived: Okta refuses exp more than 1 h ahead)",
}

DPOP_PROOF: dict[str, str] = {
    "htm": "HTTP method of the one request this proof is for",
    "htu": "URL of the one request this proof is for",
    "jti": "unique per proof: a proof is never reused",
    "nonce": "the server's DPoP nonce (from its dpop-nonce header)",
    "ath": "hash of the access token the proof accompanies",
}

ENTRA: dict[str, str] = {
    "sub": "the identity's object (principal) ID: equals oid for app-only tokens",
    "aud": "the audience app's application (client) ID (v2.0 tokens)",
    "azp": "client ID of the identity that asked for the token",
    "azpacr": "how the client authenticated: 0 public, 1 secret, 2 certificate or managed identity",
    "appid": "client ID of the identity that asked for the token (the v1.0 name of azp)",
    "appidacr": "how the client authenticated (the v1.0 name of azpacr; 2: certificate or managed identity)",
    "oid": "the identity's object (principal) ID: what a rule pins to authorize exactly one identity",
    "tid": "the tenant ID",
    "idp": "the identity provider that authenticated the caller (the tenant's v1 issuer)",
    "idtyp": "token type: app (an application or managed identity, not a user)",
    "aio": "Entra-internal data (opaque)",
    "rh": "Entra-internal: used to revalidate the token (opaque)",
    "uti": "Entra's unique token ID (its jti; Entra tokens carry no jti, so no replay check applies)",
    "ver": "token version, set by the audience app's requestedAccessTokenVersion",
    "xms_mirid": "Azure resource ID of the managed identity (or of the VM for a system-assigned one)",
    "xms_tcdt": "when the tenant was created (seconds since epoch)",
    "roles": "app roles granted to the identity on the audience app",
}
ENTRA_V2 = {**ENTRA, "iss": "the tenant's v2.0 issuer (login.microsoftonline.com/<tenant>/v2.0 on Azure)"}
ENTRA_V1 = {**ENTRA, "iss": "the tenant's v1 issuer (sts.windows.net/<tenant>/ on Azure, trailing slash)",
            "aud": "the resource exactly as requested (the identifier URI, v1.0 tokens)"}

KUBERNETES: dict[str, str] = {
    "iss": "the cluster's OIDC issuer (on AKS it ends with '/')",
    "sub": "system:serviceaccount:<namespace>:<service account>",
    "aud": "the projected volume's audience(s): a list",
    "jti": "token ID, unique per token (Kubernetes 1.29 and later)",
    "kubernetes.io": "namespace, service account, pod and node the token is bound to",
}

JWT_SVID: dict[str, str] = {
    "iss": "SPIRE's jwt_issuer (absent when unset): must equal the registered issuer_url byte for byte",
    "sub": "the workload's SPIFFE ID, spiffe://<trust domain>/<path> (what subject_prefix pins, exactly)",
    "aud": "the audiences the workload asked the agent for: a list",
    "exp": "expiry: iat + jwt_svid_ttl (default 5 min)",
    "jti": "token ID: only when the entry sets jwt_svid_include_jti (newer SPIRE); none by default",
}

GITHUB_ACTIONS: dict[str, str] = {
    "iss": "GitHub's issuer, shared by every GitHub customer: a rule must also pin the owner",
    "sub": "repo:<owner>/<repo>: then environment:<name>, pull_request, or ref:<ref> (newer repositories: "
           "<owner>@<id>/<repo>@<id>)",
    "aud": "the audience the step asked for (default: https://github.com/<owner>)",
    "jti": "token ID, new for every request to the runner: Anthropic refuses a second exchange of it",
    "nbf": "not valid before: GitHub backdates it (300 s before iat)",
    "exp": "expiry: 5 minutes after iat",
    "repository": "<owner>/<repo> the workflow runs in (for a fork's pull request: the base repository)",
    "repository_owner": "the organization or user that owns the repository: what tenant pinning reads",
    "repository_owner_id": "the owner's numeric ID, as a string (survives a rename)",
    "repository_id": "the repository's numeric ID, as a string (survives a rename)",
    "ref": "the branch or tag the run is for (refs/pull/<n>/merge for a pull request)",
    "ref_type": "branch or tag",
    "ref_protected": "whether branch protection applies to ref: the string \"true\" or \"false\"",
    "event_name": "what triggered the run: push, pull_request, workflow_dispatch, …",
    "environment": "the deployment environment the job targets (only then present)",
    "head_ref": "the pull request's source branch (a fork's branch for a fork's pull request)",
    "base_ref": "the pull request's target branch",
    "actor": "the account that triggered the run",
    "actor_id": "that account's numeric ID, as a string",
    "sha": "the commit the run checked out",
    "workflow": "the workflow's name",
    "workflow_sha": "the commit of the workflow file",
    "job_workflow_sha": "the commit of the workflow file that defines the job",
    "repository_visibility": "public, private or internal",
    "run_id": "the workflow run's ID, as a string",
    "run_number": "the run's number within the workflow, as a string",
    "run_attempt": "which attempt of the run (re-runs count up), as a string",
    "check_run_id": "the job's check run ID, as a string",
    "workflow_ref": "<owner>/<repo>/<workflow file>@<ref>",
    "job_workflow_ref": "the workflow file that defines the job (a reusable workflow's own path)",
    "runner_environment": "github-hosted or self-hosted",
}

AWS_STS: dict[str, str] = {
    "iss": "the account's issuer, https://<uuid>.tokens.sts.global.api.aws (one per AWS account)",
    "sub": "the IAM role's ARN (not the assumed-role session's): what subject_prefix pins, in full",
    "aud": "the Audience asked of GetWebIdentityToken",
    "exp": "iat + DurationSeconds (60-3600, default 300)",
    "jti": "token ID, unique per token: Anthropic refuses a second exchange of it (check_jti)",
    "https://sts.amazonaws.com/": ("the caller's context: aws_account, source_region, org_id, ou_path, principal_id "
                                   "and request_tags; nested, so a rule reads it with a CEL condition"),
}

GOOGLE: dict[str, str] = {
    "iss": "Google's issuer, https://accounts.google.com: the same for every Google Cloud customer",
    "sub": "the service account's numeric unique ID: pin it whole in claims.sub (no stable prefix)",
    "azp": "the service account's numeric unique ID again",
    "aud": "the audience the workload asked the metadata server for",
    "email": "the service account's e-mail: present only when the token was asked for with format=full",
    "email_verified": "always true for a service account (a boolean, so claims cannot match it)",
    "google": "google.compute_engine: project_id, project_number, zone, instance_name, instance_id of the VM "
              "(on GKE, the node); only with format=full; match it with a condition",
}

CUSTOM = "a claim this issuer adds (match it with claims or a condition)"
ABSENT = "(absent)"

_KINDS: dict[str, dict[str, str]] = {
    "okta access token": OKTA_ACCESS,
    "client assertion": CLIENT_ASSERTION,
    "DPoP proof": DPOP_PROOF,
    "Entra v2.0 token": ENTRA_V2,
    "Entra v1.0 token": ENTRA_V1,
    "Kubernetes token": KUBERNETES,
    "JWT-SVID": JWT_SVID,
    "GitHub Actions token": GITHUB_ACTIONS,
    "AWS STS token": AWS_STS,
    "Google ID token": GOOGLE,
    "OIDC token": {},
}


def token_kind(claims: Mapping[str, Any]) -> str:
    """Which kind of token ``claims`` come from (one of the glossary's kinds)."""
    if "htm" in claims and "htu" in claims:
        return "DPoP proof"
    if "kubernetes.io" in claims:
        return "Kubernetes token"
    if str(claims.get("sub", "")).startswith("spiffe://"):
        return "JWT-SVID"
    if "https://sts.amazonaws.com/" in claims:
        return "AWS STS token"
    if claims.get("iss") in ("https://accounts.google.com", "accounts.google.com"):
        return "Google ID token"
    version = claims.get("ver")
    if version == "2.0":
        return "Entra v2.0 token"
    if version == "1.0":
        return "Entra v1.0 token"
    if "cid" in claims and "scp" in claims:
        return "okta access token"
    if "repository_owner" in claims and "run_id" in claims:
        return "GitHub Actions token"
    aud = claims.get("aud")
    if (claims.get("iss") is not None and claims.get("iss") == claims.get("sub") and isinstance(aud, str)
            and aud.rstrip("/").endswith("/token")):
        return "client assertion"
    return "OIDC token"


def meaning(name: str, claims: Mapping[str, Any], *, kind: str | None = None) -> str:
    """One sentence on what claim ``name`` means in a token with these ``claims``."""
    table = _KINDS.get(kind or token_kind(claims), {})
    found = table.get(name) or GENERIC.get(name)
    if found is None and name not in claims:  # a claim the token lacks (a rule reads it): say what it is elsewhere
        found = next((other[name] for other in _KINDS.values() if name in other), None)
    return found or CUSTOM
