"""The ``[anthropic]`` part of a setup file, checked before anything is sent."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import document

DEFAULT_BASE_URL = "https://api.anthropic.com"
OAUTH_SCOPES = ("workspace:developer", "workspace:inference")
JWKS_TYPES = ("discovery", "explicit_url", "inline")
MATCH_KEYS = ("subject_prefix", "claims", "condition", "audience")
WORKSPACE_ROLES = ("workspace_user", "workspace_developer", "workspace_restricted_developer", "workspace_admin")
# The SDK's rules for a profile name (anthropic.lib.credentials): not empty, no surrounding spaces,
# no leading dot, no path separators or NUL.
_PROFILE = re.compile(r"^(?!\.)[^/\\\x00\s](?:[^/\\\x00]*[^/\\\x00\s])?$")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class IssuerSpec:
    name: str
    issuer_url: str
    managed: dict[str, Any]  # jwks, max_jwt_lifetime_seconds, check_jti: only the keys the file sets


@dataclass(frozen=True)
class ServiceAccountSpec:
    name: str
    managed: dict[str, Any]  # description
    workspace_role: str  # for the rule's workspace, when that is not the default one


@dataclass(frozen=True)
class RuleSpec:
    name: str
    match: dict[str, Any]
    oauth_scope: str
    managed: dict[str, Any]  # token_lifetime_seconds, description, applies_to_all_workspaces
    workspace_id: str | None  # "default", a wrkspc_ id, or None (not managed)


@dataclass(frozen=True)
class OutputSpec:
    env_file: Path | None
    profile: str | None
    profile_dir: Path | None  # None: ANTHROPIC_CONFIG_DIR, else ~/.config/anthropic (as the SDK looks)
    identity_token_file: str | None


@dataclass(frozen=True)
class AnthropicConfig:
    source: Path
    base_url: str
    organization_id: str | None
    ca_bundle: Path | None
    issuer: IssuerSpec
    service_account: ServiceAccountSpec
    rule: RuleSpec
    output: OutputSpec


def _slug(value: Any) -> bool:
    return isinstance(value, str) and bool(_SLUG.match(value))


def _match_problem(match: dict[str, Any]) -> str | None:
    unknown = sorted(set(match) - set(MATCH_KEYS))
    if unknown:
        return f"a table of {', '.join(MATCH_KEYS)} (unknown: {', '.join(unknown)})"
    if not any(k in match for k in ("subject_prefix", "claims", "condition")):
        return "a table with at least one of subject_prefix, claims or condition (audience alone matches too much)"
    for key in ("subject_prefix", "condition", "audience"):
        if key in match and not (isinstance(match[key], str) and match[key]):
            return f"a table whose {key} is a non-empty string"
    claims = match.get("claims")
    if claims is not None and not (isinstance(claims, dict) and claims
                                   and all(isinstance(v, str) for v in claims.values())):
        return "a table whose claims is a table of claim = \"exact string value\""
    return None


def _jwks_problem(jwks: dict[str, Any]) -> str | None:
    if jwks.get("type") not in JWKS_TYPES:
        return f"a table whose type is one of {', '.join(JWKS_TYPES)}"
    return None


def load_anthropic(path: str | Path) -> AnthropicConfig:
    top = document(path, "anthropic")
    base_url = top.text("base_url", DEFAULT_BASE_URL).rstrip("/")
    if not base_url.startswith("https://") and not re.match(r"^http://(localhost|127\.0\.0\.1|\[::1\])", base_url):
        raise top.fail("base_url", "an https:// URL (the SDK refuses cleartext except on loopback)", base_url)
    org = top.text("organization_id", None)
    ca = top.path("ca_bundle", None)

    sec = top.table("issuer")
    assert sec is not None
    issuer = IssuerSpec(
        name=sec.value("name", _slug, "a slug: lowercase letters, digits and single hyphens"),
        issuer_url=sec.text("issuer_url"),
        managed={k: v for k, v in {
            "jwks": sec.raw_table("jwks", _jwks_problem, None),
            "max_jwt_lifetime_seconds": sec.integer("max_jwt_lifetime_seconds", None, low=1, high=176400),
            "check_jti": sec.flag("check_jti", None),
        }.items() if v is not None},
    )
    sec.done()

    sec = top.table("service_account")
    assert sec is not None
    account = ServiceAccountSpec(
        name=sec.value("name", _slug, "a slug: lowercase letters, digits and single hyphens"),
        managed={k: v for k, v in {"description": sec.text("description", None)}.items() if v is not None},
        workspace_role=sec.text("workspace_role", "workspace_developer", choices=WORKSPACE_ROLES),
    )
    sec.done()

    sec = top.table("rule")
    assert sec is not None
    workspace = sec.value("workspace_id", lambda v: v == "default" or (isinstance(v, str) and v.startswith("wrkspc_")),
                          "'default' or a workspace id (wrkspc_…)", None)
    rule = RuleSpec(
        name=sec.value("name", _slug, "a slug: lowercase letters, digits and single hyphens"),
        match=sec.raw_table("match", _match_problem),
        oauth_scope=sec.text("oauth_scope", "workspace:developer", choices=OAUTH_SCOPES),
        managed={k: v for k, v in {
            "token_lifetime_seconds": sec.integer("token_lifetime_seconds", None, low=60, high=86400),
            "description": sec.text("description", None),
            "applies_to_all_workspaces": sec.flag("applies_to_all_workspaces", None),
        }.items() if v is not None},
        workspace_id=workspace,
    )
    if workspace is None and not rule.managed.get("applies_to_all_workspaces"):
        raise sec.fail("workspace_id", "set (or applies_to_all_workspaces = true): a new rule needs one")
    sec.done()

    out = top.table("output", required=False)
    if out is None:
        output = OutputSpec(None, None, None, None)
    else:
        profile = out.value("profile", lambda v: isinstance(v, str) and bool(_PROFILE.match(v)),
                            "a profile name (no leading dot, no slashes, no surrounding spaces)", None)
        output = OutputSpec(out.path("env_file", None), profile, out.path("profile_dir", None),
                            out.text("identity_token_file", None))
        out.done()
    top.done()
    return AnthropicConfig(top.source, base_url, org, ca, issuer, account, rule, output)
