#!/usr/bin/env python3
"""Open JupyterLab on the notebooks for a workshop (installs JupyterLab on first use)."""

import os
import sys

from _bootstrap import answer_help, ensure, run

USAGE = """\
usage: python3 scripts/jupyterlab.py [JUPYTERLAB ARGUMENTS ...]

Open JupyterLab on notebooks/ for a workshop. Every notebook starts its own mock lab in its kernel,
so nothing else needs to run. Run as root (a container), --allow-root is added for you.

Arguments go to JupyterLab, e.g. `--port 8899 --no-browser` or `--ip 0.0.0.0` in a container. For
JupyterLab's own options, after the first run: .venv/bin/jupyter lab --help"""

if __name__ == "__main__":
    answer_help(sys.argv[1:], USAGE)
    py = ensure(["lab"])
    extra = []
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in sys.argv:
        # Workshop containers often run as root, and JupyterLab refuses to start as root without this.
        print("Running as root (a container?): starting JupyterLab with --allow-root.")
        extra.append("--allow-root")
    sys.exit(run(py, ["-m", "jupyterlab", "notebooks", *extra, *sys.argv[1:]]))
