"""What the official SDK will do with this environment, asked of the SDK itself.

``anthropic.Anthropic()`` without arguments picks its credential in a fixed order (anthropic-sdk.md
§2.3): ``ANTHROPIC_API_KEY``, then ``ANTHROPIC_AUTH_TOKEN``, then the profile ``ANTHROPIC_PROFILE`` names,
then federation from ``ANTHROPIC_FEDERATION_RULE_ID`` + ``ANTHROPIC_ORGANIZATION_ID`` + an identity
token, then the active profile on disk. Rather than re-implement that order, :func:`resolve` runs the
SDK's public ``default_credentials`` and reads what it chose. The profile *name* and *config directory*
come from the SDK's ``_constants`` helpers, which are private: :data:`SDK_HELPERS` names each one, and
``tests/test_doctor.py`` fails loudly if an SDK upgrade moves them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anthropic import AnthropicError
from anthropic.lib.credentials import CredentialsFile, StaticToken, WorkloadIdentityCredentials, default_credentials
from anthropic.lib.credentials import _constants as sdk

DEFAULT_BASE_URL = "https://api.anthropic.com"
ENV_API_KEY, ENV_AUTH_TOKEN = "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"
ENV_PROFILE, ENV_CONFIG_DIR = "ANTHROPIC_PROFILE", "ANTHROPIC_CONFIG_DIR"
ENV_RULE, ENV_ORG = "ANTHROPIC_FEDERATION_RULE_ID", "ANTHROPIC_ORGANIZATION_ID"
ENV_TOKEN, ENV_TOKEN_FILE = "ANTHROPIC_IDENTITY_TOKEN", "ANTHROPIC_IDENTITY_TOKEN_FILE"
ENV_SERVICE_ACCOUNT, ENV_WORKSPACE = "ANTHROPIC_SERVICE_ACCOUNT_ID", "ANTHROPIC_WORKSPACE_ID"
ENV_BASE_URL, ENV_SCOPE = "ANTHROPIC_BASE_URL", "ANTHROPIC_SCOPE"
# Every variable the SDK's credential chain reads (for the empty-string check).
SDK_VARIABLES = (ENV_API_KEY, ENV_AUTH_TOKEN, ENV_PROFILE, ENV_CONFIG_DIR, ENV_RULE, ENV_ORG, ENV_TOKEN, ENV_TOKEN_FILE,
                 ENV_SERVICE_ACCOUNT, ENV_WORKSPACE, ENV_BASE_URL, ENV_SCOPE)
# The private SDK helpers used here (checked by the tests).
SDK_HELPERS = ("_active_profile", "_config_dir", "_config_file_path", "_require_https", "resolve_identity_token_path")


@dataclass
class Resolution:
    """The SDK's choice for ``anthropic.Anthropic()`` with no arguments, in this environment."""

    kind: str  # "api_key" | "auth_token" | "profile" | "environment" | "none" | "error"
    detail: str = ""
    error: str = ""
    explicit_profile: bool = False  # chosen through ANTHROPIC_PROFILE (step 3), not found on disk (step 5)
    profile: str | None = None
    config_path: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # base_url, organization_id, federation_rule_id, …
    token_path: str | None = None
    token_literal: bool = False


def _env(name: str) -> str | None:
    """The SDK reads every variable with ``os.environ.get(...)`` and treats an empty value as unset."""
    return os.environ.get(name) or None


def resolve() -> Resolution:
    """Ask the SDK which credential a plain ``anthropic.Anthropic()`` would use here."""
    if _env(ENV_API_KEY):
        return Resolution("api_key", f"{ENV_API_KEY} (a static API key)")
    if _env(ENV_AUTH_TOKEN):
        return Resolution("auth_token", f"{ENV_AUTH_TOKEN} (a static bearer token)")
    base_url = _env(ENV_BASE_URL) or DEFAULT_BASE_URL
    try:
        result = default_credentials(base_url=base_url)
    except AnthropicError as exc:
        return Resolution("error", "the SDK could not load its configuration", error=str(exc),
                          explicit_profile=bool(_env(ENV_PROFILE)), profile=_profile_name())
    provider = result.provider if result is not None else None
    try:
        if isinstance(provider, CredentialsFile):
            return _from_profile(provider)
        if isinstance(provider, WorkloadIdentityCredentials):
            settings = {"base_url": base_url, "organization_id": _env(ENV_ORG), "federation_rule_id": _env(ENV_RULE),
                        "service_account_id": _env(ENV_SERVICE_ACCOUNT), "workspace_id": _env(ENV_WORKSPACE)}
            path = sdk.resolve_identity_token_path()
            return Resolution("environment", "federation from the ANTHROPIC_* variables", settings=settings,
                              token_path=str(path) if path else None, token_literal=path is None)
        if isinstance(provider, StaticToken):  # not reached (handled above), kept for a future SDK order
            return Resolution("auth_token", f"{ENV_AUTH_TOKEN} (a static bearer token)")
        return Resolution("none", "nothing: no key, token, federation variables or profile")
    finally:
        close = getattr(provider, "close", None)
        if callable(close):
            close()


def _from_profile(provider: CredentialsFile) -> Resolution:
    explicit = bool(_env(ENV_PROFILE))
    config: dict[str, Any] = provider._load_config()  # private SDK helper: cached by the SDK, env fill-ins applied
    auth = config.get("authentication") or {}
    token = auth.get("identity_token") or {}
    settings = {"base_url": config.get("base_url") or _env(ENV_BASE_URL) or DEFAULT_BASE_URL,
                "organization_id": config.get("organization_id"), "federation_rule_id": auth.get("federation_rule_id"),
                "service_account_id": auth.get("service_account_id"), "workspace_id": config.get("workspace_id")}
    how = f"{ENV_PROFILE}={provider.profile}" if explicit else "the active profile on disk"
    return Resolution("profile", f"profile {provider.profile!r} ({how}, type {auth.get('type')})",
                      explicit_profile=explicit, profile=provider.profile, config_path=provider.config_path,
                      settings=settings, token_path=token.get("path") if isinstance(token, dict) else None)


def _profile_name() -> str | None:
    try:
        return str(sdk._active_profile())  # private SDK helper: see SDK_HELPERS
    except AnthropicError:
        return None


@dataclass
class ProfileView:
    """The profile the SDK would look at (named or active), whether or not the chain reaches it."""

    name: str | None
    name_error: str
    source: str  # "ANTHROPIC_PROFILE" | "active_config" | "default"
    config_dir: Path
    config_path: Path | None
    exists: bool


def profile_view() -> ProfileView:
    config_dir = sdk._config_dir()  # private SDK helper: see SDK_HELPERS
    if _env(ENV_PROFILE):
        source = ENV_PROFILE
    elif (config_dir / "active_config").is_file() and (config_dir / "active_config").read_text().strip():
        source = "active_config"
    else:
        source = "default"
    try:
        name = sdk._active_profile()  # private SDK helper: see SDK_HELPERS
        path = sdk._config_file_path(name)  # private SDK helper: see SDK_HELPERS
    except AnthropicError as exc:
        return ProfileView(None, str(exc), source, config_dir, None, False)
    return ProfileView(name, "", source, config_dir, path, path.is_file())


def shown_path(path: Path | str) -> str:
    """A path with the home directory written as ``~`` (the same on every machine's report)."""
    text, home = str(path), str(Path.home())
    return "~" + text[len(home):] if home != "/" and text.startswith(home) else text
