"""Federation rule evaluation: one verdict per matcher, shared by the mock Anthropic and the preflight.

Follows Anthropic's WIF reference ("Federation rules", matching semantics) and the docstrings of the
Admin API types in the ``anthropic`` SDK (``FederationRule``, ``FederationRuleMatch``):

- every populated matcher must pass (AND); ``iss`` must equal the issuer's ``issuer_url`` byte for byte;
- ``aud`` must contain the rule's ``audience`` (or Anthropic's expected audience when it is omitted);
- ``subject_prefix`` is exact and case-sensitive unless it ends with ``*`` (then a prefix match);
- ``claims`` compares top-level *string* claims exactly; anything else needs a CEL ``condition``;
- ``condition`` is CEL over the single variable ``claims`` and must evaluate to a bool;
- the exchange binds to one enabled workspace, and the service account must be a member of it.

The server answers every failure with an opaque 401 ``Authentication failed``; this module keeps the reasons so
the mock can log them and a notebook can show learners which matcher failed and why.
Everything here is pure and thread-safe; compiled CEL programs are cached.

CEL never runs in this process: :mod:`wif_lab.cel_sandbox` runs it in worker processes with a
deadline, because the engine holds the GIL and has no cost limit. Conditions are also bounded
before they run (length and comprehension nesting, refused at rule creation); one that still runs
too long fails with ``condition_timeout``.
"""

from __future__ import annotations

import functools
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .cel_sandbox import EVALUATION_DEADLINE, SandboxCrashed, SandboxTimeout, sandbox

__all__ = [
    "ClaimRead",
    "Evaluation",
    "Verdict",
    "WorkspaceContext",
    "check_condition",
    "condition_claims",
    "evaluate",
    "evaluate_condition",
    "shared_platform",
    "tenant_pinning_problem",
    "validate_match",
]

MATCH_FIELDS = ("subject_prefix", "audience", "claims", "condition")
_CONSTRAINING_FIELDS = ("subject_prefix", "claims", "condition")
DEFAULT_WORKSPACE_ALIAS = "default"

# Static bounds on a condition (lab choices): what the Admin API refuses at rule creation as too
# costly. Each comprehension level multiplies the work by a list's length, and a long expression
# is deep enough to overflow the engine's stack.
MAX_CONDITION_LENGTH = 4096
MAX_COMPREHENSION_NESTING = 3
# How long one condition may run (or compile) before it is stopped and the exchange denied.
CONDITION_DEADLINE = EVALUATION_DEADLINE


# ── results ────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Verdict:
    """The outcome of one matcher, with a sentence a learner can act on."""

    matcher: str
    passed: bool
    code: str
    reason: str
    claim: str | None = None
    expected: Any = None
    actual: Any = None


@dataclass(frozen=True)
class Evaluation:
    """All verdicts for one token against one rule (every matcher is reported, not just the first)."""

    verdicts: tuple[Verdict, ...]
    workspace_id: str | None

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def failures(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if not v.passed)

    def first_failure(self) -> Verdict | None:
        return next((v for v in self.verdicts if not v.passed), None)

    def claims_read(self) -> list[ClaimRead]:
        """Every claim a matcher reads, in verdict order, with the matcher and its outcome; a claim a
        CEL condition reads (``claims.x``, ``claims["x"]``) counts too. What "claims the rule reads" shows."""
        read: list[ClaimRead] = []
        for verdict in self.verdicts:
            names: tuple[str, ...] = ()
            if verdict.claim is not None:
                names = (verdict.claim,)
            elif verdict.matcher == "condition" and isinstance(verdict.expected, str):
                names = condition_claims(verdict.expected)
            read.extend(ClaimRead(name, verdict.matcher, verdict.passed) for name in names)
        return read

    def matched_claims(self) -> dict[str, bool]:
        """Claim name -> whether every matcher that read it passed (for marking claims tables)."""
        marks: dict[str, bool] = {}
        for verdict in self.verdicts:
            if verdict.claim is not None:
                marks[verdict.claim] = marks.get(verdict.claim, True) and verdict.passed
        return marks


