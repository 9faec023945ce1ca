"""The production programs in ``examples/``, shown and run from a notebook.

The programs are what a workload ships: they import no ``wif_lab`` and read every setting from
environment variables. A notebook shows one with :func:`show` and runs it with :func:`run`, which
builds its environment from the runbook (the lab's values in mock mode, the notebook's parameters in
live mode): only configuration differs between the lab and production. The environment is shown
with secrets redacted; the programs print only Claude's reply.

    from wif_lab import examples
    examples.show("okta/sdk_client_credentials.py")
    examples.run("okta/sdk_client_credentials.py", rb, settings=okta)

TypeScript programs (``.ts``) are compiled and run with Node by :mod:`wif_lab.typescript`; they get
``NODE_EXTRA_CA_CERTS`` for the CA bundle.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import forkserver, typescript
from .display import Table, summary
from .errors import ConfigurationError, WifLabError
from .redact import Secret, redact, redact_text
from .runbook import Note, Runbook

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
DEFAULT_TIMEOUT = 120
PROFILE_FILE = "aks/anthropic_profile.json"
# The programs that configure the SDK without code, each with the federation profile shipped beside it.
# The token-file scripts write the file and export ANTHROPIC_IDENTITY_TOKEN_FILE themselves.
PROFILE_FILES = {"aks/env_token_file.py": PROFILE_FILE, "okta/token_file.sh": "okta/anthropic_profile.json",
                 "azure_vm/token_file.sh": "azure_vm/anthropic_profile.json"}
POD_TOKEN_PATH = "/var/run/secrets/anthropic.com/token"  # where the Kubernetes guide mounts the direct-path token

# The notebook's provider settings → the variables the programs read, per example directory.
SETTINGS_ENV: dict[str, dict[str, str]] = {
    "okta": {"issuer": "OKTA_ISSUER", "client_id": "OKTA_CLIENT_ID", "private_key": "OKTA_PRIVATE_KEY_FILE",
             "key_id": "OKTA_KEY_ID", "scope": "OKTA_SCOPE"},
    # The same programs on App Service / Functions / Container Apps: the platform sets IDENTITY_* instead.
    "azure_vm": {"resource": "CLAUDE_API_RESOURCE", "client_id": "AZURE_CLIENT_ID",
                 "imds_url": "AZURE_POD_IDENTITY_AUTHORITY_HOST", "identity_endpoint": "IDENTITY_ENDPOINT",
                 "identity_header": "IDENTITY_HEADER"},
    "aks": {"tenant_id": "AZURE_TENANT_ID", "client_id": "AZURE_CLIENT_ID", "token_file": "AZURE_FEDERATED_TOKEN_FILE",
            "authority_host": "AZURE_AUTHORITY_HOST", "scope": "CLAUDE_API_RESOURCE"},
    "spiffe": {"endpoint_socket": "SPIFFE_ENDPOINT_SOCKET"},  # spiffe/token_file.py: the helper's file instead
    # What the runner sets in a job with `permissions: id-token: write`.
    "github_actions": {"github_actions": "GITHUB_ACTIONS", "request_url": "ACTIONS_ID_TOKEN_REQUEST_URL",
                       "request_token": "ACTIONS_ID_TOKEN_REQUEST_TOKEN"},
    # boto3 and the CLI read these; in the lab they hold a session's keys, as Lambda sets them.
    "aws": {"region": "AWS_REGION", "endpoint_url": "AWS_ENDPOINT_URL_STS", "access_key_id": "AWS_ACCESS_KEY_ID",
            "secret_access_key": "AWS_SECRET_ACCESS_KEY", "session_token": "AWS_SESSION_TOKEN"},
    # google-auth's own variables: only the lab sets them (on Google Cloud the metadata server is implied).
    "gcp": {"metadata_host": "GCE_METADATA_HOST", "metadata_ip": "GCE_METADATA_IP"},
    # A self-managed cluster: the projected token file is the whole provider.
    "kubernetes": {"token_file": "ANTHROPIC_IDENTITY_TOKEN_FILE"},
}
# Variables of the notebook's own process that would steer a program elsewhere; a program gets only
# what :func:`environment` sets for it (the CA variables stay when the runbook uses the system CAs).
# In live mode the host's own identity variables (what a VM, App Service or the AKS webhook set) are
# the platform the program runs on, so they stay; only the lab replaces them.
_RUNBOOK_PREFIXES = ("ANTHROPIC_", "OKTA_", "CLAUDE_")
_PLATFORM_PREFIXES = ("AZURE_", "IDENTITY_", "MSI_", "IMDS_", "SPIFFE_", "ACTIONS_ID_TOKEN_", "GITHUB_ACTIONS", "AWS_",
                      "GCE_", "GOOGLE_", "NO_GCE_")
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "AWS_CA_BUNDLE")
NODE_CA_VARIABLE = "NODE_EXTRA_CA_CERTS"  # Node adds this PEM bundle to its trust store (TypeScript examples)
IMDS_HOST_VARIABLE = "AZURE_POD_IDENTITY_AUTHORITY_HOST"
TOOLS = {".sh": ("bash", "curl", "jq")}
_SECRET_NAME = re.compile(r"TOKEN$|SECRET|PASSWORD|API_KEY$|^IDENTITY_HEADER$")


def path_of(name: str) -> Path:
    """``examples/<name>``; the error lists what there is."""
    path = (EXAMPLES_DIR / name).resolve()
    if not path.is_file() or EXAMPLES_DIR.resolve() not in path.parents:
        known = sorted(str(p.relative_to(EXAMPLES_DIR)) for p in EXAMPLES_DIR.rglob("*") if p.is_file()
                       and not {"node_modules", "out"} & set(p.relative_to(EXAMPLES_DIR).parts))
        raise ConfigurationError(f"no example {name!r}", hint=f"one of: {', '.join(known)}")
    return path


# --- showing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """An example file, displayed as a code block (Markdown in Jupyter, the plain text elsewhere)."""

    name: str
    text: str

    @property
    def language(self) -> str:
        languages = {".py": "python", ".sh": "bash", ".json": "json", ".ts": "typescript", ".conf": "hcl",
                     ".yml": "yaml", ".yaml": "yaml"}
        return languages.get(Path(self.name).suffix, "")

    def __repr__(self) -> str:
        return f"# examples/{self.name}\n{self.text}"

    def _repr_markdown_(self) -> str:
        fence = "````" if "```" in self.text else "```"
        return f"`examples/{self.name}`\n\n{fence}{self.language}\n{self.text.rstrip()}\n{fence}\n"


def show(name: str) -> Source:
    """The example's source, for a notebook cell to display."""
    return Source(name, path_of(name).read_text())


