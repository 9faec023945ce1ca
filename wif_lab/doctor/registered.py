"""Checks of what is registered with Anthropic, read back with an ``org:admin`` token: the issuer (active, its
URL equal to the token's ``iss``), the rule judged against the token's claims by :mod:`wif_lab.rules` (the
engine the mock Anthropic uses), and the workspace the exchange binds to with the service account's
membership of it."""

from __future__ import annotations

from typing import Any

import anthropic

from ..rules import WorkspaceContext, evaluate
from ..runbook import DEFAULT_AUDIENCE, ENV_ADMIN_TOKEN
from .context import Context, skipped
from .issuer import difference
from .report import FAIL, OK, Check

NO_ADMIN = (f"reading the issuer and rule back needs an org:admin OAuth token: export {ENV_ADMIN_TOKEN} "
            "(from `ant auth login --scope org:admin`)")
ADMIN_FIX = (f"{ENV_ADMIN_TOKEN} must be an org:admin OAuth token of this organization (`ant auth login --scope "
             "org:admin`); Admin API keys are not accepted there")


RULE_FIXES = {
    "issuer": "register the issuer with the token's iss byte for byte (see Registered issuer)",
    "issuer_active": "register the issuer again and point the rule at it",
    "rule_active": "create the rule again (an archived rule cannot be restored)",
    "audience": "set the rule's audience to a value of the token's aud, or have the identity provider put "
                "https://api.anthropic.com there",
    "claims": "change the rule's match to what the token carries (its claims are in the JWT row's data), or have "
              "the identity provider put what the rule expects in the token",
}
RULE_FIXES["subject_prefix"] = RULE_FIXES["condition"] = RULE_FIXES["claims"]


def _read_failure(check_id: str, title: str, what: str, exc: anthropic.APIError) -> Check:
    status = getattr(exc, "status_code", None)
    if status == 404:
        return Check(check_id, title, FAIL, f"{what} does not exist in this organization (HTTP 404)",
                     "check the ID in the Console (Settings → Workload identity), and organization_id")
    if status in (401, 403):
        return Check(check_id, title, FAIL, f"the admin token cannot read {what} (HTTP {status})", ADMIN_FIX)
    return Check(check_id, title, FAIL, f"reading {what} failed: {type(exc).__name__} {status or ''}".strip(),
                 "that the Claude API answers here (base URL, CA bundle)")


def check_issuer(ctx: Context) -> Check:
    """Read the rule, then the issuer it belongs to; both must be active and the issuer URL equal ``iss``."""
    title = "Registered issuer"
    rb = ctx.rb
    if not rb.can_read_back:
        return skipped("anthropic.issuer", title, NO_ADMIN)
    if not rb.federation_rule_id:
        return skipped("anthropic.issuer", title, "no federation_rule_id to start from (see the first check)")
    assert ctx.decoded is not None
    federation = rb.admin().organization.federation
    try:
        ctx.rule = federation.rules.retrieve(rb.federation_rule_id)
    except anthropic.APIError as exc:
        return _read_failure("anthropic.issuer", title, f"the rule {rb.federation_rule_id}", exc)
    issuer_id = ctx.rule.issuer_id
    data: dict[str, Any] = {"rule_id": ctx.rule.id, "issuer_id": issuer_id}
    if rb.federation_issuer_id and rb.federation_issuer_id != issuer_id:
        return Check("anthropic.issuer", title, FAIL, f"the rule belongs to issuer {issuer_id}, not to the "
                     f"federation_issuer_id given ({rb.federation_issuer_id})",
                     "pass the rule's issuer (or leave federation_issuer_id empty)", data)
    try:
        ctx.issuer = federation.issuers.retrieve(issuer_id)
    except anthropic.APIError as exc:
        return _read_failure("anthropic.issuer", title, f"the issuer {issuer_id}", exc)
    issuer, iss = ctx.issuer, str(ctx.decoded.issuer)
    jwks = issuer.jwks.type if issuer.jwks is not None else "?"
    data.update(name=issuer.name, issuer_url=issuer.issuer_url, jwks=jwks,
                max_jwt_lifetime_seconds=issuer.max_jwt_lifetime_seconds, check_jti=issuer.check_jti)
    if issuer.archived_at is not None:
        return Check("anthropic.issuer", title, FAIL, f"issuer {issuer.name} ({issuer.id}) is archived: it refuses "
                     "every exchange", "register the issuer again and point the rule at it", data)
    if issuer.issuer_url != iss:
        return Check("anthropic.issuer", title, FAIL,
                     f"issuer {issuer.name} ({issuer.id}) is registered as {issuer.issuer_url!r}; the token's iss is "
                     f"{iss!r} ({difference(iss, issuer.issuer_url)}): every token is refused",
                     f"set the issuer's issuer_url to exactly {iss!r} (Console → Workload identity → Issuers, or "
                     "issuers.update)", data)
    return Check("anthropic.issuer", title, OK, f"issuer {issuer.name} ({issuer.id}) is active, registered with the "
                 f"token's iss byte for byte; keys by {jwks}", data=data)


