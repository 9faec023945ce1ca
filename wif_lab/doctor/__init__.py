"""``wif-lab doctor``: check a real federation setup step by step and say what to fix, never showing a secret.

In a notebook, after the settings and the Anthropic objects::

    wl.doctor.run(rb, token_source=okta_client.token_provider())

From a shell, in the workload's environment: ``wif-lab doctor`` (see :mod:`wif_lab.doctor.cli`).
"""

from .report import FAIL, LAB_NOTE, OK, SKIPPED, WARN, Check, Report
from .run import run
from .sources import EnvSource, FileSource, ProviderSource

__all__ = ["FAIL", "LAB_NOTE", "OK", "SKIPPED", "WARN", "Check", "EnvSource", "FileSource", "ProviderSource",
           "Report", "run"]
