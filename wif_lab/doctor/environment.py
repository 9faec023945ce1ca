"""Checks of the settings and the environment: the IDs the exchange sends, which credential the SDK picks,
variables set to empty strings, and the profile the SDK would read."""

from __future__ import annotations

import os
import re
from typing import Any

from anthropic import AnthropicError
from anthropic.lib.credentials import CredentialsFile
from anthropic.lib.credentials import _constants as sdk

from ..parameters import ANTHROPIC
from . import sdk_env
from .context import Context
from .report import FAIL, OK, WARN, Check

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
PREFIXES = {"federation_rule_id": "fdrl_", "service_account_id": "svac_"}
# Provider variables a workload's identity comes from; an empty one breaks the provider as silently.
PROVIDER_VARIABLES = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST",
                      "OKTA_CLIENT_SECRET")


def check_settings(ctx: Context) -> Check:
    """The exchange's IDs are present and well formed (a malformed one is a 400 before any rule is read)."""
    rb = ctx.rb
    values = {"organization_id": rb.organization_id, "federation_rule_id": rb.federation_rule_id,
              "service_account_id": rb.service_account_id}
    problems: list[str] = []
    wheres: list[str] = []
    for name, value in values.items():
        where = f"{name}: {ANTHROPIC[name].where}"
        if not value:
            problems.append(f"{name} is not set")
            wheres.append(where)
        elif name == "organization_id" and not UUID.match(value):
            problems.append(f"organization_id {value!r} is not a UUID")
            wheres.append(where)
        elif name in PREFIXES and not value.startswith(PREFIXES[name]):
            problems.append(f"{name} {value!r} does not start with {PREFIXES[name]} (a name instead of the ID?)")
            wheres.append(where)
    workspace = rb.workspace_id
    if workspace and workspace != "default" and not workspace.startswith("wrkspc_"):
        problems.append(f"workspace_id {workspace!r} is neither wrkspc_… nor 'default'")
        wheres.append(f"workspace_id: {ANTHROPIC['workspace_id'].where}")
    try:
        sdk._require_https(rb.base_url, field="the Claude API base URL")  # private SDK helper: the SDK's own rule
    except AnthropicError as exc:
        problems.append(str(exc))
        wheres.append("anthropic_base_url: https://api.anthropic.com (or an https proxy of it)")
    data = {**values, "workspace_id": workspace, "base_url": rb.base_url}
    title = "IDs the exchange sends"
    if problems:
        return Check("settings", title, FAIL, "; ".join(problems), "; ".join(wheres), data)
    chosen = (f"workspace_id {workspace!r}" if workspace
              else "no workspace_id (the server binds the rule's only workspace, or the default one it covers)")
    return Check("settings", title, OK, "organization_id, federation_rule_id and service_account_id are set and "
                 f"well formed; {chosen}", data=data)


def check_credentials(ctx: Context) -> Check:
    """Which credential a plain ``anthropic.Anthropic()`` picks here, as the SDK itself resolves it."""
    r = ctx.resolution
    title = "Credential anthropic.Anthropic() picks"
    data: dict[str, Any] = {"sdk_choice": r.kind}
    base_url = os.environ.get(sdk_env.ENV_BASE_URL)
    if base_url:
        try:
            sdk._require_https(base_url, field=sdk_env.ENV_BASE_URL)  # private SDK helper: see SDK_HELPERS
        except AnthropicError as exc:
            return Check("env.credentials", title, FAIL, f"the SDK refuses to start: {exc}",
                         f"set {sdk_env.ENV_BASE_URL} to an https:// URL (http only for localhost)", data)
    if r.kind in ("api_key", "auth_token"):
        variable = sdk_env.ENV_API_KEY if r.kind == "api_key" else sdk_env.ENV_AUTH_TOKEN
        shadowed = _federation_signals()
        found = (f"{variable} is set: anthropic.Anthropic() sends it as the credential and never federates"
                 + (f" (it shadows {', '.join(shadowed)})" if shadowed else ""))
        return Check("env.credentials", title, FAIL, found,
                     f"unset {variable} in the workload's environment (Deployment env, CI secrets, shell profile): "
                     "a federating workload needs no key", data)
    if r.kind == "error":
        fix = (f"fix the profile it names, or unset {sdk_env.ENV_PROFILE}" if r.explicit_profile
               else "fix the profile, or remove the active_config pointer / ANTHROPIC_CONFIG_DIR that selects it")
        return Check("env.credentials", title, FAIL, f"the SDK refuses its configuration: {r.error}", fix, data)
    missing = _incomplete_federation()
    if r.kind in ("none", "profile") and not r.explicit_profile and missing:
        fell_to = "nothing" if r.kind == "none" else f"the on-disk {r.detail}"
        return Check("env.credentials", title, FAIL,
                     f"federation variables are incomplete, so the SDK skips them silently and falls through to "
                     f"{fell_to}: {', '.join(missing)} missing or empty",
                     f"set {', '.join(missing)} (an identity token file or the token itself)", data)
    if r.kind == "none":
        return Check("env.credentials", title, OK, "nothing in this environment: a plain anthropic.Anthropic() finds "
                     "no credential, so the program passes credentials= itself (a token function, as the "
                     "examples/ programs do)", data=data)
    data["sdk_settings"] = r.settings
    mismatches = _mismatches(ctx, r.settings)
    if mismatches:
        return Check("env.credentials", title, WARN,
                     f"the SDK federates from {r.detail}, but with other settings than these checks: "
                     + "; ".join(mismatches),
                     "make the environment (or profile) and the values given to the doctor agree", data)
    return Check("env.credentials", title, OK, f"the SDK federates from {r.detail}, with the same IDs as these "
                 "checks", data=data)