def check_rule(ctx: Context) -> Check:
    """The rule judged against the token's claims by the shared rules engine (the workspace comes next)."""
    title = "Rule against the token's claims (preflight)"
    assert ctx.decoded is not None and ctx.rule is not None and ctx.issuer is not None
    rule, rb = ctx.rule, ctx.rb
    target = rule.target.service_account_id if rule.target is not None else None
    data: dict[str, Any] = {"rule": f"{rule.name} ({rule.id})", "target": target}
    if rb.service_account_id and target != rb.service_account_id:
        return Check("anthropic.rule", title, FAIL, f"the rule's target is {target}, but the exchange sends "
                     f"service_account_id {rb.service_account_id}: refused as a mismatch",
                     f"send service_account_id {target} (the rule's target), or point the rule at the account", data)
    evaluation = evaluate(ctx.issuer, rule, ctx.decoded.claims, default_audience=DEFAULT_AUDIENCE)
    verdicts = [v for v in evaluation.verdicts if v.matcher != "workspace"]
    data["verdicts"] = {v.matcher: v.code for v in verdicts}
    failures = [v for v in verdicts if not v.passed]
    if failures:
        fixes = dict.fromkeys(RULE_FIXES.get(v.matcher.split(".")[0], RULE_FIXES["claims"]) for v in failures)
        return Check("anthropic.rule", title, FAIL, "; ".join(f"{v.matcher}: {v.reason}" for v in failures),
                     "; ".join(fixes), data)
    matchers = ", ".join(v.matcher for v in verdicts)
    return Check("anthropic.rule", title, OK, f"rule {rule.name} ({rule.id}) accepts these claims: {matchers} pass",
                 data=data)


def check_workspace(ctx: Context) -> Check:
    """The workspace the exchange binds to, and the service account's membership of it."""
    title = "Workspace and the service account's membership"
    assert ctx.rule is not None and ctx.issuer is not None and ctx.decoded is not None
    rule = ctx.rule
    account_id = rule.target.service_account_id if rule.target is not None else None
    if not account_id:
        return Check("anthropic.workspace", title, FAIL, "the rule has no service account target",
                     "set the rule's target to the workload's service account")
    accounts = ctx.rb.admin().organization.service_accounts
    try:
        account = accounts.retrieve(account_id)
        memberships = list(accounts.workspaces.list(account_id))
    except anthropic.APIError as exc:
        return _read_failure("anthropic.workspace", title, f"the service account {account_id}", exc)
    data: dict[str, Any] = {"service_account": account_id, "member_of": [m.workspace_id for m in memberships]}
    if account.archived_at is not None:
        return Check("anthropic.workspace", title, FAIL, f"the service account {account.name} ({account_id}) is "
                     "archived: the exchange refuses it", "point the rule at an active service account", data)
    default = next((m.workspace_id for m in memberships if getattr(m, "implicit", False)), None)
    if default is None and ctx.rb.lab is not None:
        default = ctx.rb.lab.default_workspace_id
    members = frozenset(m.workspace_id for m in memberships)
    evaluation = evaluate(ctx.issuer, rule, ctx.decoded.claims, default_audience=DEFAULT_AUDIENCE,
                          requested_workspace=ctx.rb.workspace_id,
                          workspaces=WorkspaceContext(default_workspace_id=default or "default",
                                                      member_workspace_ids=members))
    verdict = next(v for v in evaluation.verdicts if v.matcher == "workspace")
    data["workspace"] = verdict.actual
    if not verdict.passed:
        if verdict.code == "not_workspace_member":
            fix = (f"add the service account to workspace {verdict.actual} (Console → Workspaces → Members, or "
                   "service_accounts.workspaces.create), or request a workspace it belongs to")
        elif verdict.code == "workspace_id_required":
            fix = "set workspace_id (the parameter, or ANTHROPIC_WORKSPACE_ID) to one of the rule's workspaces"
        else:
            fix = "request a workspace the rule is enabled for (workspace_id), or enable the rule for it"
        return Check("anthropic.workspace", title, FAIL, verdict.reason, fix, data)
    return Check("anthropic.workspace", title, OK, verdict.reason, data=data)
