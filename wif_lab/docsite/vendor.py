"""The browser code the site ships with it, taken from the npm registry with npm, pinned and verified.

Static pages need two scripts to show what a notebook reader expects: the Jupyter widgets
html-manager (renders saved widget state) and Mermaid (renders diagrams). Shipping them inside the
site keeps pages working where a CDN is out of reach (an offline workshop, a sandboxed test browser).
Each package is fetched once with ``npm pack`` into ``build/vendor/``, checked against the pinned
sha512 integrity, and only the files the pages load are unpacked.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
CACHE_DIR = PROJECT_ROOT / "build" / "vendor"


class VendorError(RuntimeError):
    """A vendored package could not be fetched or did not match its pin (the message says what to do)."""


@dataclass(frozen=True)
class NpmPackage:
    key: str  # folder under the site's assets/vendor/
    name: str
    version: str
    integrity: str  # the registry's dist.integrity for this version
    keep: tuple[str, ...]  # globs inside the tarball's package/dist/

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball(self) -> str:
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


HTML_MANAGER = NpmPackage(
    key="html-manager",
    name="@jupyter-widgets/html-manager",
    version="1.0.15",  # ipywidgets 8 (widget state version_major 2)
    integrity="sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
    # embed.js is the standalone renderer (no RequireJS); the fonts are its icon set, loaded beside it.
    keep=("embed.js", "embed.js.LICENSE.txt", "*.woff", "*.woff2", "*.ttf", "*.eot", "*.svg"),
)
MERMAID = NpmPackage(
    key="mermaid",
    name="mermaid",
    version="11.17.2",  # the major line MkDocs Material is written for (it would fetch mermaid@11)
    integrity="sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7LoaRQxULMa80/qt5gHO73aCleBBg==",
    # mermaid.min.js defines the global `mermaid`, which MkDocs Material renders diagrams with.
    keep=("mermaid.min.js",),
)
PACKAGES = (HTML_MANAGER, MERMAID)


def _integrity(path: Path) -> str:
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode()


def _npm_pack(pkg: NpmPackage, dest: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError(
            f"the site ships {pkg.spec} from the npm registry, fetched with npm, and npm is not installed: "
            "install Node.js (which brings npm), e.g. `apt-get install npm`, then build again")
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        proc = subprocess.run([npm, "pack", pkg.spec, "--json", "--pack-destination", tmp],
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise VendorError(f"`npm pack {pkg.spec}` failed (is the npm registry reachable?):\n{proc.stderr.strip()}")
        made = json.loads(proc.stdout)[0]["filename"]
        target = dest / pkg.tarball
        os.replace(Path(tmp) / made, target)
    return target


def tarball(pkg: NpmPackage, cache: Path = CACHE_DIR) -> Path:
    """The package's verified tarball, fetched with npm on first use."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / pkg.tarball
    if not path.exists():
        path = _npm_pack(pkg, cache)
    got = _integrity(path)
    if got != pkg.integrity:
        path.unlink()
        raise VendorError(f"{pkg.spec} from the registry does not match its pin ({got} != {pkg.integrity}); "
                          "the tarball was removed: build again, and if it persists check the pin in "
                          "wif_lab/docsite/vendor.py")
    return path


def unpacked(pkg: NpmPackage, cache: Path = CACHE_DIR) -> Path:
    """A folder holding only the files the pages load, plus a NOTICE naming the package and its licence."""
    folder = cache / f"{pkg.key}-{pkg.version}"
    if (folder / "NOTICE").exists():
        return folder
    source = tarball(pkg, cache)
    staging = Path(tempfile.mkdtemp(dir=cache, prefix=f".{pkg.key}-"))
    try:
        with tarfile.open(source) as tar:
            meta = json.load(tar.extractfile("package/package.json"))  # type: ignore[arg-type]
            for member in tar.getmembers():
                rel = member.name.removeprefix("package/dist/")
                if not member.isfile() or rel == member.name or not any(fnmatch.fnmatch(rel, g) for g in pkg.keep):
                    continue
                out = staging / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
        (staging / "NOTICE").write_text(
            f"{pkg.spec} from the npm registry ({pkg.integrity}); licence: {meta.get('license', 'see package')}.\n"
            f"Files kept from its dist/: {', '.join(pkg.keep)}\n")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def vendored(cache: Path = CACHE_DIR) -> dict[str, Path]:
    """Every pinned package, unpacked: site folder key → local folder."""
    return {pkg.key: unpacked(pkg, cache) for pkg in PACKAGES}