@dataclass(frozen=True)
class ClaimRead:
    """One claim one matcher reads, and whether that matcher passed."""

    claim: str
    matcher: str
    passed: bool


@dataclass(frozen=True)
class WorkspaceContext:
    """What the server knows about the org's workspaces when it binds an exchange to one."""

    default_workspace_id: str
    known_workspace_ids: frozenset[str] | None = None
    member_workspace_ids: frozenset[str] | None = None


# ── entry points ───────────────────────────────────────────────────────────────────────────────────


def evaluate(
    issuer: Any,
    rule: Any,
    claims: Mapping[str, Any],
    *,
    default_audience: str,
    requested_workspace: str | None = None,
    workspaces: WorkspaceContext | None = None,
) -> Evaluation:
    """Judge verified ``claims`` against ``issuer`` and ``rule`` (Admin API dicts or SDK models).

    Without a ``WorkspaceContext`` no workspace verdict is produced; ``workspace_id`` is then
    resolved only where the rule alone decides it.
    """
    issuer_data = _plain(issuer)
    rule_data = _plain(rule)
    match = _plain(rule_data.get("match"))

    verdicts = [
        _archived_verdict("issuer_active", "issuer", issuer_data),
        _archived_verdict("rule_active", "rule", rule_data),
        _issuer_verdict(issuer_data.get("issuer_url"), claims),
        _audience_verdict(match.get("audience"), default_audience, claims),
    ]
    if match.get("subject_prefix") is not None:
        verdicts.append(_subject_verdict(match["subject_prefix"], claims))
    claim_matchers = match.get("claims")
    if isinstance(claim_matchers, Mapping):
        for name in sorted(claim_matchers, key=str):
            verdicts.append(_claim_verdict(str(name), claim_matchers[name], claims))
    elif claim_matchers is not None:
        verdicts.append(
            Verdict("claims", False, "claim_mismatch", "the rule's claims matcher is not a map of strings")
        )
    if match.get("condition") is not None:
        verdicts.append(_condition_verdict(match["condition"], claims))

    workspace_verdict, workspace_id = _workspace(rule_data, requested_workspace, workspaces)
    if workspace_verdict is not None:
        verdicts.append(workspace_verdict)
    return Evaluation(tuple(verdicts), workspace_id)


def runs_condition(rule: Any) -> bool:
    """Whether :func:`evaluate` runs a CEL condition for ``rule`` (in a sandbox process, with a deadline):
    a server then waits for it off its event loop; without one, evaluation is a few dict lookups."""
    return _plain(_plain(rule).get("match")).get("condition") is not None


def validate_match(match: Mapping[str, Any]) -> list[str]:
    """Admin API create/update validation of a rule's ``match`` block; messages are field-prefixed."""
    if hasattr(match, "model_dump"):
        match = _plain(match)
    if not isinstance(match, Mapping):
        return ["match: must be an object"]
    errors: list[str] = []
    subject_prefix, audience = match.get("subject_prefix"), match.get("audience")
    claims, condition = match.get("claims"), match.get("condition")

    if subject_prefix is not None:
        if not isinstance(subject_prefix, str) or not subject_prefix:
            errors.append("match.subject_prefix: must be a non-empty string")
        elif subject_prefix.endswith("*") and not subject_prefix.rstrip("*"):
            errors.append(
                f"match.subject_prefix: {subject_prefix!r} is wildcard-only and would accept every subject; "
                "put a fixed prefix before the '*'"
            )
    if audience is not None and (not isinstance(audience, str) or not audience):
        errors.append("match.audience: must be a non-empty string")
    if claims is not None:
        errors.extend(_claims_errors(claims))
    if condition is not None:
        problem = check_condition(condition) if isinstance(condition, str) else "must be a string"
        if problem:
            errors.append(f"match.condition: {problem}")
    for key in sorted((k for k in match if k not in MATCH_FIELDS), key=str):
        errors.append(f"match.{key}: unknown field (allowed: {', '.join(MATCH_FIELDS)})")

    if all(match.get(field) is None for field in _CONSTRAINING_FIELDS):
        errors.append(
            "match: needs at least one of subject_prefix, claims or condition; audience alone or an empty "
            "match would accept every token the issuer signs"
        )
    return errors


