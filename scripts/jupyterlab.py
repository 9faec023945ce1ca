#!/usr/bin/env python3
"""Open JupyterLab on the notebooks for a workshop (installs JupyterLab on first use)."""

import os
import sys

from _bootstrap import ensure, run

if __name__ == "__main__":
    py = ensure(["lab"])
    extra = []
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in sys.argv:
        # Workshop containers often run as root, and JupyterLab refuses to start as root without this.
        print("Running as root (a container?): starting JupyterLab with --allow-root.")
        extra.append("--allow-root")
    sys.exit(run(py, ["-m", "jupyterlab", "notebooks", *extra, *sys.argv[1:]]))
