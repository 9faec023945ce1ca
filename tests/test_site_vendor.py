"""The site's vendored browser code: pinned by integrity, only the listed files unpacked, clear errors."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from wif_lab.docsite import vendor
from wif_lab.docsite.vendor import NpmPackage, VendorError, tarball, unpacked


def _make_tarball(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _package(tmp_path: Path, integrity: str | None = None) -> NpmPackage:
    files = {"package.json": json.dumps({"name": "demo", "license": "MIT"}).encode(),
             "dist/app.js": b"console.log(1)", "dist/app.js.map": b"{}", "dist/fonts/a.woff2": b"font",
             "src/app.ts": b"x"}
    pkg = NpmPackage(key="demo", name="@scope/demo", version="1.2.3", integrity="", keep=("app.js", "fonts/*"))
    _make_tarball(tmp_path / pkg.tarball, files)
    real = vendor._integrity(tmp_path / pkg.tarball)
    return NpmPackage(**{**pkg.__dict__, "integrity": integrity or real})


def test_only_the_kept_dist_files_are_unpacked_with_a_notice(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    folder = unpacked(pkg, tmp_path)
    got = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert got == ["NOTICE", "app.js", "fonts/a.woff2"]
    notice = (folder / "NOTICE").read_text()
    assert "@scope/demo@1.2.3" in notice and "MIT" in notice and pkg.integrity in notice


def test_a_tarball_that_does_not_match_its_pin_is_refused_and_removed(tmp_path: Path) -> None:
    pkg = _package(tmp_path, integrity="sha512-" + "A" * 86 + "==")
    with pytest.raises(VendorError, match="does not match its pin"):
        tarball(pkg, tmp_path)
    assert not (tmp_path / pkg.tarball).exists()


def test_without_npm_the_error_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vendor.shutil, "which", lambda _name: None)
    with pytest.raises(VendorError, match=r"install Node\.js"):
        tarball(vendor.MERMAID, tmp_path)


def test_the_pins_name_the_files_the_site_loads() -> None:
    assert "embed.js" in vendor.HTML_MANAGER.keep and "mermaid.min.js" in vendor.MERMAID.keep
    for pkg in vendor.PACKAGES:
        assert pkg.integrity.startswith("sha512-") and pkg.version.count(".") == 2
