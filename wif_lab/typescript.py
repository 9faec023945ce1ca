"""Node for the TypeScript examples: their pinned npm packages installed into a cache folder, the samples
compiled with the TypeScript compiler, then run by ``node``.

Why ``tsc`` rather than running the ``.ts`` files directly: Node 20 (the SDK's floor, and this machine's)
cannot strip types itself (that arrived in Node 22.6), and ``tsc`` is a single
pure-JavaScript npm package that also *type-checks* the samples against ``@anthropic-ai/sdk``'s own
declarations, so a guide sample that drifts from the SDK fails here with the compiler's message.

Where: ``$WIF_LAB_NODE_CACHE`` or ``~/.cache/wif-lab/node``; one folder per lockfile
(``examples/package-lock.json``: ``npm ci`` runs once per change of it) holding one compiled tree per
set of sources. Folders are built under a temporary name and renamed, so parallel test workers and
interrupted runs never see half an install.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigurationError, WifLabError

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
MANIFEST = ("package.json", "package-lock.json")  # what npm ci installs from
CACHE_ENV = "WIF_LAB_NODE_CACHE"
MIN_NODE = 20
INSTALL_TIMEOUT = 600
COMPILE_TIMEOUT = 300
INSTALL_HINT = ("install Node.js 20 or later with npm (the Anthropic SDK's floor): `apt-get install nodejs npm` on "
                "Debian 13 (its nodejs is 20); Debian 12's and Ubuntu 24.04's nodejs is 18, too old, so there add "
                "NodeSource's nodejs (https://github.com/nodesource/distributions); elsewhere https://nodejs.org")


class CompileError(WifLabError):
    """The TypeScript compiler refused an example."""

    hint = "the example no longer matches the pinned packages' types (examples/package.json): fix the sample"


@dataclass
class Timings:
    """Seconds the last :func:`compiled` spent installing (0 when the cache had it) and compiling."""

    install: float = 0.0
    compile: float = 0.0


TIMINGS = Timings()
_compiled: dict[str, Path] = {}  # sources digest → out dir, within this process


def node() -> str:
    """The ``node`` executable, checked to be recent enough; a clear error when it is missing."""
    found = shutil.which("node")
    if found is None:
        raise ConfigurationError("node is not installed: the TypeScript examples run with Node.js", hint=INSTALL_HINT)
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    major = re.match(r"v(\d+)\.", version)
    if major is None or int(major.group(1)) < MIN_NODE:
        raise ConfigurationError(f"node {version or '(unknown version)'} is too old: the TypeScript examples need "
                                 f"Node.js {MIN_NODE} or later", hint=INSTALL_HINT)
    return found


def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        raise ConfigurationError("npm is not installed: it installs the TypeScript examples' packages",
                                 hint=INSTALL_HINT)
    return found


def cache_root() -> Path:
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "wif-lab" / "node"


def _digest(paths: list[Path], base: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _sources() -> list[Path]:
    return sorted(p for p in EXAMPLES_DIR.rglob("*.ts")
                  if not {"node_modules", "out"} & set(p.relative_to(EXAMPLES_DIR).parts))


def _publish(staging: Path, target: Path) -> None:
    """Rename a finished folder into place; if another process got there first, keep theirs."""
    try:
        staging.rename(target)
    except OSError:
        if not target.exists():
            raise
        shutil.rmtree(staging, ignore_errors=True)


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def install() -> Path:
    """The folder whose ``node_modules`` holds the pinned packages (``npm ci``, once per lockfile)."""
    deps = cache_root() / f"deps-{_digest([EXAMPLES_DIR / name for name in MANIFEST], EXAMPLES_DIR)}"
    if (deps / "node_modules").is_dir():
        TIMINGS.install = 0.0
        return deps
    node()
    command = [npm(), "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]
    deps.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{deps.name}.", dir=deps.parent))
    for name in MANIFEST:
        shutil.copy2(EXAMPLES_DIR / name, staging / name)
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=staging, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ConfigurationError(f"npm ci did not finish within {INSTALL_TIMEOUT} s",
                                 hint="that the npm registry is reachable (npm config get registry)") from exc
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise ConfigurationError(f"npm ci failed for examples/package.json:\n{_tail(done.stderr or done.stdout)}",
                                 hint="that the npm registry is reachable (npm config get registry) and the "
                                      "lockfile matches package.json (npm install --package-lock-only)")
    TIMINGS.install = time.perf_counter() - started
    _publish(staging, deps)
    return deps


def compile_examples() -> Path:
    """The ``out`` folder with every ``examples/**/*.ts`` compiled to JavaScript (type-checked first)."""
    deps = install()
    sources = _sources()
    digest = _digest([*sources, EXAMPLES_DIR / "tsconfig.json"], EXAMPLES_DIR)
    out = deps / f"build-{digest}" / "out"
    if digest in _compiled or out.is_dir():
        TIMINGS.compile = 0.0
        _compiled[digest] = out
        return out
    staging = Path(tempfile.mkdtemp(prefix=f"build-{digest}.", dir=deps))
    shutil.copy2(EXAMPLES_DIR / "tsconfig.json", staging / "tsconfig.json")
    for source in sources:
        target = staging / source.relative_to(EXAMPLES_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    tsc = deps / "node_modules" / "typescript" / "bin" / "tsc"
    started = time.perf_counter()
    done = subprocess.run([node(), str(tsc), "-p", str(staging / "tsconfig.json")], cwd=staging,
                          capture_output=True, text=True, timeout=COMPILE_TIMEOUT, check=False)
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        report = (done.stdout + done.stderr).replace(str(staging) + os.sep, "examples/")
        raise CompileError(f"tsc refused the TypeScript examples:\n{_tail(report)}")
    TIMINGS.compile = time.perf_counter() - started
    _publish(staging, out.parent)
    _compiled[digest] = out
    return out


def compiled(path: Path) -> Path:
    """The JavaScript ``node`` runs for ``examples/<dir>/<name>.ts``."""
    relative = path.resolve().relative_to(EXAMPLES_DIR.resolve())
    return compile_examples() / relative.with_suffix(".js")
