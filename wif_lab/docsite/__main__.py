"""Build the documentation site: ``python -m wif_lab.docsite [--output DIR] [--notebooks DIR]``.

Runs MkDocs' own command line (``mkdocs build --strict`` with the project's mkdocs.yml), so what is
built here is what ``mkdocs serve`` previews and ``mkdocs gh-deploy`` publishes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from .hooks import PROJECT_ROOT

DEFAULT_OUTPUT = PROJECT_ROOT / "build" / "site"
DEFAULT_NOTEBOOKS = PROJECT_ROOT / "notebooks"


def build(output: Path = DEFAULT_OUTPUT, notebooks: Path = DEFAULT_NOTEBOOKS) -> int:
    env = {**os.environ, "WIF_LAB_SITE_NOTEBOOKS": str(notebooks.resolve())}
    env.setdefault("NO_MKDOCS_2_WARNING", "1")  # Material's end-of-life banner on every build
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-q",
           "-f", str(PROJECT_ROOT / "mkdocs.yml"), "-d", str(output.resolve())]
    t0 = time.perf_counter()
    code = subprocess.call(cmd, cwd=PROJECT_ROOT, env=env)
    seconds = time.perf_counter() - t0
    if code != 0:
        print(f"Site build FAILED after {seconds:.1f} s (MkDocs' message above says why).")
        return code
    pages = sorted(p.name for p in output.glob("*.html") if p.name not in ("404.html",))
    print(f"Built {len(pages)} pages in {seconds:.1f} s → {_rel(output)}/ ({', '.join(pages)})")
    print(f"Preview: python3 -m http.server -d {_rel(output)} 8000   (then open http://127.0.0.1:8000/)")
    return 0


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="build_site", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where the site goes (default build/site)")
    parser.add_argument("--notebooks", type=Path, default=DEFAULT_NOTEBOOKS,
                        help="folder of executed notebooks to publish (default notebooks/)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return build(args.output, args.notebooks)


if __name__ == "__main__":
    sys.exit(main())
