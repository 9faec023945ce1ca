#!/usr/bin/env python3
"""Open JupyterLab on the notebooks for a workshop (installs JupyterLab on first use)."""

import sys

from _bootstrap import ensure, run

if __name__ == "__main__":
    py = ensure(["lab"])
    sys.exit(run(py, ["-m", "jupyterlab", "notebooks", *sys.argv[1:]]))