@dataclass(frozen=True)
class SharedPlatform:
    """An issuer that signs tokens for every customer of a platform, so ``iss`` alone names nobody."""

    name: str
    tenant_claims: tuple[str, ...]  # claims that say whose token it is (organization, owner, account)
    tenant_subject: re.Pattern[str]  # a subject_prefix that fixes the tenant before any wildcard
    subject_example: str


# Well-known shared issuers. Their rules must constrain tenant identity, or any customer of the
# platform could present a token that passes (Admin API rule validation, re-checked on every update).
SHARED_PLATFORMS: dict[str, SharedPlatform] = {
    "https://token.actions.githubusercontent.com": SharedPlatform(
        "GitHub Actions",
        ("repository_owner", "repository_owner_id", "repository", "repository_id", "enterprise", "enterprise_id"),
        re.compile(r"repo:[^*/:]+/"), "repo:YOUR_ORG/YOUR_REPO:ref:refs/heads/main",
    ),
    "https://gitlab.com": SharedPlatform(
        "GitLab",
        ("namespace_id", "namespace_path", "project_id", "project_path"),
        re.compile(r"project_path:[^*/:]+/"), "project_path:YOUR_GROUP/YOUR_PROJECT:ref_type:branch:ref:main",
    ),
    "https://agent.buildkite.com": SharedPlatform(
        "Buildkite",
        ("organization_slug", "organization_id"),
        re.compile(r"organization:[^*:]+:"), "organization:YOUR_ORG:pipeline:YOUR_PIPELINE:ref:refs/heads/main",
    ),
    "https://app.terraform.io": SharedPlatform(
        "Terraform Cloud",
        ("terraform_organization_name", "terraform_organization_id"),
        re.compile(r"organization:[^*:]+:"), "organization:YOUR_ORG:project:YOUR_PROJECT:workspace:YOUR_WS",
    ),
    "https://accounts.google.com": SharedPlatform(
        "Google",
        ("sub", "email", "azp", "hd"),
        re.compile(r"[^*]+$"), "the account's numeric subject, exactly",
    ),
}

_CLAIM_REFERENCE = re.compile(r"""\bclaims\s*(?:\.\s*(\w+)|\[\s*["']([^"']+)["']\s*\])""")


def condition_claims(expression: str) -> tuple[str, ...]:
    """The top-level claims a CEL condition reads (``claims.x`` / ``claims["x"]``), in order of first use."""
    names = (a or b for a, b in _CLAIM_REFERENCE.findall(expression))
    return tuple(dict.fromkeys(names))


def shared_platform(issuer_url: str) -> SharedPlatform | None:
    return SHARED_PLATFORMS.get(issuer_url.rstrip("/"))


def tenant_pinning_problem(issuer_url: str, match: Mapping[str, Any]) -> str | None:
    """Why a rule under a well-known shared issuer does not pin the customer's tenant (None if it does).

    Any one of these pins it: a ``claims`` entry on a tenant claim, a ``subject_prefix`` that fixes the
    tenant before any ``*``, or a ``condition`` that reads a tenant claim.
    """
    platform = shared_platform(issuer_url)
    if platform is None:
        return None
    match = _plain(match)
    claims = match.get("claims")
    if isinstance(claims, Mapping) and any(name in platform.tenant_claims for name in claims):
        return None
    prefix = match.get("subject_prefix")
    if isinstance(prefix, str) and platform.tenant_subject.match(prefix):
        return None
    condition = match.get("condition")
    if isinstance(condition, str):
        referenced = {a or b for a, b in _CLAIM_REFERENCE.findall(condition)}
        if referenced & set(platform.tenant_claims):
            return None
    return (
        f"match: {platform.name} ({issuer_url}) is a shared issuer that signs tokens for all its customers, "
        f"so the rule must pin your tenant: a claims entry on one of {', '.join(platform.tenant_claims)}, "
        f"a subject_prefix such as {platform.subject_example!r}, or a condition on such a claim"
    )


