#!/usr/bin/env python3
"""README command 1: set up, then run every notebook headless against the built-in mocks.

Executed notebooks are written under build/notebooks/ (a failed one is kept there for reading).
The arguments are those of `wif-lab notebooks run`; `-p mode live` plus the notebook's parameters
runs it as a runbook against your real setup (see README.md).
"""

import argparse
import importlib.util
import sys
from pathlib import Path

from _bootstrap import FIRST_RUN, ensure, run

# wif_lab.parameters uses only the standard library: load it by path, before anything is installed.
_spec = importlib.util.spec_from_file_location(
    "_wif_lab_parameters", Path(__file__).resolve().parent.parent / "wif_lab" / "parameters.py")
parameters = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(parameters)


def build_parser() -> argparse.ArgumentParser:
    """The arguments of `wif-lab notebooks run`, so --help and mistakes are answered before any install."""
    parser = argparse.ArgumentParser(prog="python3 scripts/run_notebooks.py", description=__doc__, epilog=FIRST_RUN,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="names or prefixes, e.g. 01_okta (default: all)")
    parameters.add_parameter_option(parser, "a parameter of the notebooks' parameters cell, e.g. -p mode live "
                                    "(repeatable; an unknown name stops the run before anything executes)")
    parser.add_argument("--output-dir", help="where executed notebooks go (default build/notebooks)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    return parser


if __name__ == "__main__":
    build_parser().parse_args(parameters.bind_parameter_pairs(sys.argv[1:]))
    py = ensure([])
    sys.exit(run(py, ["-m", "wif_lab.cli", "notebooks", "run", *sys.argv[1:]]))
