#!/usr/bin/env python3
"""Build the documentation site from the committed notebooks into build/site/ (installs MkDocs on first use).

The notebooks are rendered with the outputs they were committed with (never re-executed); the widget
and diagram scripts are fetched once from the npm registry with npm and shipped inside the site.
"""

import argparse
import sys
from pathlib import Path

from _bootstrap import FIRST_RUN, ensure, run


def build_parser() -> argparse.ArgumentParser:
    """The arguments of `python -m wif_lab.docsite`, so --help and mistakes are answered before any install."""
    parser = argparse.ArgumentParser(prog="python3 scripts/build_site.py", description=__doc__, epilog=FIRST_RUN,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, help="where the site goes (default build/site)")
    parser.add_argument("--notebooks", type=Path, help="folder of executed notebooks to publish (default notebooks/)")
    return parser


if __name__ == "__main__":
    build_parser().parse_args()
    py = ensure(["docs"])
    sys.exit(run(py, ["-m", "wif_lab.docsite", *sys.argv[1:]]))