def check_condition(expression: str) -> str | None:
    """Compile-time check of a CEL condition as the Admin API does it; the problem, or None if fine."""
    if not isinstance(expression, str):
        return "must be a string"
    if not expression.strip():
        return "must not be empty"
    try:
        return _checked(expression)
    except _Unavailable as exc:
        return f"could not be checked: it {exc.text}"


@functools.lru_cache(maxsize=256)
def _checked(expression: str) -> str | None:
    """check_condition's verdict; cached like compiles, so a re-check never runs the engine again."""
    compiled = _compile(expression)
    if compiled.problem is not None:
        return compiled.problem
    if "claims" not in compiled.variables:
        outcome = _execute(expression, {})
        if outcome[0] == "ok" and outcome[1] is True:
            return "is constant-true: it never reads claims, so it would accept every token the issuer signs"
        costly = " (and too costly: it did not finish in time)" if outcome[0] == "condition_timeout" else ""
        return f"is constant: it never reads claims, so it gives the same answer for every token{costly}"
    return None


def evaluate_condition(expression: str, claims: Mapping[str, Any]) -> tuple[bool, str]:
    """Run a CEL condition against ``claims``: (passed, one-sentence reason). Never raises for bad input."""
    code, reason, _ = _run_condition(expression, claims)
    return code == "ok", reason


# ── matchers ───────────────────────────────────────────────────────────────────────────────────────


def _archived_verdict(matcher: str, noun: str, record: Mapping[str, Any]) -> Verdict:
    archived_at = record.get("archived_at")
    name = record.get("id") or record.get("name")
    name = f"{noun} {name}" if name else f"the {noun}"
    if archived_at is not None:
        return Verdict(
            matcher,
            False,
            f"{noun}_archived",
            f"{name} was archived at {archived_at}, so it rejects every token exchange",
            actual=archived_at,
        )
    return Verdict(matcher, True, "ok", f"{name} is active")


def _issuer_verdict(issuer_url: Any, claims: Mapping[str, Any]) -> Verdict:
    iss = claims.get("iss")
    if iss is None:
        reason = f"the token has no iss claim; it must be exactly {issuer_url!r}"
    elif iss == issuer_url:
        return Verdict(
            "issuer", True, "ok", f"iss {iss!r} equals the issuer's issuer_url", "iss", issuer_url, iss
        )
    elif isinstance(iss, str) and isinstance(issuer_url, str):
        reason = (
            f"iss {iss!r} is not byte-for-byte the issuer's issuer_url {issuer_url!r}: "
            f"{_issuer_difference(iss, issuer_url)}"
        )
    else:
        reason = f"iss {iss!r} is not the issuer's issuer_url {issuer_url!r}"
    return Verdict("issuer", False, "issuer_mismatch", reason, "iss", issuer_url, iss)


def _issuer_difference(iss: str, registered: str) -> str:
    """Name the likely slip between two issuer URLs, in generic terms."""
    if iss.rstrip("/") == registered.rstrip("/"):
        return "they differ only by a trailing slash"
    if iss.lower() == registered.lower():
        return "they differ only in letter case"
    if iss.startswith(registered):
        return f"the token's iss extends the registered URL with {iss[len(registered) :]!r}"
    if registered.startswith(iss):
        rest = registered[len(iss) :]
        return f"the token's iss is a prefix of the registered URL, which continues with {rest!r}"
    try:
        a, b = urlsplit(iss), urlsplit(registered)
    except ValueError:
        return "they are different strings"
    parts = [
        label
        for label, left, right in (
            ("scheme", a.scheme, b.scheme),
            ("host/port", a.netloc, b.netloc),
            ("path", a.path, b.path),
            ("query", a.query, b.query),
        )
        if left != right
    ]
    return f"they differ in {' and '.join(parts)}" if parts else "they are different strings"


