"""Federation rule evaluation (wif_lab.rules): every matcher, pass and fail, as the WIF reference states it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from anthropic.types.beta.organization.federation import BetaFederationRule
from anthropic.types.organization.federation import FederationIssuer, FederationRule, FederationRuleMatch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wif_lab import rules
from wif_lab.rules import (
    Evaluation,
    Verdict,
    WorkspaceContext,
    check_condition,
    evaluate,
    evaluate_condition,
    validate_match,
)

ISSUER_URL = "https://lab-okta.example/oauth2/aus1lab"
ANTHROPIC_AUD = "https://api.anthropic.com"
DEFAULT_WS = "wrkspc_default"
WS_A, WS_B, WS_C = "wrkspc_a", "wrkspc_b", "wrkspc_c"
ARCHIVED = "2026-07-01T00:00:00Z"


def make_issuer(**fields: Any) -> dict[str, Any]:
    base = {
        "id": "fdis_01lab",
        "type": "federation_issuer",
        "name": "okta-lab",
        "issuer_url": ISSUER_URL,
        "jwks": {"type": "discovery"},
        "check_jti": True,
        "max_jwt_lifetime_seconds": 3600,
        "archived_at": None,
    }
    return base | fields


def make_rule(match: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    base = {
        "id": "fdrl_01lab",
        "type": "federation_rule",
        "name": "lab-rule",
        "issuer_id": "fdis_01lab",
        "match": {"subject_prefix": "svc-*"} if match is None else match,
        "target": {"type": "service_account", "service_account_id": "svac_01lab"},
        "oauth_scope": "workspace:developer",
        "token_lifetime_seconds": 600,
        "applies_to_all_workspaces": False,
        "workspace_ids": [WS_A],
        "archived_at": None,
    }
    return base | fields


def make_claims(**fields: Any) -> dict[str, Any]:
    base = {"iss": ISSUER_URL, "aud": ANTHROPIC_AUD, "sub": "svc-billing", "team": "payments"}
    return base | fields


def run(
    match: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    *,
    issuer: dict[str, Any] | None = None,
    rule: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Evaluation:
    return evaluate(
        issuer or make_issuer(),
        rule or make_rule(match),
        make_claims() if claims is None else claims,
        default_audience=ANTHROPIC_AUD,
        **kwargs,
    )


def verdict_for(evaluation: Evaluation, matcher: str) -> Verdict:
    (found,) = [v for v in evaluation.verdicts if v.matcher == matcher]
    return found


# ── issuer / rule state ──────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("issuer_archived", "rule_archived", "expected"),
    [
        (None, None, {"issuer_active": "ok", "rule_active": "ok"}),
        (ARCHIVED, None, {"issuer_active": "issuer_archived", "rule_active": "ok"}),
        (None, ARCHIVED, {"issuer_active": "ok", "rule_active": "rule_archived"}),
    ],
)
def test_archived_issuer_or_rule_fails(issuer_archived, rule_archived, expected):
    evaluation = run(issuer=make_issuer(archived_at=issuer_archived), rule=make_rule(archived_at=rule_archived))
    assert {m: verdict_for(evaluation, m).code for m in expected} == expected
    assert evaluation.passed is (issuer_archived is None and rule_archived is None)


# ── iss ──────────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("registered", "iss", "passed", "hint"),
    [
        (ISSUER_URL, ISSUER_URL, True, "equals"),
        (ISSUER_URL, ISSUER_URL + "/", False, "only by a trailing slash"),
        (ISSUER_URL + "/", ISSUER_URL, False, "only by a trailing slash"),
        ("https://lab-okta.example/oauth2/aus1lab", "https://lab-okta.example", False, "is a prefix of"),
        ("https://lab-okta.example", "https://lab-okta.example/oauth2/default", False, "extends"),
        ("https://Lab-Okta.example/oauth2/aus1lab", ISSUER_URL, False, "letter case"),
        (
            "https://login.microsoftonline.com/tenant-1/v2.0",
            "https://sts.windows.net/tenant-1/",
            False,
            "host/port and path",
        ),
        ("https://lab-okta.example:8443/oauth2/aus1lab", ISSUER_URL, False, "host/port"),
        (ISSUER_URL, "http://lab-okta.example/oauth2/aus1lab", False, "scheme"),
        (ISSUER_URL, None, False, "no iss claim"),
        (ISSUER_URL, 42, False, "42"),
    ],
)
def test_iss_must_equal_issuer_url_byte_for_byte(registered, iss, passed, hint):
    claims = make_claims(iss=iss) if iss is not None else {k: v for k, v in make_claims().items() if k != "iss"}
    result = verdict_for(run(issuer=make_issuer(issuer_url=registered), claims=claims), "issuer")
    assert (result.passed, result.code) == (passed, "ok" if passed else "issuer_mismatch")
    assert hint in result.reason
    assert (result.claim, result.expected, result.actual) == ("iss", registered, iss)


# ── aud ──────────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("rule_audience", "aud", "passed", "expected"),
    [
        (None, ANTHROPIC_AUD, True, ANTHROPIC_AUD),
        (None, ["api://other", ANTHROPIC_AUD], True, ANTHROPIC_AUD),
        (None, ["api://other"], False, ANTHROPIC_AUD),
        (None, "api://other", False, ANTHROPIC_AUD),
        (None, ANTHROPIC_AUD + "/", False, ANTHROPIC_AUD),
        (None, [], False, ANTHROPIC_AUD),
        (None, [1, 2], False, ANTHROPIC_AUD),
        ("api://claude", "api://claude", True, "api://claude"),
        ("api://claude", ["x", "api://claude"], True, "api://claude"),
        ("api://claude", ANTHROPIC_AUD, False, "api://claude"),
        ("api://claude", "API://claude", False, "api://claude"),
    ],
)
def test_aud_contains_rule_or_default_audience(rule_audience, aud, passed, expected):
    match = {"subject_prefix": "svc-*"} | ({"audience": rule_audience} if rule_audience else {})
    result = verdict_for(run(match, make_claims(aud=aud)), "audience")
    assert (result.passed, result.code) == (passed, "ok" if passed else "audience_mismatch")
    assert (result.claim, result.expected, result.actual) == ("aud", expected, aud)


def test_aud_reason_names_the_audience_it_wanted():
    result = verdict_for(run({"subject_prefix": "svc-*"}, make_claims(aud=["api://x"])), "audience")
    assert result.reason.startswith(f"aud ['api://x'] does not contain Anthropic's expected audience '{ANTHROPIC_AUD}'")
    overridden = verdict_for(
        run({"subject_prefix": "svc-*", "audience": "api://claude"}, make_claims(aud=["api://x"])), "audience"
    )
    assert "the rule's audience 'api://claude'" in overridden.reason


def test_missing_aud_fails():
    claims = {k: v for k, v in make_claims().items() if k != "aud"}
    result = verdict_for(run(claims=claims), "audience")
    assert (result.passed, result.code) == (False, "audience_mismatch")
    assert "no aud claim" in result.reason


# ── sub ──────────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("prefix", "sub", "passed", "hint"),
    [
        ("svc-billing", "svc-billing", True, "equals"),
        ("svc-billing", "svc-billing-2", False, "end subject_prefix with '*'"),
        ("svc-billing", "SVC-billing", False, "case-sensitive"),
        ("svc-*", "svc-billing", True, "starts with 'svc-'"),
        ("svc-*", "svc-", True, "starts with"),
        ("svc-*", "SVC-billing", False, "case-sensitive"),
        ("svc-*", "app-billing", False, "does not start with"),
        ("repo:acme/app:ref:refs/heads/main", "repo:acme/app:ref:refs/heads/main", True, "equals"),
        ("repo:acme/app:*", "repo:acme/application:ref:x", False, "does not start with"),
        ("svc-*", None, False, "no sub claim"),
        ("svc-*", 7, False, "not a string"),
    ],
)
def test_subject_prefix_exact_or_trailing_star(prefix, sub, passed, hint):
    claims = make_claims(sub=sub) if sub is not None else {k: v for k, v in make_claims().items() if k != "sub"}
    result = verdict_for(run({"subject_prefix": prefix}, claims), "subject_prefix")
    assert (result.passed, result.code) == (passed, "ok" if passed else "subject_mismatch")
    assert hint in result.reason
    assert result.claim == "sub"


# ── claims ───────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("value", "code", "hint"),
    [
        ("payments", "ok", "equals"),
        ("Payments", "claim_mismatch", "not 'payments'"),
        ("payments ", "claim_mismatch", "not 'payments'"),
        (1, "claim_not_string", "condition"),
        (True, "claim_not_string", "condition"),
        (["payments"], "claim_not_string", "condition"),
        ({"name": "payments"}, "claim_not_string", "condition"),
        (None, "claim_not_string", "condition"),
    ],
)
def test_claims_entry_is_top_level_string_equality(value, code, hint):
    result = verdict_for(run({"claims": {"team": "payments"}}, make_claims(team=value)), "claims.team")
    assert (result.passed, result.code) == (code == "ok", code)
    assert hint in result.reason
    assert (result.claim, result.expected, result.actual) == ("team", "payments", value)


def test_missing_claim_fails_with_claim_missing():
    claims = {k: v for k, v in make_claims().items() if k != "team"}
    result = verdict_for(run({"claims": {"team": "payments"}}, claims), "claims.team")
    assert (result.passed, result.code, result.claim) == (False, "claim_missing", "team")


def test_claims_entries_are_reported_in_name_order():
    evaluation = run({"claims": {"zone": "eu", "app": "billing", "team": "payments"}})
    names = [v.matcher for v in evaluation.verdicts if v.matcher.startswith("claims.")]
    assert names == ["claims.app", "claims.team", "claims.zone"]


# ── condition ────────────────────────────────────────────────────────────────────────────────────

CEL_CLAIMS = make_claims(
    sub="repo:acme/app:ref:refs/heads/main",
    ref="refs/heads/main",
    groups=["eng", "oncall"],
    org={"name": "acme", "tier": 2},
    n=3,
)


@pytest.mark.parametrize(
    ("expression", "code", "hint"),
    [
        ('claims.sub.startsWith("repo:acme/")', "ok", "evaluated to true"),
        ('claims.sub.startsWith("repo:other/")', "condition_false", "evaluated to false"),
        ('claims.ref in ["refs/heads/main", "refs/heads/release"]', "ok", "true"),
        ('claims.ref in ["refs/heads/release"]', "condition_false", "false"),
        ('claims.org.name == "acme" && claims.org.tier >= 2', "ok", "true"),
        ('claims.groups.exists(g, g == "oncall")', "ok", "true"),
        ('claims.groups.all(g, g.startsWith("e"))', "condition_false", "false"),
        ("claims.n == 3", "ok", "true"),
        ("has(claims.missing)", "condition_false", "false"),
        ("claims.sub", "condition_not_bool", "must evaluate to true or false"),
        ("claims.n + 1", "condition_not_bool", "(int)"),
        ('claims.missing == "x"', "condition_error", "has("),
        ('claims.org.missing == "x"', "condition_error", "'missing'"),
        ('other.sub == "x"', "condition_error", "only the variable 'claims'"),
        ('claims.groups.exists(g, g == "x") || g == "y"', "condition_error", "Undefined variable"),
        ("claims.sub ==", "condition_error", "does not parse"),
        ("claims.n / 0 == 1", "condition_error", "division by zero"),
        ("claims.n + 9223372036854775807 > 0", "condition_error", "overflow"),
        ('claims.sub.matches("(")', "condition_error", "regex"),
        ("claims.sub + 1 == 2", "condition_error", "failed"),
        ("[1].exists(claims, claims == 1)", "condition_error", "hides the claims map"),
    ],
)
def test_condition_is_cel_over_claims(expression, code, hint):
    result = verdict_for(run({"condition": expression}, CEL_CLAIMS), "condition")
    assert (result.passed, result.code) == (code == "ok", code)
    assert hint in result.reason
    assert result.expected == expression


@pytest.mark.parametrize("expression", [42, None, ["claims.sub"]])
def test_condition_that_is_not_a_string_fails_without_raising(expression):
    rule = make_rule({"subject_prefix": "svc-*"})
    rule["match"] = rule["match"] | {"condition": expression}
    evaluation = run(rule=rule)
    if expression is None:
        assert "condition" not in [v.matcher for v in evaluation.verdicts]
    else:
        assert verdict_for(evaluation, "condition").code == "condition_error"


@pytest.mark.parametrize(
    ("expression", "claims", "passed", "hint"),
    [
        ('claims.team == "payments"', {"team": "payments"}, True, "true"),
        ('claims.team == "payments"', {"team": "ops"}, False, "false"),
        ('claims.team == "payments"', {}, False, "not in the claims"),
        ("claims.team", {"team": "ops"}, False, "'ops' (str)"),
    ],
)
def test_evaluate_condition_returns_passed_and_reason(expression, claims, passed, hint):
    ok, reason = evaluate_condition(expression, claims)
    assert ok is passed
    assert hint in reason


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ('claims.sub.startsWith("repo:acme/")', None),
        ('claims.groups.exists(g, g == "eng") && claims.ref == "refs/heads/main"', None),
        ('claims.groups.map(g, g + "!").size() > 0', None),
        ("claims.org.tier >= 2 // tier two and up", None),
        ('claims.sub == "x.exists(y, true)"', None),
        ("true", "constant-true"),
        ("1 == 1", "constant-true"),
        ("[1].exists(x, x == 1)", "constant-true"),
        ("false", "is constant:"),
        ('"claims"', "is constant:"),
        ('request.sub == "x"', "only the variable 'claims', but reads 'request'"),
        ('claims.sub == "x" || env.debug', "'env'"),
        ("claims.sub ==", "does not parse: at 1:14"),
        ("claims.sub.startsWith(", "does not parse"),
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        (7, "must be a string"),
        ('claims.groups.exists(claims, claims == "x")', "hides the claims map"),
    ],
)
def test_check_condition(expression, problem):
    result = check_condition(expression)
    if problem is None:
        assert result is None
    else:
        assert result is not None and problem in result


# ── validate_match (Admin API create/update) ─────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("match", "field", "hint"),
    [
        ({"subject_prefix": "svc-billing"}, None, None),
        ({"subject_prefix": "repo:acme/*", "audience": "api://claude"}, None, None),
        ({"claims": {"team": "payments"}}, None, None),
        ({"condition": 'claims.ref == "refs/heads/main"'}, None, None),
        ({"subject_prefix": "svc-*", "claims": None, "condition": None}, None, None),
        ({}, "match", "needs at least one of subject_prefix, claims or condition"),
        ({"audience": "api://claude"}, "match", "audience alone or an empty match would accept every token"),
        ({"subject_prefix": "*"}, "match.subject_prefix", "'*' is wildcard-only"),
        ({"subject_prefix": "**"}, "match.subject_prefix", "'**' is wildcard-only"),
        ({"subject_prefix": ""}, "match.subject_prefix", "must be a non-empty string"),
        ({"subject_prefix": 5}, "match.subject_prefix", "must be a non-empty string"),
        ({"claims": {"tier": 2}}, "match.claims.tier", "must be a string, got int; non-string claims need a condition"),
        ({"claims": {"org": {"name": "acme"}}}, "match.claims.org", "must be a string, got dict"),
        ({"claims": {"ok": "x", "bad": ["x"]}}, "match.claims.bad", "must be a string, got list"),
        ({"claims": ["team"]}, "match.claims", "must be a map"),
        ({"claims": {}}, "match.claims", "must name at least one claim"),
        ({"subject_prefix": "svc-*", "audience": ""}, "match.audience", "must be a non-empty string"),
        ({"subject_prefix": "svc-*", "audience": ["a"]}, "match.audience", "must be a non-empty string"),
        ({"condition": "true"}, "match.condition", "is constant-true"),
        ({"condition": "1 == 1"}, "match.condition", "is constant-true"),
        ({"condition": "claims.sub =="}, "match.condition", "does not parse"),
        ({"condition": 'iss == "x"'}, "match.condition", "may reference only the variable 'claims'"),
        ({"condition": 3}, "match.condition", "must be a string"),
        ({"subject_prefix": "svc-*", "issuer": "x"}, "match.issuer", "unknown field"),
        ({"subject_prefix": "svc-*", "sub": "x"}, "match.sub", "unknown field"),
    ],
)
def test_validate_match(match, field, hint):
    errors = validate_match(match)
    if field is None:
        assert errors == []
    else:
        (error,) = errors
        assert error.startswith(f"{field}: ")
        assert hint in error


def test_validate_match_reports_every_problem_each_field_prefixed():
    errors = validate_match({"subject_prefix": "*", "audience": "", "claims": {"a": 1}, "condition": "true", "x": 1})
    assert [e.split(":")[0] for e in errors] == [
        "match.subject_prefix",
        "match.audience",
        "match.claims.a",
        "match.condition",
        "match.x",
    ]


def test_validate_match_rejects_a_non_object():
    assert validate_match(["subject_prefix"]) == ["match: must be an object"]  # type: ignore[arg-type]


def test_validate_match_accepts_an_sdk_model():
    assert validate_match(FederationRuleMatch(subject_prefix="svc-*")) == []  # type: ignore[arg-type]
    assert validate_match(FederationRuleMatch(audience="api://x"))[0].startswith("match: needs")  # type: ignore[arg-type]


# ── workspace binding ────────────────────────────────────────────────────────────────────────────

ALL_KNOWN = frozenset({DEFAULT_WS, WS_A, WS_B, WS_C})


def ctx(members: frozenset[str] | None = frozenset({WS_A, WS_B}), known=ALL_KNOWN) -> WorkspaceContext:
    return WorkspaceContext(default_workspace_id=DEFAULT_WS, known_workspace_ids=known, member_workspace_ids=members)


ALL = {"applies_to_all_workspaces": True}
LEGACY_C = {"workspace_ids": [], "workspace_id": WS_C}
UNCHECKED = ctx(known=None, members=None)
NOTHING_LISTED = ctx(known=frozenset(), members=frozenset())


@pytest.mark.parametrize(
    ("binding", "requested", "context", "code", "resolved"),
    [
        pytest.param({"workspace_ids": [WS_A]}, None, ctx(), "ok", WS_A, id="sole-enabled"),
        pytest.param({"workspace_ids": [WS_C]}, None, ctx(), "not_workspace_member", None, id="sole-not-member"),
        pytest.param({"workspace_ids": [WS_C]}, None, ctx(members=None), "ok", WS_C, id="membership-unchecked"),
        pytest.param({"workspace_ids": [DEFAULT_WS]}, "default", ctx(), "ok", DEFAULT_WS, id="default-literal"),
        pytest.param({"workspace_ids": [WS_A]}, "default", ctx(), "workspace_not_enabled", None, id="default-off"),
        pytest.param({"workspace_ids": [WS_A, DEFAULT_WS]}, None, ctx(), "ok", DEFAULT_WS, id="several-with-default"),
        pytest.param({"workspace_ids": [WS_A, WS_B]}, None, ctx(), "workspace_id_required", None,
                     id="several-no-default"),
        pytest.param({"workspace_ids": [WS_A, WS_B]}, WS_B, ctx(), "ok", WS_B, id="several-named"),
        pytest.param({"workspace_ids": [WS_A, WS_B]}, WS_C, ctx(), "workspace_not_enabled", None, id="named-off"),
        pytest.param({"workspace_ids": [WS_A]}, "wrkspc_gone", ctx(), "workspace_not_enabled", None, id="off-unknown"),
        pytest.param({"workspace_ids": [WS_A]}, None, NOTHING_LISTED, "workspace_unknown", None, id="sole-unknown"),
        pytest.param({"workspace_ids": []}, None, ctx(), "workspace_not_enabled", None, id="enabled-nowhere"),
        pytest.param(ALL | {"workspace_ids": [WS_A]}, None, ctx(), "ok", DEFAULT_WS, id="all-binds-default"),
        pytest.param(ALL, WS_B, ctx(), "ok", WS_B, id="all-named-member"),
        pytest.param(ALL, WS_C, ctx(), "not_workspace_member", None, id="all-named-not-member"),
        pytest.param(ALL, "wrkspc_gone", ctx(), "workspace_unknown", None, id="all-named-unknown"),
        pytest.param(ALL, "wrkspc_gone", UNCHECKED, "ok", "wrkspc_gone", id="all-existence-unchecked"),
        pytest.param(ALL, "default", NOTHING_LISTED, "ok", DEFAULT_WS, id="default-always-known-and-member"),
        pytest.param(LEGACY_C, None, ctx(), "ok", WS_C, id="legacy-only-skips-membership"),
        pytest.param(LEGACY_C, WS_A, ctx(), "workspace_not_enabled", None, id="legacy-other"),
        pytest.param(
            {"workspace_ids": [WS_A], "workspace_id": WS_C},
            WS_C,
            ctx(),
            "not_workspace_member",
            None,
            id="legacy-plus-list-checks-membership",
        ),
        pytest.param({"workspace_ids": [WS_A], "workspace_id": WS_A}, None, ctx(), "ok", WS_A, id="legacy-same"),
    ],
)
def test_workspace_resolution_and_membership(binding, requested, context, code, resolved):
    evaluation = run(rule=make_rule(**binding), requested_workspace=requested, workspaces=context)
    result = evaluation.verdicts[-1]
    assert result.matcher == "workspace"
    assert (result.passed, result.code) == (code == "ok", code)
    assert evaluation.workspace_id == resolved


def test_workspace_required_reason_counts_workspaces():
    evaluation = run(rule=make_rule(workspace_ids=[WS_A, WS_B, WS_C]), workspaces=ctx())
    assert evaluation.verdicts[-1].reason == "the rule is enabled for 3 workspaces; name one with workspace_id"


@pytest.mark.parametrize(
    ("binding", "requested", "resolved"),
    [
        ({"workspace_ids": [WS_C]}, None, WS_C),
        ({"workspace_ids": [WS_A, WS_B]}, None, None),
        ({"workspace_ids": [WS_A, WS_B]}, WS_B, WS_B),
        ({"workspace_ids": [WS_A]}, WS_B, None),
        ({"workspace_ids": [WS_A]}, "default", None),
        ({"applies_to_all_workspaces": True}, None, None),
        ({"applies_to_all_workspaces": True}, WS_C, WS_C),
        ({"workspace_ids": [], "workspace_id": WS_B}, None, WS_B),
    ],
)
def test_without_workspace_context_no_verdict_but_rule_resolution(binding, requested, resolved):
    evaluation = run(rule=make_rule(**binding), requested_workspace=requested)
    assert "workspace" not in [v.matcher for v in evaluation.verdicts]
    assert evaluation.workspace_id == resolved


# ── the whole evaluation ─────────────────────────────────────────────────────────────────────────

FULL_MATCH = {
    "subject_prefix": "svc-*",
    "audience": "api://claude",
    "claims": {"team": "payments", "env": "prod"},
    "condition": 'claims.groups.exists(g, g == "oncall")',
}


def test_every_verdict_is_reported_in_order_even_after_failures():
    evaluation = run(
        issuer=make_issuer(archived_at=ARCHIVED),
        rule=make_rule(FULL_MATCH),
        claims=make_claims(iss=ISSUER_URL + "/", aud="api://claude", env="dev", groups=[]),
        workspaces=ctx(),
    )
    assert [v.matcher for v in evaluation.verdicts] == [
        "issuer_active",
        "rule_active",
        "issuer",
        "audience",
        "subject_prefix",
        "claims.env",
        "claims.team",
        "condition",
        "workspace",
    ]
    assert [v.code for v in evaluation.failures] == [
        "issuer_archived",
        "issuer_mismatch",
        "claim_mismatch",
        "condition_false",
    ]
    assert evaluation.passed is False
    assert evaluation.first_failure() == evaluation.verdicts[0]
    assert evaluation.workspace_id == WS_A


def test_a_fully_matching_token_passes():
    claims = make_claims(aud=["api://claude"], env="prod", groups=["oncall"])
    evaluation = run(rule=make_rule(FULL_MATCH), claims=claims, workspaces=ctx())
    assert evaluation.passed, evaluation.failures
    assert evaluation.first_failure() is None
    assert evaluation.failures == ()
    assert evaluation.matched_claims() == {"iss": True, "aud": True, "sub": True, "env": True, "team": True}


def test_matched_claims_and_together_every_matcher_reading_a_claim():
    match = {"subject_prefix": "svc-*", "claims": {"sub": "svc-other"}}
    marks = run(match).matched_claims()
    assert marks["sub"] is False
    assert marks["iss"] is True


def test_sdk_models_give_the_same_verdicts_as_dicts():
    now = datetime(2026, 7, 1, tzinfo=UTC)
    stamps = {"created_at": now, "updated_at": now}
    issuer_dict, rule_dict = make_issuer(), make_rule(FULL_MATCH, workspace_ids=[WS_A, DEFAULT_WS])
    issuer_model = FederationIssuer.model_validate(issuer_dict | stamps)
    rule_model = FederationRule.model_validate(rule_dict | stamps)
    claims = make_claims(aud="api://claude", env="prod", groups=["x"])
    kwargs = {"default_audience": ANTHROPIC_AUD, "workspaces": ctx()}
    from_models = evaluate(issuer_model, rule_model, claims, **kwargs)
    from_dicts = evaluate(issuer_dict, rule_dict, claims, **kwargs)
    assert [(v.matcher, v.code) for v in from_models.verdicts] == [(v.matcher, v.code) for v in from_dicts.verdicts]
    assert from_models.workspace_id == from_dicts.workspace_id == DEFAULT_WS
    assert verdict_for(from_models, "condition").code == "condition_false"


def test_beta_sdk_model_with_legacy_workspace_id_and_archive():
    now = datetime(2026, 7, 1, tzinfo=UTC)
    rule = BetaFederationRule.model_validate(
        make_rule(workspace_ids=[], workspace_id=WS_C, archived_at=now) | {"created_at": now, "updated_at": now}
    )
    evaluation = evaluate(make_issuer(), rule, make_claims(), default_audience=ANTHROPIC_AUD, workspaces=ctx())
    assert verdict_for(evaluation, "rule_active").code == "rule_archived"
    assert evaluation.workspace_id == WS_C


def test_anything_with_model_dump_is_accepted():
    class Dumpable:
        def __init__(self, data: dict[str, Any]) -> None:
            self.data = data

        def model_dump(self) -> dict[str, Any]:
            return dict(self.data)

    assert run(issuer=Dumpable(make_issuer()), rule=Dumpable(make_rule())).passed  # type: ignore[arg-type]


def test_compiled_conditions_are_cached():
    expression = 'claims.team == "payments" && claims.sub.startsWith("svc-")'
    run({"condition": expression})
    hits = rules._compile.cache_info().hits
    run({"condition": expression})
    assert rules._compile.cache_info().hits > hits


def test_evaluation_is_thread_safe():
    rule = make_rule(FULL_MATCH)
    claims = make_claims(aud="api://claude", env="prod", groups=["oncall"])

    def one(_: int) -> bool:
        return evaluate(make_issuer(), rule, claims, default_audience=ANTHROPIC_AUD, workspaces=ctx()).passed

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(one, range(200)))


# ── properties: never raise ──────────────────────────────────────────────────────────────────────

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
claim_sets = st.dictionaries(
    st.sampled_from(["iss", "aud", "sub", "team", "groups", "n"]) | st.text(max_size=6), json_values, max_size=6
)
cel_ish = st.lists(
    st.sampled_from(
        [
            "claims",
            ".",
            "sub",
            "team",
            "groups",
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            '"',
            "'",
            ",",
            ":",
            " == ",
            " != ",
            " && ",
            " || ",
            "!",
            " in ",
            "exists",
            "all",
            "map",
            "has",
            "size",
            "x",
            "1",
            "0",
            "/",
            "+",
            "true",
            "null",
            "startsWith",
            "matches",
            "?",
            "//",
            "\\",
            "\n",
        ]
    ),
    max_size=16,
).map("".join)
conditions = st.one_of(st.text(max_size=40), cel_ish)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims=claim_sets, condition=conditions, prefix=st.text(max_size=6), requested=st.none() | st.text(max_size=4))
def test_evaluate_never_raises(claims, condition, prefix, requested):
    match = {"subject_prefix": prefix, "claims": {"team": "payments"}, "condition": condition}
    evaluation = evaluate(
        make_issuer(),
        make_rule(match),
        claims,
        default_audience=ANTHROPIC_AUD,
        requested_workspace=requested,
        workspaces=ctx(),
    )
    assert isinstance(evaluation, Evaluation)
    assert [v.matcher for v in evaluation.verdicts][-2:] == ["condition", "workspace"]
    assert all(isinstance(v.reason, str) and v.reason for v in evaluation.verdicts)


@settings(max_examples=200, deadline=None)
@given(match=st.dictionaries(st.sampled_from(rules.MATCH_FIELDS) | st.text(max_size=5), json_values, max_size=5))
def test_validate_match_never_raises(match):
    assert all(e.startswith("match") for e in validate_match(match))


@settings(max_examples=200, deadline=None)
@given(expression=conditions)
def test_check_condition_never_raises(expression):
    result = check_condition(expression)
    assert result is None or isinstance(result, str)


@pytest.mark.parametrize(
    ("issuer_url", "match", "pinned"),
    [
        ("https://gitlab.com", {"subject_prefix": "project_path:my-group/app:ref_type:branch:ref:main"}, True),
        ("https://gitlab.com", {"subject_prefix": "project_path:*"}, False),
        ("https://gitlab.com", {"claims": {"namespace_path": "my-group"}}, True),
        ("https://agent.buildkite.com", {"subject_prefix": "organization:acme:pipeline:*"}, True),
        ("https://agent.buildkite.com", {"subject_prefix": "organization:*"}, False),
        ("https://app.terraform.io", {"condition": "claims.terraform_organization_name == 'acme'"}, True),
        ("https://app.terraform.io", {"condition": "claims.terraform_run_phase == 'apply'"}, False),
        ("https://accounts.google.com", {"subject_prefix": "104365890123456789012"}, True),
        ("https://accounts.google.com", {"subject_prefix": "1043*"}, False),
        ("https://accounts.google.com/", {"claims": {"email": "ci@acme.iam.gserviceaccount.com"}}, True),
        ("https://acme.okta.com/oauth2/default", {"subject_prefix": "0oa*"}, True),  # not a shared platform
    ],
)
def test_shared_platform_rules_must_pin_a_tenant(issuer_url: str, match: dict[str, Any], pinned: bool) -> None:
    problem = rules.tenant_pinning_problem(issuer_url, match)
    assert (problem is None) is pinned, problem
