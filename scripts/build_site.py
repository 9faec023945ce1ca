#!/usr/bin/env python3
"""Build the documentation site from the committed notebooks into build/site/ (installs MkDocs on first use).

The notebooks are rendered with the outputs they were committed with (never re-executed); the widget
and diagram scripts are fetched once from the npm registry with npm and shipped inside the site.
Options: --output DIR, --notebooks DIR.
"""

import sys

from _bootstrap import ensure, run

if __name__ == "__main__":
    py = ensure(["docs"])
    sys.exit(run(py, ["-m", "wif_lab.docsite", *sys.argv[1:]]))