def _audience_verdict(rule_audience: Any, default_audience: str, claims: Mapping[str, Any]) -> Verdict:
    if rule_audience is not None:
        expected, source, note = rule_audience, "the rule's audience", ""
    else:
        expected, source, note = default_audience, "Anthropic's expected audience", " (the rule sets none)"
    aud = claims.get("aud")
    values = aud if isinstance(aud, list | tuple) else [aud]
    if aud is not None and any(isinstance(value, str) and value == expected for value in values):
        return Verdict(
            "audience", True, "ok", f"aud {aud!r} contains {source} {expected!r}", "aud", expected, aud
        )
    if aud is None:
        reason = f"the token has no aud claim; it must contain {source} {expected!r}{note}"
    else:
        reason = f"aud {aud!r} does not contain {source} {expected!r}{note}"
    return Verdict("audience", False, "audience_mismatch", reason, "aud", expected, aud)


def _subject_verdict(prefix: Any, claims: Mapping[str, Any]) -> Verdict:
    sub = claims.get("sub")

    def fail(reason: str) -> Verdict:
        return Verdict("subject_prefix", False, "subject_mismatch", reason, "sub", prefix, sub)

    if not isinstance(prefix, str):
        return fail(f"the rule's subject_prefix {prefix!r} is not a string")
    if sub is None:
        return fail(f"the token has no sub claim to compare with subject_prefix {prefix!r}")
    if not isinstance(sub, str):
        return fail(f"sub {sub!r} is not a string")
    if prefix.endswith("*"):
        stem = prefix[:-1]
        if sub.startswith(stem):
            return Verdict(
                "subject_prefix", True, "ok", f"sub {sub!r} starts with {stem!r}", "sub", prefix, sub
            )
        hint = " (matching is case-sensitive)" if sub.lower().startswith(stem.lower()) else ""
        return fail(f"sub {sub!r} does not start with {stem!r}{hint}")
    if sub == prefix:
        return Verdict(
            "subject_prefix", True, "ok", f"sub {sub!r} equals subject_prefix exactly", "sub", prefix, sub
        )
    if sub.lower() == prefix.lower():
        return fail(
            f"sub {sub!r} differs from subject_prefix {prefix!r} only in letter case; "
            "matching is case-sensitive"
        )
    if sub.startswith(prefix):
        return fail(f"sub {sub!r} is not exactly {prefix!r}; end subject_prefix with '*' for a prefix match")
    return fail(f"sub {sub!r} is not exactly {prefix!r}")


def _claim_verdict(name: str, expected: Any, claims: Mapping[str, Any]) -> Verdict:
    matcher = f"claims.{name}"
    if name not in claims:
        return Verdict(
            matcher,
            False,
            "claim_missing",
            f"the token has no {name!r} claim; the rule requires it to be {expected!r}",
            name,
            expected,
        )
    actual = claims[name]
    if not isinstance(actual, str):
        return Verdict(
            matcher,
            False,
            "claim_not_string",
            f"claim {name!r} holds the {type(actual).__name__} {actual!r}, but the claims matcher "
            "compares only string claims, so match it with a CEL condition instead",
            name,
            expected,
            actual,
        )
    if actual == expected:
        return Verdict(matcher, True, "ok", f"claim {name!r} equals {expected!r}", name, expected, actual)
    return Verdict(
        matcher,
        False,
        "claim_mismatch",
        f"claim {name!r} is {actual!r}, not {expected!r}",
        name,
        expected,
        actual,
    )


