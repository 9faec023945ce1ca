"""Reading a setup file (TOML): every mistake is one error naming the file, the key and what it wants.

Why a reader of our own on top of :mod:`tomllib`: a typo in a key (``issuer_ulr``) must fail the run
before anything is sent, not be ignored and leave the real object half configured.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ConfigurationError

T = TypeVar("T")
_MISSING = object()


def load(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The parsed file, or a :class:`ConfigurationError` saying why it cannot be read."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigurationError(f"no setup file at {p}",
                                 hint="pass the path of your TOML file; start from setup/*.example.toml") from exc
    except IsADirectoryError as exc:
        raise ConfigurationError(f"{p} is a directory, not a setup file", hint="pass the TOML file itself") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the setup file {p}: {exc}",
                                 hint="it must be a readable UTF-8 text file") from exc
    try:
        return p, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{p} is not valid TOML: {exc}",
                                 hint="check the quoting and brackets on that line (TOML strings need quotes)") from exc


class Section:
    """One table of the file, read key by key; unknown keys are refused by :meth:`done`."""

    def __init__(self, data: Any, where: str, source: Path) -> None:
        if not isinstance(data, dict):
            raise ConfigurationError(f"{source}: [{where}] must be a table, not {type(data).__name__}",
                                     hint=f"write it as a [{where}] section or an inline table {{ … }}")
        self.data = data
        self.where = where
        self.source = source
        self._read: set[str] = set()

    def fail(self, key: str, wants: str, got: Any = _MISSING) -> ConfigurationError:
        shown = "" if got is _MISSING else f", not {got!r}"
        return ConfigurationError(f"{self.source}: {self.where}.{key} must be {wants}{shown}",
                                  hint=f"fix {key} in the [{self.where}] section")

    def has(self, key: str) -> bool:
        return key in self.data

    def value(self, key: str, check: Callable[[Any], bool], wants: str, default: Any = _MISSING) -> Any:
        self._read.add(key)
        if key not in self.data:
            if default is _MISSING:
                raise ConfigurationError(f"{self.source}: [{self.where}] has no {key}",
                                         hint=f"add {key} = … ({wants}) to the [{self.where}] section")
            return default
        found = self.data[key]
        if not check(found):
            raise self.fail(key, wants, found)
        return found

    def text(self, key: str, default: Any = _MISSING, *, choices: Iterable[str] | None = None,
             prefix: str | None = None) -> Any:
        allowed = tuple(choices) if choices is not None else None
        wants = "a non-empty string"
        if allowed:
            wants = "one of " + ", ".join(repr(c) for c in allowed)
        elif prefix:
            wants = f"a string starting with {prefix!r}"

        def ok(v: Any) -> bool:
            return (isinstance(v, str) and bool(v.strip()) and (allowed is None or v in allowed)
                    and (prefix is None or v.startswith(prefix)))

        return self.value(key, ok, wants, default)

    def integer(self, key: str, default: Any = _MISSING, *, low: int, high: int) -> Any:
        def ok(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and low <= v <= high

        return self.value(key, ok, f"a whole number from {low} to {high}", default)

    def flag(self, key: str, default: Any = _MISSING) -> Any:
        return self.value(key, lambda v: isinstance(v, bool), "true or false", default)

    def strings(self, key: str, default: Any = _MISSING) -> Any:
        def ok(v: Any) -> bool:
            return isinstance(v, list) and bool(v) and all(isinstance(i, str) and i for i in v)

        return self.value(key, ok, "a non-empty list of strings", default)

    def path(self, key: str, default: Any = _MISSING) -> Any:
        """A path; relative ones are taken from the setup file's folder (not the current directory)."""
        found = self.text(key, default)
        if not isinstance(found, str):
            return found
        p = Path(found).expanduser()
        return p if p.is_absolute() else (self.source.parent / p)

    def table(self, key: str, *, required: bool = True) -> Section | None:
        self._read.add(key)
        if key not in self.data:
            if required:
                raise ConfigurationError(f"{self.source}: no [{self.where}.{key}] section",
                                         hint=f"add a [{self.where}.{key}] section (see setup/*.example.toml)")
            return None
        return Section(self.data[key], f"{self.where}.{key}", self.source)

    def raw_table(self, key: str, check: Callable[[dict[str, Any]], str | None] | None = None,
                  default: Any = _MISSING) -> Any:
        """A table taken as it is (a rule's ``match``), with an optional check returning a problem."""
        found = self.value(key, lambda v: isinstance(v, dict), "a table", default)
        if isinstance(found, dict) and check is not None:
            problem = check(found)
            if problem:
                raise self.fail(key, problem)
        return found

    def done(self) -> None:
        unknown = sorted(set(self.data) - self._read)
        if unknown:
            known = ", ".join(sorted(self._read))
            raise ConfigurationError(f"{self.source}: [{self.where}] has unknown key(s) {', '.join(unknown)}",
                                     hint=f"the keys it takes are: {known}")


def document(path: str | Path, section: str) -> Section:
    """The ``[section]`` table of the setup file at ``path``."""
    source, data = load(path)
    if section not in data:
        present = ", ".join(f"[{k}]" for k in data if isinstance(data[k], dict)) or "none"
        raise ConfigurationError(f"{source} has no [{section}] section (sections: {present})",
                                 hint=f"add [{section}] with its settings; see setup/{section}.example.toml")
    return Section(data[section], section, source)
