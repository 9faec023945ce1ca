"""Lab-only helpers the notebooks use to set up demonstrations (second apps, org-server tokens).

Each returns ``None`` in live mode: a runbook against a real organization never provokes failures
or creates look-alike apps.
"""