def _condition_verdict(expression: Any, claims: Mapping[str, Any]) -> Verdict:
    code, reason, actual = _run_condition(expression, claims)
    return Verdict("condition", code == "ok", code, reason, None, expression, actual)


def _claims_errors(claims: Any) -> list[str]:
    if not isinstance(claims, Mapping):
        return ["match.claims: must be a map of claim name to string value"]
    if not claims:
        return ["match.claims: must name at least one claim; an empty map constrains nothing"]
    errors = []
    for name, value in claims.items():
        if not isinstance(name, str) or not name:
            errors.append(f"match.claims: claim names must be non-empty strings, got {name!r}")
        elif not isinstance(value, str):
            errors.append(
                f"match.claims.{name}: must be a string, got {type(value).__name__}; "
                "non-string claims need a condition"
            )
    return errors


# ── CEL ────────────────────────────────────────────────────────────────────────────────────────────

# String literals (raw or escaped, single or triple quoted, optional b prefix) and // comments: blanked
# out before looking for comprehension variables, so text inside them is never mistaken for code.
_LITERAL_OR_COMMENT = re.compile(
    r"""(?<!\w)(?:[bB]?[rR]|[rR][bB])(?:'''.*?'''|\"\"\".*?\"\"\"|'[^'\n]*'|"[^"\n]*")"""
    r"""|[bB]?(?:'''(?:\\.|.)*?'''|\"\"\"(?:\\.|.)*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")"""
    r"""|//[^\n]*""",
    re.DOTALL,
)
# The comprehension macros bind their first argument as a loop variable: list.exists(x, x == "a").
_COMPREHENSION_VARIABLE = re.compile(r"\.\s*(?:all|exists_one|exists|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")


def _comprehension_variables(expression: str) -> set[str]:
    code = _LITERAL_OR_COMMENT.sub(" ", expression)
    return set(_COMPREHENSION_VARIABLE.findall(code))


@dataclass(frozen=True)
class _Compiled:
    """What a compile tells: the variables read, or why the condition is refused (and its code)."""

    variables: frozenset[str] = frozenset()
    problem: str | None = None
    code: str = "condition_error"


class _Unavailable(Exception):
    """The engine could not answer (deadline, dead worker); never cached, the next call retries."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def _comprehension_nesting(expression: str) -> int:
    """How many comprehension macros (all, exists, map, …) are open at once at the deepest point."""
    code = _LITERAL_OR_COMMENT.sub(" ", expression)
    stack: list[bool] = []
    deepest = 0
    for match in _PAREN.finditer(code):
        if match.group(0) == ")":
            if stack:
                stack.pop()
            continue
        stack.append(match.group(1) is not None)
        deepest = max(deepest, sum(stack))
    return deepest


_PAREN = re.compile(r"\.\s*(all|exists_one|exists|map|filter)\s*\(|\(|\)")


@functools.lru_cache(maxsize=256)
def _compile(expression: str) -> _Compiled:
    """Static bounds, then the engine's compile; final answers are cached (the mock re-checks rules)."""
    if len(expression) > MAX_CONDITION_LENGTH:
        return _Compiled(problem=f"is {len(expression)} characters long; a condition may have at most "
                                 f"{MAX_CONDITION_LENGTH}", code="condition_too_costly")
    nesting = _comprehension_nesting(expression)
    if nesting > MAX_COMPREHENSION_NESTING:
        return _Compiled(problem=f"nests {nesting} comprehensions (all, exists, map, filter…) inside each "
                                 f"other; at most {MAX_COMPREHENSION_NESTING} are allowed, as each level "
                                 "multiplies the work", code="condition_too_costly")
    try:
        answer = sandbox.call(("compile", expression), CONDITION_DEADLINE)
    except SandboxTimeout:
        raise _Unavailable("condition_timeout", f"did not compile within {CONDITION_DEADLINE:g} s") from None
    except SandboxCrashed:
        raise _Unavailable("condition_error", "made the CEL engine fail") from None
    if answer[0] != "ok":
        return _Compiled(problem=f"does not parse: {_parse_error_text(answer[2] or answer[1])}")
    variables = frozenset(answer[1])
    bound = _comprehension_variables(expression)
    if "claims" in bound:
        return _Compiled(problem="uses 'claims' as a comprehension variable, which hides the claims map; "
                                 "pick another name")
    stray = sorted(name for name in variables if name != "claims" and name not in bound)
    if stray:
        return _Compiled(problem=f"may reference only the variable 'claims', but reads {', '.join(map(repr, stray))}")
    return _Compiled(variables)


