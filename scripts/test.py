#!/usr/bin/env python3
"""README command 2: set up, then run the whole test suite (unit tests, nbval on the notebooks, browser tests)."""

import sys

from _bootstrap import ROOT, ensure, run

if __name__ == "__main__":
    py = ensure(["test", "clients"])
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb"))
    args = [
        "-m", "pytest", "tests", *notebooks,
        "--nbval", "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
        "-n", "2", "--dist", "loadscope",
        *sys.argv[1:],
    ]
    sys.exit(run(py, args))
