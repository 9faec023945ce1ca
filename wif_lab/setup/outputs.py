"""What a workload reads after setup: an env file of ``ANTHROPIC_*`` variables, or a federation profile.

Neither holds a secret (the workload brings its own identity token), so both can be committed next to
a deployment or turned into a ConfigMap. Each is written only when its content changes, atomically,
and never group- or world-writable (the SDK refuses a profile that is).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .plan import CREATE, UNCHANGED, UPDATE, FieldChange, Step

ENV_NAMES = {
    "base_url": "ANTHROPIC_BASE_URL",
    "organization_id": "ANTHROPIC_ORGANIZATION_ID",
    "federation_rule_id": "ANTHROPIC_FEDERATION_RULE_ID",
    "service_account_id": "ANTHROPIC_SERVICE_ACCOUNT_ID",
    "workspace_id": "ANTHROPIC_WORKSPACE_ID",
}
TOKEN_FILE_VARIABLE = "ANTHROPIC_IDENTITY_TOKEN_FILE"


def env_values(values: dict[str, str], token_file: str | None) -> dict[str, str]:
    out = {env: values[key] for key, env in ENV_NAMES.items() if values.get(key)}
    if token_file:
        out[TOKEN_FILE_VARIABLE] = token_file
    return out


def render_env(values: dict[str, str], token_file: str | None, *, source: Path | None = None) -> str:
    made = f" from {source.name}" if source else ""
    lines = [f"# ANTHROPIC_* settings written by `wif-lab setup anthropic`{made}. No secrets: the workload",
             "# brings its own identity token. Usable as `set -a; . FILE`, docker --env-file, or a ConfigMap."]
    lines += [f"{k}={v}" for k, v in env_values(values, token_file).items()]
    return "\n".join(lines) + "\n"


def read_env(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigurationError(f"cannot read the env file {path}: {exc}",
                                 hint="env_file in [anthropic.output] must be a writable file path") from exc
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def _step(kind: str, name: str, exists: bool, before: dict[str, Any], after: dict[str, Any]) -> Step:
    keys = dict.fromkeys([*before, *after])
    changes = [FieldChange(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]
    action = CREATE if not exists else (UPDATE if changes else UNCHANGED)
    return Step(kind, name, action, changes)


def env_file_step(path: Path, values: dict[str, str], token_file: str | None) -> Step:
    return _step("env file", str(path), path.exists(), read_env(path), env_values(values, token_file))


def _write(path: Path, text: str, mode: int) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigurationError(f"cannot write {path}: {exc.strerror or exc}",
                                 hint="the output paths in [anthropic.output] must be in folders you can write",
                                 ) from exc


def write_env_file(path: Path, values: dict[str, str], token_file: str | None, *, source: Path | None = None) -> None:
    _write(path, render_env(values, token_file, source=source), 0o644)


# --- federation profile ---------------------------------------------------------------------------


def config_dir(profile_dir: Path | None) -> Path:
    """Where the SDK looks: ANTHROPIC_CONFIG_DIR, else ~/.config/anthropic (Linux and macOS)."""
    if profile_dir is not None:
        return profile_dir
    env = os.environ.get("ANTHROPIC_CONFIG_DIR")
    return Path(env).expanduser() if env else Path.home() / ".config" / "anthropic"


def profile_path(name: str, profile_dir: Path | None) -> Path:
    return config_dir(profile_dir) / "configs" / f"{name}.json"


def profile_document(values: dict[str, str], token_file: str | None) -> dict[str, Any]:
    """The SDK's ``configs/<name>.json`` for ``oidc_federation`` (examples/aks/anthropic_profile.json's shape)."""
    doc: dict[str, Any] = {"version": "1.0"}
    if values.get("base_url"):
        doc["base_url"] = values["base_url"]
    doc["organization_id"] = values["organization_id"]
    if values.get("workspace_id"):
        doc["workspace_id"] = values["workspace_id"]
    auth: dict[str, Any] = {"type": "oidc_federation", "federation_rule_id": values["federation_rule_id"],
                            "service_account_id": values["service_account_id"]}
    if token_file:
        auth["identity_token"] = {"source": "file", "path": token_file}
    doc["authentication"] = auth
    return doc


def _flat(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        out.update(_flat(value, name + ".") if isinstance(value, dict) else {name: value})
    return out


def profile_step(name: str, profile_dir: Path | None, values: dict[str, str], token_file: str | None) -> Step:
    path = profile_path(name, profile_dir)
    try:
        before = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError):
        before = {}  # unreadable or not JSON: rewritten whole
    return _step("federation profile", str(path), path.exists(), _flat(before),
                 _flat(profile_document(values, token_file)))


def write_profile(name: str, profile_dir: Path | None, values: dict[str, str], token_file: str | None) -> Path:
    path = profile_path(name, profile_dir)
    _write(path, json.dumps(profile_document(values, token_file), indent=2) + "\n", 0o644)
    return path
