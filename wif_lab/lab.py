"""Start or attach to the mock stack, and read the connection file.

A notebook in mock mode calls :func:`connect`: it attaches to a running stack when
``WIF_LAB_CONNECTION`` names a connection file (a workshop's ``wif-lab mock serve``), and otherwise
starts the whole stack in-process on loopback (the embedded default). Either way it gets the same
:class:`Lab`, built from the same connection file keys.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from . import http
from .errors import ConfigurationError, ProviderError
from .redact import Secret

ENV_CONNECTION = "WIF_LAB_CONNECTION"
ENV_STATE_DIR = "WIF_LAB_STATE_DIR"
ENV_RUN_DIR = "WIF_LAB_RUN_DIR"


def default_state_dir() -> Path:
    """Where keys and the lab CA are cached between runs (outside the repository)."""
    env = os.environ.get(ENV_STATE_DIR)
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "wif-lab"


def default_run_root() -> Path:
    """Where running labs keep their own files (connection file, token files): never inside the state dir.

    The state dir may be baked into an image and read-only (``wif-lab mock init``); each user gets a
    private folder under the temp dir unless ``WIF_LAB_RUN_DIR`` names one.
    """
    env = os.environ.get(ENV_RUN_DIR)
    if env:
        return Path(env).expanduser()
    uid = os.getuid() if hasattr(os, "getuid") else 0
    root = Path(tempfile.gettempdir()) / f"wif-lab-{uid}"
    root.mkdir(mode=0o700, exist_ok=True)
    if hasattr(os, "getuid") and root.stat().st_uid != uid:  # a shared temp dir: never use another user's folder
        raise ConfigurationError(f"{root} belongs to another user",
                                 hint=f"set {ENV_RUN_DIR} to a folder of your own for the lab's run files")
    return root / "run"


_REWRITE_HINT = ("the connection file is written by `wif-lab mock serve` (DIR/connection.json): restart serve to "
                 "rewrite it, or unset WIF_LAB_CONNECTION to start an embedded lab")


class MissingSetting(ConfigurationError, KeyError):
    """A key the connection file should have is missing (still a ``KeyError`` for code that expects one)."""

    hint = _REWRITE_HINT


class ConnectionSection(dict[str, Any]):
    """A part of the connection file: a missing key is a :class:`MissingSetting` naming it, never a bare KeyError."""

    def __init__(self, data: dict[str, Any], where: str, source: str) -> None:
        super().__init__({k: _settings(v, f"{where}.{k}" if where else k, source) for k, v in data.items()})
        self._where = where
        self._source = source

    def __missing__(self, key: str) -> Any:
        name = f"{self._where}.{key}" if self._where else key
        raise MissingSetting(f"the connection file {self._source} has no '{name}'")

    def replace(self, data: dict[str, Any]) -> None:
        """Set every key of ``data`` (a shared lab's attendee section), wrapped as the file's own values are."""
        for key, value in data.items():
            self[key] = _settings(value, f"{self._where}.{key}" if self._where else key, self._source)


def _settings(value: Any, where: str, source: str) -> Any:
    if isinstance(value, dict):
        return ConnectionSection(value, where, source)
    if isinstance(value, list):
        return [_settings(v, f"{where}[{i}]", source) for i, v in enumerate(value)]
    return value


@dataclass(frozen=True)
class Connection:
    """The parsed connection file: everything a client needs to reach the mocks."""

    data: dict[str, Any]
    path: Path | None = None

    def __post_init__(self) -> None:
        # The secrets in the file (admin and API tokens): shown redacted wherever a notebook puts them.
        anthropic = self.data.get("anthropic")
        if isinstance(anthropic, dict) and isinstance(anthropic.get("admin_token"), str):
            anthropic["admin_token"] = Secret(anthropic["admin_token"])
        okta = self.data.get("okta")  # the mock Okta's Management API token (SSWS)
        if isinstance(okta, dict) and isinstance(okta.get("api_token"), str):
            okta["api_token"] = Secret(okta["api_token"])
        github = self.data.get("github_actions")  # the runner's request tokens, one per job
        if isinstance(github, dict):
            jobs = github.get("jobs") if isinstance(github.get("jobs"), dict) else {}
            for env in (github.get("env"), *(job.get("env") for job in jobs.values() if isinstance(job, dict))):
                if isinstance(env, dict) and isinstance(env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"), str):
                    env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = Secret(env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
        aws = self.data.get("aws")  # the mock STS's session credentials: the secret key and session token
        credentials = aws.get("credentials") if isinstance(aws, dict) else None
        if isinstance(credentials, dict):
            for key in ("secret_access_key", "session_token"):
                if isinstance(credentials.get(key), str):
                    credentials[key] = Secret(credentials[key])

    @classmethod
    def load(cls, path: str | Path) -> Connection:
        p = Path(path).expanduser()
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigurationError(
                f"no connection file at {p}",
                hint="start the lab with `wif-lab mock serve --state-dir DIR` and use DIR/connection.json",
            ) from exc
        except IsADirectoryError as exc:
            raise ConfigurationError(
                f"{p} is a directory, not a connection file",
                hint=f"point {ENV_CONNECTION} at the file inside it: {p / 'connection.json'}",
            ) from exc
        except PermissionError as exc:
            raise ConfigurationError(
                f"cannot read the connection file {p}: permission denied",
                hint="serve writes it readable by its own user only (mode 600): read it as the user who started the "
                "stack, or copy it with that user's permission",
            ) from exc
        except OSError as exc:
            raise ConfigurationError(f"cannot read the connection file {p}: {exc.strerror or exc}") from exc
        except ValueError as exc:  # JSON syntax, or bytes that are not UTF-8
            raise ConfigurationError(f"{p} is not valid JSON: {exc}", hint=_REWRITE_HINT) from exc
        if not isinstance(data, dict) or not isinstance(data.get("anthropic"), dict) or "ca_bundle" not in data:
            raise ConfigurationError(f"{p} is not a wif-lab connection file (no 'anthropic' / 'ca_bundle')",
                                     hint=_REWRITE_HINT)
        for key, value in (("ca_bundle", data["ca_bundle"]), ("anthropic.base_url", data["anthropic"].get("base_url"))):
            if not isinstance(value, str) or not value:
                raise ConfigurationError(f"the connection file {p} has no usable '{key}' (got {value!r})",
                                         hint=_REWRITE_HINT)
        return cls(ConnectionSection(data, "", str(p)), p)

    @property
    def ca_bundle(self) -> Path:
        return Path(self.data["ca_bundle"])

    @property
    def anthropic(self) -> dict[str, Any]:
        return self.data["anthropic"]

    def __repr__(self) -> str:
        return f"Connection({str(self.path) if self.path else 'in memory'}, sections={sorted(self.data)})"

    __str__ = __repr__

    def section(self, name: str) -> dict[str, Any]:
        if name not in self.data:
            raise ConfigurationError(
                f"the connection file has no '{name}' section",
                hint=f"this lab was started without the {name} mock; upgrade wif-lab or restart the stack",
            )
        return self.data[name]


class Lab:
    """A connected lab: the connection file, plus the in-process stack when embedded."""

    def __init__(self, connection: Connection, stack: Any = None, *, run_dir: Path | None = None) -> None:
        self.connection = connection
        self.stack = stack
        self._run_dir = run_dir  # removed on close: only an embedded lab's own files live there
        self._admin: Any = None
        self.attendee: str | None = None  # set by wif_lab.attendee.join on a shared lab

    # --- what notebooks read -------------------------------------------------------------------

    @property
    def ca_bundle(self) -> Path:
        return self.connection.ca_bundle

    @property
    def base_url(self) -> str:
        return self.connection.anthropic["base_url"]

    @property
    def organization_id(self) -> str:
        return self.connection.anthropic["organization_id"]

    @property
    def default_workspace_id(self) -> str:
        return self.connection.anthropic["default_workspace_id"]

    @property
    def private(self) -> bool:
        """Whether this lab serves this kernel alone: embedded, or started for it by the notebook runner.

        A private lab is fresh and nobody else's, so the kernel treats it as its own (no attendee namespace),
        whichever process hosts its servers.
        """
        return self.stack is not None or self.connection.data.get("private") is True

    def section(self, name: str) -> dict[str, Any]:
        return self.connection.section(name)

    def mock(self, name: str) -> Any:
        """The live mock object (embedded labs only), for lab-side setup a real admin does by hand."""
        if self.stack is None:
            raise ConfigurationError(
                f"lab-side setup of the {name} mock needs the embedded lab",
                hint="run the notebook without WIF_LAB_CONNECTION, or use the preconfigured default scenario",
            )
        return self.stack.mocks[name]

    def admin(self) -> Any:
        """The official SDK client on the lab's ``org:admin`` token (stands in for a Console admin)."""
        if self._admin is None:
            from .sdk import admin_client

            self._admin = admin_client(
                base_url=self.base_url, admin_token=self.connection.anthropic["admin_token"], verify=self.ca_bundle
            )
        return self._admin

    def events(self, *, federation_rule_id: str | None = None, request_id: str | None = None,
               limit: int = 20) -> list[dict[str, Any]]:
        """The authentication history (newest first): why each exchange succeeded or failed."""
        params: dict[str, Any] = {"limit": limit}
        if federation_rule_id:
            params["federation_rule_id"] = federation_rule_id
        if request_id:
            params["request_id"] = request_id
        url = self.connection.anthropic["events_url"]
        r = http.request(
            "GET", url, what="the lab's authentication history", verify=self.ca_bundle, deadline=10, params=params,
            headers={"authorization": f"Bearer {self.connection.anthropic['admin_token']}",
                     "anthropic-beta": "oauth-2025-04-20"},
        )
        try:
            r.raise_for_status()
            return list(r.json()["data"])
        except (httpx.HTTPStatusError, ValueError, KeyError, TypeError) as exc:
            raise ProviderError(f"{url} answered HTTP {r.status_code} without a list of events",
                                status=r.status_code, hint=f"that this lab is a wif-lab mock stack; {_REWRITE_HINT}",
                                ) from exc

    def last_event(self, federation_rule_id: str | None = None) -> dict[str, Any] | None:
        events = self.events(federation_rule_id=federation_rule_id, limit=1)
        return events[0] if events else None

    def event_for(self, request_id: str) -> dict[str, Any] | None:
        """The history entry of one exchange request, or None when it left none (malformed, unknown rule)."""
        events = self.events(request_id=request_id, limit=1)
        return events[0] if events else None

    def close(self) -> None:
        if self.stack is not None:
            self.stack.stop()
            self.stack = None
        if self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "embedded" if self.stack is not None else "attached"
        return f"Lab({kind}, anthropic={self.base_url!r})"


def start(state_dir: str | Path | None = None, *, host: str = "127.0.0.1", port: int = 0) -> Lab:
    """Start the whole mock stack in this process; it stops when the process exits."""
    from .mock.stack import MockStack

    state = Path(state_dir) if state_dir else default_state_dir()
    run_dir = new_run_dir()
    stack = MockStack(state, host=host, port=port, connection_file=run_dir / "connection.json", run_dir=run_dir)
    stack.start()
    lab = Lab(Connection.load(stack.connection_file), stack, run_dir=run_dir)
    atexit.register(lab.close)
    return lab


def new_run_dir() -> Path:
    """A folder (not yet created) for one lab's connection file and token files, named after this process.

    Keys and CA are cached in the state dir for every lab (it may be read-only); each lab's own files get a
    folder of their own under the run root, so two kernels (notebooks run side by side) never overwrite each
    other's pod token files. Folders of processes that are gone are removed first.
    """
    run_root = default_run_root()
    _prune_run_dirs(run_root)
    return run_root / f"{os.getpid()}-{secrets.token_hex(4)}"


def _prune_run_dirs(run_root: Path) -> None:
    """Remove the run dirs of labs whose process is gone (a killed kernel never runs its atexit)."""
    if not run_root.is_dir():
        return
    for entry in run_root.iterdir():
        pid_text = entry.name.removeprefix("connection-").split("-", 1)[0]
        if pid_text.isdigit() and not _process_alive(int(pid_text)):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def attach(connection_file: str | Path) -> Lab:
    """Attach to a running stack through its connection file."""
    connection = Connection.load(connection_file)
    http.request("GET", connection.anthropic["base_url"], what=f"the lab in {connection_file}",
                 verify=connection.ca_bundle, deadline=3,
                 hint="is `wif-lab mock serve` still running? Restart it or unset WIF_LAB_CONNECTION")
    return Lab(connection)


def connect(connection_file: str | Path | None = None) -> Lab:
    """Attach when a connection file is given (or named by WIF_LAB_CONNECTION); else start embedded."""
    path = connection_file or os.environ.get(ENV_CONNECTION)
    return attach(path) if path else start()