def _federation_signals() -> list[str]:
    signals = [v for v in (sdk_env.ENV_PROFILE, sdk_env.ENV_RULE) if os.environ.get(v)]
    view = sdk_env.profile_view()
    if view.exists:
        signals.append(f"the profile {view.name!r} on disk")
    return signals


def _incomplete_federation() -> list[str]:
    """The variables environment federation still lacks, when some of them are set (else [])."""
    token = os.environ.get(sdk_env.ENV_TOKEN_FILE) or os.environ.get(sdk_env.ENV_TOKEN)
    present = {sdk_env.ENV_RULE: os.environ.get(sdk_env.ENV_RULE), sdk_env.ENV_ORG: os.environ.get(sdk_env.ENV_ORG),
               f"{sdk_env.ENV_TOKEN_FILE} (or {sdk_env.ENV_TOKEN})": token}
    if not any(present.values()):
        return []
    return [name for name, value in present.items() if not value]


def _mismatches(ctx: Context, settings: dict[str, Any]) -> list[str]:
    ours = {"organization_id": ctx.rb.organization_id, "federation_rule_id": ctx.rb.federation_rule_id,
            "service_account_id": ctx.rb.service_account_id, "workspace_id": ctx.rb.workspace_id,
            "base_url": ctx.rb.base_url}
    found = []
    for key, value in ours.items():
        theirs = settings.get(key)
        if key == "base_url":
            same = str(theirs or "").rstrip("/") == str(value or "").rstrip("/")
        else:
            same = (theirs or None) == (value or None)
        if not same:
            found.append(f"{key} {theirs or '(none)'} for the SDK, {value or '(none)'} here")
    return found


def check_empty(ctx: Context) -> Check:
    """Variables set to empty strings (the SDK treats them as unset) or padded with whitespace (sent as is)."""
    title = "Variables set but empty or padded"
    names = (*sdk_env.SDK_VARIABLES, *PROVIDER_VARIABLES)
    empty = [n for n in names if n in os.environ and not os.environ[n].strip()]
    padded = [n for n in names if os.environ.get(n, "").strip() and os.environ[n] != os.environ[n].strip()]
    data = {"empty": empty, "padded": padded}
    if padded:
        return Check("env.empty", title, FAIL,
                     f"{', '.join(padded)} {'has' if len(padded) == 1 else 'have'} leading or trailing whitespace, "
                     "which the SDK sends as is, so the value no longer matches"
                     + (f"; set but empty: {', '.join(empty)}" if empty else ""),
                     "remove the whitespace (a trailing newline from $(cat …) or a YAML block scalar)", data)
    if empty:
        return Check("env.empty", title, WARN,
                     f"set but empty: {', '.join(empty)}; the SDK treats an empty value as unset (a CI variable "
                     "defined without a value does this)",
                     "unset them, or give them their values", data)
    return Check("env.empty", title, OK, "no variable the SDK or the identity providers read is empty or padded",
                 data=data)


def check_profile(ctx: Context) -> Check:
    """``ANTHROPIC_PROFILE`` and the active profile, as the SDK resolves the name and the file."""
    title = "ANTHROPIC_PROFILE and the active profile"
    view = sdk_env.profile_view()
    r = ctx.resolution
    where = sdk_env.shown_path(view.config_dir)
    data = {"profile": view.name, "selected_by": view.source, "config_dir": where, "config_exists": view.exists}
    if view.name_error:
        return Check("env.profile", title, FAIL, f"the profile name is refused: {view.name_error}",
                     f"fix {view.source} ({sdk_env.ENV_PROFILE} or {where}/active_config)", data)
    path = sdk_env.shown_path(view.config_path) if view.config_path else "?"
    if r.kind in ("api_key", "auth_token") and (view.source != "default" or view.exists):
        return Check("env.profile", title, WARN, f"profile {view.name!r} ({path}) is shadowed by {r.detail}",
                     "unset the static credential (see the check above)", data)
    if r.kind == "error" and (r.explicit_profile or view.source == "active_config" or view.exists):
        return Check("env.profile", title, FAIL, f"profile {view.name!r} (selected by {view.source}) does not load: "
                     f"{r.error}", "fix that file, or select another profile", data)
    if view.source == sdk_env.ENV_PROFILE:
        return Check("env.profile", title, OK, f"{sdk_env.ENV_PROFILE}={view.name}: {path} loads, and it comes "
                     "before environment federation", data=data)
    if not view.exists:
        return Check("env.profile", title, OK, f"no profile: {sdk_env.ENV_PROFILE} is unset and {where} has no "
                     f"configs/{view.name}.json", data=data)
    if r.kind == "profile":
        return Check("env.profile", title, OK, f"the active profile {view.name!r} ({view.source}) at {path} is what "
                     "the SDK uses", data=data)
    if r.kind == "environment":
        return Check("env.profile", title, OK, f"the active profile {view.name!r} at {path} exists, but environment "
                     "federation comes first (it sits above the profile on disk)", data=data)
    problem = _load_problem(view.name)
    return Check("env.profile", title, WARN, f"the active profile {view.name!r} at {path} exists, but the SDK "
                 f"ignores it because it does not load: {problem}", "fix the file, or remove it", data)


def _load_problem(profile: str | None) -> str:
    try:
        provider = CredentialsFile(profile=profile)
        provider.extra_headers()
        provider.close()
    except AnthropicError as exc:
        return str(exc)
    return "no error when loaded alone"
