"""The documentation site: MkDocs Material pages built from the committed, executed notebooks.

``python3 scripts/build_site.py`` builds it into ``build/site/`` (see ``__main__``); ``mkdocs.yml`` at
the project root configures it, ``hooks`` adds the README as the first page and the vendored browser
code, and ``vendor`` fetches that code (html-manager for widgets, Mermaid for diagrams) with npm.
"""