# --- configuring -----------------------------------------------------------------------------------


class Environment(dict[str, str]):
    """The variables a program is given beyond the process basics; shown without secrets or local paths."""

    def __init__(self, values: Mapping[str, str], *, base: Mapping[str, str], hide: Mapping[str, str],
                 where: str) -> None:
        super().__init__(values)
        self._base = dict(base)
        self._hide = dict(hide)  # local path prefix → how to show it
        self.where = where  # "the lab" or "the live services"

    def full(self) -> dict[str, str]:
        """What the program's process gets: the basics (PATH, HOME, …) plus these variables."""
        return {**self._base, **self}

    def shown(self, name: str) -> str:
        value = self[name]
        if _SECRET_NAME.search(name):
            return redact(value)
        for prefix, label in self._hide.items():
            value = value.replace(prefix, label)
        return value

    def table(self, title: str = "Environment given to the program") -> Table:
        return Table(title, ["variable", "value"], [(name, self.shown(name)) for name in sorted(self)])

    def __repr__(self) -> str:
        return repr(self.table())

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()


def _settings_from_lab(rb: Runbook, directory: str) -> dict[str, Any]:
    assert rb.lab is not None
    if directory == "okta":
        return dict(rb.lab.section("okta"))
    if directory == "azure_vm":
        section = rb.lab.section("azure")
        return {"resource": section["resource"], "imds_url": section["imds_url"]}
    if directory == "spiffe":
        section = rb.lab.section("spire")
        return {"endpoint_socket": section["endpoint_socket"], "token_file": section["token_file"]}
    if directory == "github_actions":
        env = rb.lab.section("github_actions")["env"]
        return {"github_actions": env["GITHUB_ACTIONS"], "request_url": env["ACTIONS_ID_TOKEN_REQUEST_URL"],
                "request_token": env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]}
    if directory == "aws":
        section = rb.lab.section("aws")
        return {"region": section["region"], "endpoint_url": section["endpoint_url"], **section["credentials"]}
    if directory == "gcp":
        section = rb.lab.section("gcp")
        return {"metadata_host": section["metadata_host"], "metadata_ip": section["metadata_ip"]}
    if directory == "kubernetes":
        return {"token_file": rb.lab.section("kubernetes")["token_file"]}
    section = rb.lab.section("aks")
    env = section["env"]
    return {"tenant_id": env["AZURE_TENANT_ID"], "client_id": env["AZURE_CLIENT_ID"],
            "token_file": env["AZURE_FEDERATED_TOKEN_FILE"], "authority_host": env.get("AZURE_AUTHORITY_HOST"),
            "scope": section["scope"]}