def _execute(expression: str, context: dict[str, Any]) -> tuple[Any, ...]:
    """Run a compiled condition in the sandbox: ``("ok", value, type, repr)``, an engine error
    ``("error", class, text, key)``, or ``(code, text)`` when it was stopped or failed."""
    try:
        return sandbox.call(("run", expression, context), CONDITION_DEADLINE)
    except SandboxTimeout:
        return ("condition_timeout", f"did not finish within {CONDITION_DEADLINE:g} s and was stopped")
    except SandboxCrashed:
        return ("condition_error", "made the CEL engine fail")
    except (pickle.PicklingError, RecursionError, TypeError, AttributeError, ValueError):
        return ("condition_error", "could not be given these claims (they are not plain JSON values)")


def _run_condition(expression: Any, claims: Mapping[str, Any]) -> tuple[str, str, Any]:
    """(code, reason, result) for one condition; every engine error becomes a condition_error."""
    if not isinstance(expression, str):
        return (
            "condition_error",
            f"the rule's condition is a {type(expression).__name__}, not a CEL string",
            None,
        )
    shown = expression  # in full: tables wrap long values instead of cutting them
    try:
        compiled = _compile(expression)
    except _Unavailable as exc:
        return exc.code, f"condition {shown} {exc.text}", None
    if compiled.problem is not None:
        return compiled.code, f"condition {shown} {compiled.problem}", None
    try:
        context = {"claims": _cel_value(claims)}
    except RecursionError:
        return "condition_error", f"condition {shown} was not run: the claims nest too deeply", None
    outcome = _execute(expression, context)
    kind = outcome[0]
    if kind == "error":
        _, error_class, text, key = outcome
        if error_class == "KeyError":
            return (
                "condition_error",
                f"condition {shown} failed: it reads {key if key is not None else '?'!r}, which is not in the "
                "claims (test optional claims with has(...) first)",
                None,
            )
        return "condition_error", f"condition {shown} failed: {_first_sentence(text or error_class)}", None
    if kind == "panic":
        return "condition_error", f"condition {shown} made the CEL engine fail: {_first_sentence(outcome[2])}", None
    if kind != "ok":
        return kind, f"condition {shown} {outcome[1]}", None
    _, result, type_name, shown_result = outcome
    if type_name != "bool":
        return (
            "condition_not_bool",
            f"condition {shown} returned {_shorten(shown_result)} ({type_name}), "
            "but a condition must evaluate to true or false",
            result,
        )
    if result:
        return "ok", f"condition {shown} evaluated to true", True
    return "condition_false", f"condition {shown} evaluated to false", False


def _cel_value(value: Any) -> Any:
    """Claims as CEL sees them: nested objects become maps, arrays become lists."""
    if isinstance(value, Mapping):
        return {key: _cel_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_cel_value(item) for item in value]
    return value


def _parse_error_text(text: str) -> str:
    marker = text.rfind("ERROR: <input>:")
    if marker >= 0:
        text = "at " + text[marker + len("ERROR: <input>:") :]
    return _shorten(text.splitlines()[0] if text else "syntax error", 200)


def _first_sentence(text: str) -> str:
    text = (text.splitlines() or ["error"])[0]
    head, dot, _ = text.partition(". ")
    return _shorten(head + ("." if dot else ""), 200)


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ── workspace binding ──────────────────────────────────────────────────────────────────────────────


