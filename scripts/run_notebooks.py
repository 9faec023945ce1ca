#!/usr/bin/env python3
"""README command 1: set up, then run every notebook headless against the built-in mocks.

Executed notebooks are written under build/notebooks/. Extra arguments go to
`wif-lab notebooks run` (for example `-p mode live` for a runbook run, or a notebook name).
"""

import sys

from _bootstrap import ensure, run

if __name__ == "__main__":
    py = ensure([])
    sys.exit(run(py, ["-m", "wif_lab.cli", "notebooks", "run", *sys.argv[1:]]))