_CONFIG_DIRS: weakref.WeakKeyDictionary[Runbook, Path] = weakref.WeakKeyDictionary()
CONFIG_DIR_SHOWN = "<lab run dir>/anthropic-config"


def _config_dir(rb: Runbook) -> Path:
    """Where a profile run keeps the SDK's config and its Claude API token cache: a folder of this runbook's
    own, in the lab's run folder (a temporary one in live mode), never your ~/.config/anthropic. Its own, so
    that no other attendee of a shared lab, and no earlier run of the notebook, lends it a cached token;
    removed with the runbook."""
    found = _CONFIG_DIRS.get(rb)
    if found is None:
        parent = rb.lab.connection.path.parent if rb.lab is not None and rb.lab.connection.path is not None else None
        found = Path(tempfile.mkdtemp(prefix="anthropic-config-", dir=parent))
        _CONFIG_DIRS[rb] = found
        weakref.finalize(rb, shutil.rmtree, found, True)
    return found


def install_profile(config_dir: Path, name: str, *, source: str = PROFILE_FILE, token_file: str | None = None) -> Path:
    """``examples/<source>`` as ``<config_dir>/configs/<name>.json``, the way a deployment mounts it;
    ``token_file`` replaces the profile's token path when the token lives elsewhere (the lab's pod)."""
    profile = json.loads(path_of(source).read_text())
    if token_file and "identity_token" in profile["authentication"]:
        profile["authentication"]["identity_token"]["path"] = token_file
    target = config_dir / "configs" / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(profile, indent=2) + "\n")
    target.chmod(0o644)  # the SDK refuses a config file that group or others can write
    return target


def _use_profile(rb: Runbook, name: str, profile: str, values: dict[str, str], hide: dict[str, str], *,
                 token_file: str | None = None) -> None:
    """Install ``name``'s profile in the runbook's own config folder and point the program at it."""
    config_dir = _config_dir(rb)
    install_profile(config_dir, profile, source=PROFILE_FILES[name], token_file=token_file)
    values.update(ANTHROPIC_CONFIG_DIR=str(config_dir), ANTHROPIC_PROFILE=profile)
    hide[str(config_dir)] = CONFIG_DIR_SHOWN if rb.lab is not None else "<temporary folder>/anthropic-config"