def _workspace(
    rule: Mapping[str, Any], requested: str | None, ctx: WorkspaceContext | None
) -> tuple[Verdict | None, str | None]:
    """The workspace verdict (None without a context) and the workspace the exchange binds to."""
    all_workspaces = rule.get("applies_to_all_workspaces") is True
    listed = [w for w in rule.get("workspace_ids") or () if isinstance(w, str)]
    legacy = rule.get("workspace_id")
    enabled = listed + ([legacy] if isinstance(legacy, str) and legacy and legacy not in listed else [])
    expected: Any = "all workspaces" if all_workspaces else enabled
    default = ctx.default_workspace_id if ctx else None

    target, how, failure = _resolve_workspace(all_workspaces, enabled, requested, default)
    if ctx is None:
        return None, target if failure is None else None
    membership = ""
    if failure is None and target is not None:
        legacy_only = not all_workspaces and not listed
        failure, membership = _check_membership(target, ctx, legacy_only)
    if failure is not None:
        code, reason = failure
        return Verdict("workspace", False, code, reason, None, expected, target), None
    reason = f"the exchange binds to workspace {target!r} ({how}); {membership}"
    return Verdict("workspace", True, "ok", reason, None, expected, target), target


def _resolve_workspace(
    all_workspaces: bool, enabled: list[str], requested: str | None, default: str | None
) -> tuple[str | None, str, tuple[str, str] | None]:
    """(workspace, how it was chosen, failure) following the server's selection order."""
    if requested is not None:
        alias = requested == DEFAULT_WORKSPACE_ALIAS
        target = default if alias else requested
        if target is not None and not all_workspaces and target not in enabled:
            reason = f"workspace {target!r} is not enabled for the rule (enabled: {_listing(enabled)})"
            return target, "", ("workspace_not_enabled", reason)
        return target, ("requested as 'default'" if alias else "requested"), None
    if all_workspaces:
        return default, "the org's default workspace; the rule applies to all workspaces", None
    if len(enabled) == 1:
        return enabled[0], "the rule's only enabled workspace", None
    if not enabled:
        return None, "", ("workspace_not_enabled", "the rule is not enabled for any workspace")
    if default is not None and default in enabled:
        return default, "the org's default workspace, which the rule covers", None
    reason = f"the rule is enabled for {len(enabled)} workspaces; name one with workspace_id"
    return None, "", ("workspace_id_required", reason)


def _check_membership(
    target: str, ctx: WorkspaceContext, legacy_only: bool
) -> tuple[tuple[str, str] | None, str]:
    """(failure, note): the workspace must exist and the service account must belong to it."""
    known = ctx.known_workspace_ids
    if known is not None and target != ctx.default_workspace_id and target not in known:
        return ("workspace_unknown", f"workspace {target!r} does not exist in the org"), ""
    if target == ctx.default_workspace_id:
        return None, "every service account is a member of the default workspace"
    if legacy_only:
        return None, "rules with only the legacy workspace_id binding do not check membership"
    if ctx.member_workspace_ids is None:
        return None, "membership was not checked"
    if target in ctx.member_workspace_ids:
        return None, "the service account is a member"
    reason = (
        f"the service account is not a member of workspace {target!r}; "
        "add it to the workspace or request one it belongs to"
    )
    return ("not_workspace_member", reason), ""


def _listing(items: list[str]) -> str:
    return ", ".join(repr(item) for item in items) if items else "none"


# ── input normalisation ────────────────────────────────────────────────────────────────────────────


def _plain(record: Any) -> dict[str, Any]:
    """Admin API JSON dict, or an ``anthropic`` SDK model (anything with ``model_dump()``), as a dict."""
    if record is None:
        return {}
    dump = getattr(record, "model_dump", None)
    if callable(dump):
        record = dump()
    if isinstance(record, Mapping):
        return dict(record)
    raise TypeError(f"expected an Admin API dict or SDK model, got {type(record).__name__}")
