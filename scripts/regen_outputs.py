#!/usr/bin/env python3
"""Regenerate the committed notebook outputs (nbval's reference) against the mocks.

The only sanctioned way to change committed outputs: it executes each notebook in place with a
fresh kernel and the embedded mock stack, then normalises metadata so diffs show real changes.
Review the resulting `git diff notebooks/` like code.
"""

import argparse
import sys

from _bootstrap import FIRST_RUN, ensure, run


def build_parser() -> argparse.ArgumentParser:
    """The arguments of `wif-lab notebooks regen`, answered before any install."""
    parser = argparse.ArgumentParser(prog="python3 scripts/regen_outputs.py", description=__doc__, epilog=FIRST_RUN,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="names or prefixes, e.g. 01_okta (default: all)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    return parser


if __name__ == "__main__":
    build_parser().parse_args()
    py = ensure([])
    sys.exit(run(py, ["-m", "wif_lab.cli", "notebooks", "regen", *sys.argv[1:]]))
