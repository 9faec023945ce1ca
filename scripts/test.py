#!/usr/bin/env python3
"""README command 2: set up, then run the whole test suite (unit tests, the site build, nbval, browser tests)."""

import sys

from _bootstrap import ROOT, answer_help, ensure, run

USAGE = """\
usage: python3 scripts/test.py [PYTEST ARGUMENTS ...]

README command 2: run the whole test suite exactly as CI does: the unit tests, the site build, and nbval (strict,
with tests/nbval_sanitize.cfg) on every committed notebook, on 2 workers.

Arguments after the script's name go to pytest after those defaults, e.g. `-k okta`, `-x`, or
`-n 0` for one process. For pytest's own options, after the first run:
.venv/bin/python -m pytest --help"""

if __name__ == "__main__":
    answer_help(sys.argv[1:], USAGE)
    py = ensure(["test", "clients", "docs"])
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb"))
    args = [
        "-m", "pytest", "tests", *notebooks,
        "--nbval", "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
        # loadscope keeps a module's tests on one worker (they share a module's lab, JupyterLab or browser);
        # conftest.py hands the longest scopes out first, in place of xdist's reordering by test count.
        "-n", "2", "--dist", "loadscope", "--no-loadscope-reorder",
        *sys.argv[1:],
    ]
    sys.exit(run(py, args))
