#!/usr/bin/env python3
"""Regenerate the committed notebook outputs (nbval's reference) against the mocks.

The only sanctioned way to change committed outputs: it executes each notebook in place with a
fresh kernel and the embedded mock stack, then normalises metadata so diffs show real changes.
Review the resulting `git diff notebooks/` like code.
"""

import sys

from _bootstrap import ensure, run

if __name__ == "__main__":
    py = ensure([])
    sys.exit(run(py, ["-m", "wif_lab.cli", "notebooks", "regen", *sys.argv[1:]]))
