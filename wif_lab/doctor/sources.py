"""Where the doctor gets the identity token: a file, an environment variable, or a token function.

A file is read with the SDK's own ``IdentityTokenFile`` (the same reader, the same errors a workload
meets); a token function is called once, as the SDK calls it before an exchange. A source never keeps
or shows the token: :meth:`read` hands back a :class:`~wif_lab.redact.Secret`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from anthropic import AnthropicError
from anthropic.lib.credentials import IdentityTokenFile

from ..errors import WifLabError
from ..redact import Secret, redact_text

ENV_TOKEN = "ANTHROPIC_IDENTITY_TOKEN"
ENV_TOKEN_FILE = "ANTHROPIC_IDENTITY_TOKEN_FILE"


class SourceProblem(Exception):
    """The source gave no token: what happened, and what to fix."""

    def __init__(self, found: str, fix: str) -> None:
        super().__init__(found)
        self.found = found
        self.fix = fix


class TokenSource(Protocol):
    description: str
    kind: str  # "file" | "environment" | "function"

    def read(self) -> Secret: ...


@dataclass(frozen=True)
class FileSource:
    """A token file: a projected service-account token, or what a sidecar writes."""

    path: Path
    origin: str = "--token-file"
    kind: str = "file"

    @property
    def description(self) -> str:
        return f"the file {self.path} ({self.origin})"

    def read(self) -> Secret:
        try:
            return Secret(IdentityTokenFile(self.path)())
        except AnthropicError as exc:
            raise SourceProblem(str(exc), _file_fix(self.path, str(exc))) from exc


def _file_fix(path: Path, message: str) -> str:
    if "not found" in message:
        return (f"the path must name the token file itself: is the volume mounted at {path.parent}, and does the "
                "variable or --token-file name the file the kubelet (or sidecar) writes?")
    if "not readable" in message:
        return "the process's user must be able to read it: the pod's securityContext (fsGroup) or the file mode"
    if "directory" in message:
        return "name the token file inside the mounted directory, not the directory"
    if "empty" in message:
        return ("the writer has not written it yet, or the projection is wrong: check the volume's "
                "serviceAccountToken audience and path")
    return "that the file holds the raw token as text"


@dataclass(frozen=True)
class EnvSource:
    """The literal token in ``ANTHROPIC_IDENTITY_TOKEN`` (the SDK's environment path, never for profiles)."""

    variable: str = ENV_TOKEN
    kind: str = "environment"

    @property
    def description(self) -> str:
        return f"the environment variable {self.variable}"

    def read(self) -> Secret:
        value = os.environ.get(self.variable, "").strip()
        if not value:
            raise SourceProblem(f"{self.variable} is not set or empty",
                                f"set {self.variable} to the identity token, or use a token file instead")
        return Secret(value)


@dataclass(frozen=True)
class ProviderSource:
    """A token function (what the SDK's ``identity_token_provider`` is): called once per check run."""

    function: Callable[[], str]
    name: str = ""
    kind: str = "function"

    @property
    def description(self) -> str:
        return f"the token function {self.name or describe(self.function)}"

    def read(self) -> Secret:
        try:
            value = self.function()
        except WifLabError as exc:
            raise SourceProblem(f"the token function failed: {exc.message}",
                                exc.hint or "the identity provider's settings") from exc
        except Exception as exc:  # any failure of user code is a finding, shown redacted
            first = (str(exc).strip().splitlines() or [""])[0]
            raise SourceProblem(f"the token function raised {type(exc).__name__}: {redact_text(first)}",
                                "the identity provider's settings, and that it is reachable from here") from exc
        if not isinstance(value, str) or not value.strip():
            raise SourceProblem(f"the token function returned {type(value).__name__} {'(empty)' if not value else ''}",
                                "an identity_token_provider must return the JWT as a non-empty string")
        return Secret(value.strip())


def describe(function: Callable[[], str]) -> str:
    """A readable name for a token function: its own repr when it has one, else its qualified name."""
    plain = hasattr(function, "__code__") or isinstance(function, functools.partial)
    if not plain and type(function).__repr__ is not object.__repr__:
        return repr(function)  # an object that describes itself (OktaTokenProvider)
    name = getattr(function, "__qualname__", None) or type(function).__name__
    return name.replace("<locals>.", "") + "()"