def environment(rb: Runbook, name: str, *, settings: Mapping[str, Any] | None = None, rule: Any = None,
                profile: str | None = None, model: str | None = None) -> Environment:
    """The environment ``examples/<name>`` runs with: Anthropic IDs from the runbook (or ``rule``), the
    provider's settings (the notebook's ``settings``, else the lab's), the runbook's CA bundle, and for
    ``aks/env_token_file.py`` the direct-path token file; a federation ``profile`` of that name for the
    programs in :data:`PROFILE_FILES`."""
    directory = name.split("/", 1)[0]
    if directory not in SETTINGS_ENV:
        raise ConfigurationError(f"no example directory {directory!r}", hint=f"one of: {', '.join(SETTINGS_ENV)}")
    if settings is None:
        if rb.lab is None:
            raise ConfigurationError("live mode: pass the notebook's provider settings",
                                     hint="settings=okta (or azure, pod): the object the settings cell built")
        settings = _settings_from_lab(rb, directory)
    rule_id = rule.id if rule is not None else rb.federation_rule_id
    account = rule.target.service_account_id if rule is not None else rb.service_account_id
    if not rule_id or not account:
        raise ConfigurationError("no federation rule and service account to run the example against",
                                 hint="run the cells that register them (lab) or set their IDs (live)")
    values: dict[str, str] = {"ANTHROPIC_BASE_URL": rb.base_url, "ANTHROPIC_ORGANIZATION_ID": rb.organization_id,
                              "ANTHROPIC_FEDERATION_RULE_ID": rule_id, "ANTHROPIC_SERVICE_ACCOUNT_ID": account}
    if rb.workspace_id:
        values["ANTHROPIC_WORKSPACE_ID"] = rb.workspace_id
    if model:
        values["CLAUDE_MODEL"] = model
    settings = dict(settings)
    if directory == "aws" and isinstance(settings.get("credentials"), Mapping):
        settings.update(settings["credentials"])  # the lab's session keys, flattened into their variables
    if directory == "azure_vm" and not settings.get("imds_url") and os.environ.get(IMDS_HOST_VARIABLE):
        settings["imds_url"] = os.environ[IMDS_HOST_VARIABLE]  # the machine's IMDS, as the notebook's client uses it
    for key, variable in SETTINGS_ENV[directory].items():
        value = settings.get(key)
        if not value:
            continue
        value = value.reveal() if isinstance(value, Secret) else str(value)
        if key == "private_key" and "-----BEGIN" in value:
            raise ConfigurationError("the examples read the private key from a file",
                                     hint="set okta_private_key to the path of the PEM file")
        values[variable] = value.removesuffix("/.default") if variable == "CLAUDE_API_RESOURCE" else value
    imds_host = SETTINGS_ENV["azure_vm"]["imds_url"]
    if directory == "azure_vm" and imds_host not in values and os.environ.get(imds_host):
        values[imds_host] = os.environ[imds_host]  # live mode: the VM's own IMDS address, when it sets one
    node = name.endswith(".ts")
    if isinstance(rb.verify, str | Path):
        values.update(dict.fromkeys((*CA_VARIABLES, NODE_CA_VARIABLE) if node else CA_VARIABLES, str(rb.verify)))
    if directory == "aws" and rb.lab is not None:
        values["AWS_EC2_METADATA_DISABLED"] = "true"  # the lab's keys are in the environment: never probe IMDS
    hide: dict[str, str] = {}
    if name == "aks/env_token_file.py":
        token_file = (settings.get("anthropic_token_file")  # notebook 03's direct-path settings
                      or (rb.lab.section("aks")["anthropic_token_file"] if rb.lab is not None
                          else os.environ.get("ANTHROPIC_IDENTITY_TOKEN_FILE", POD_TOKEN_PATH)))
        if profile:
            moved = token_file if token_file != POD_TOKEN_PATH else None
            _use_profile(rb, name, profile, values, hide, token_file=moved)
        else:
            values["ANTHROPIC_IDENTITY_TOKEN_FILE"] = token_file
    elif name in PROFILE_FILES and profile:  # the token-file scripts: only the profile to add
        _use_profile(rb, name, profile, values, hide)
    elif name == "spiffe/token_file.py":
        values.pop("SPIFFE_ENDPOINT_SOCKET", None)  # the workload reads the helper's file, not the socket
        if settings.get("token_file"):
            values["ANTHROPIC_IDENTITY_TOKEN_FILE"] = str(settings["token_file"])
    elif profile:
        raise ConfigurationError(f"examples/{name} reads no federation profile",
                                 hint=f"these do: {', '.join(PROFILE_FILES)}; the others build credentials in code")
    if rb.lab is not None:
        state = rb.lab.connection.data.get("state_dir")
        if rb.lab.connection.path is not None:
            hide[str(rb.lab.connection.path.parent)] = "<lab run dir>"
        if state:
            hide[str(state)] = "<lab state dir>"
    prefixes = _RUNBOOK_PREFIXES + (_PLATFORM_PREFIXES if rb.lab is not None else ())
    steering = [k for k in os.environ if k.startswith(prefixes)]
    if isinstance(rb.verify, str | Path):
        steering += [*CA_VARIABLES, NODE_CA_VARIABLE]
    base = {k: v for k, v in os.environ.items() if k not in steering}
    if directory == "aws" or name.endswith(".sh"):  # `aws` (pip install awscli) and `python3` with the SDK
        base["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), base.get("PATH", "")])
    return Environment(values, base=base, hide=hide, where="the lab" if rb.lab is not None else "the live services")


# --- running ---------------------------------------------------------------------------------------


class ExampleFailed(WifLabError):
    """An example program exited with an error."""


@dataclass(frozen=True, repr=False)
class ExampleRun:
    """One run of an example: its environment, exit status, and what it printed (redacted)."""

    name: str
    command: list[str]
    env: Environment
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def table(self) -> Table:
        fields: dict[str, Any] = {"program": f"examples/{self.name}",
                                  "command": " ".join([Path(self.command[0]).name, *self.command[1:]]),
                                  "exit status": self.returncode, "output": redact_text(self.stdout.strip()) or "—"}
        if self.stderr.strip():
            fields["errors"] = _tail(self.stderr)
        return summary(f"Ran examples/{self.name} against {self.env.where}", fields)

    def __repr__(self) -> str:
        return f"{self.env!r}\n\n{self.table()!r}"

    def _repr_html_(self) -> str:
        return self.env._repr_html_() + self.table()._repr_html_()


def _tail(text: str, lines: int = 15) -> str:
    return redact_text("\n".join(text.strip().splitlines()[-lines:]))


def _okta_unsupported(name: str, settings: Mapping[str, Any] | None) -> str:
    if not name.startswith("okta/") or settings is None:
        return ""
    method = settings.get("auth_method") or ("private_key_jwt" if settings.get("private_key") else "a client secret")
    uses = ([str(method)] if method != "private_key_jwt" else []) + (["DPoP"] if settings.get("dpop_key") else [])
    return " and ".join(uses)


def _command(path: Path) -> tuple[list[str], Path]:
    """How to run the example, and in which folder."""
    if path.suffix == ".py":
        return [sys.executable, path.name], path.parent
    if path.suffix == ".ts":  # compiled once into the Node cache, then run there (its node_modules resolve)
        script = typescript.compiled(path)
        return [typescript.node(), script.name], script.parent
    for tool in TOOLS.get(path.suffix, ()):
        if shutil.which(tool) is None:
            raise ConfigurationError(f"{tool} is not installed; examples/{path.parent.name}/{path.name} needs it",
                                     hint=f"install it: apt-get install {tool} (or brew install {tool})")
    cli_path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    if path.parent.name == "aws" and path.suffix == ".sh" and shutil.which("aws", path=cli_path) is None:
        raise ConfigurationError("the AWS CLI is not installed; the AWS cURL example asks STS with it",
                                 hint="pip install awscli (a wif-lab dependency: reinstall), or install AWS CLI v2")
    if path.parent.name == "okta" and path.suffix == ".sh" and shutil.which("openssl") is None:
        raise ConfigurationError("openssl is not installed; the Okta cURL example signs its client assertion "
                                 "with it", hint="install it: apt-get install openssl")
    return ["bash", path.name], path.parent


def run(name: str, rb: Runbook, *, settings: Mapping[str, Any] | None = None, rule: Any = None,
        profile: str | None = None, model: str | None = None, timeout: float = DEFAULT_TIMEOUT,
        check: bool = True, lab_only: str = "") -> ExampleRun | Note:
    """Run ``examples/<name>`` as its own process with :func:`environment`; raise if it fails (``check``).

    A Python program runs in a child of :mod:`wif_lab.forkserver` (its libraries already imported), else in a
    fresh interpreter; either way it gets exactly this environment.

    The Okta programs authenticate as the guide sets the app up (private_key_jwt, DPoP off): settings for
    another client authentication or DPoP get a note saying so instead of a run that Okta would refuse.
    ``lab_only`` says why a run belongs to the lab (e.g. it needs objects only the lab registered): in live
    mode the program is then not run, and the note gives that reason.
    """
    path = path_of(name)
    if rb.lab is None and lab_only:
        return Note(f"skipped in live mode: {lab_only}")
    unsupported = _okta_unsupported(name, settings)
    if unsupported:
        return Note(f"skipped: examples/{name} authenticates with private_key_jwt and no DPoP, as the guide sets "
                    f"the app up; these settings use {unsupported}. The notebook's own client above handles both.")
    env = environment(rb, name, settings=settings, rule=rule, profile=profile, model=model)
    command, cwd = _command(path)
    try:
        done = forkserver.run(command, cwd=cwd, env=env.full(), timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ExampleFailed(f"examples/{name} did not finish within {timeout:.0f} s",
                            hint="that the services in its environment answer (the lab still running?)") from exc
    result = ExampleRun(name, command, env, done.returncode, done.stdout, done.stderr)
    if check and not result.ok:
        missing = re.search(r"No module named '([\w.]+)'", done.stderr)
        hint = (f"install the package that provides {missing.group(1)} (pip install azure-identity for azure.*)"
                if missing else "the program's error above, then the environment it was given")
        raise ExampleFailed(f"examples/{name} exited with status {done.returncode}:\n{_tail(done.stderr)}",
                            hint=hint)
    return result
