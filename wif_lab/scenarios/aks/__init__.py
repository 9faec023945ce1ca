"""AKS with Entra Workload ID (notebook 03): what the pod sees, the federated credential Entra matches, and the
look-alike workloads the troubleshooting and scoping cells present.

- ``views``: the tables (data in, :class:`~wif_lab.display.Table` out, no I/O);
- ``workload``: the workload's own calls (hop 1 to Entra);
- ``direct``: the direct path (section 14), its parameters and calls, the same in mock and live mode;
- ``lab``: lab-side set-up through the lab's ``/lab/…`` routes only, so it works attached to `wif-lab mock serve`
  as well as embedded.

The pod's settings (``pod_settings``) live with the workload code in :mod:`wif_lab.providers.aks`, since live
mode needs them too; they are re-exported here for the notebook. Demonstration helpers return ``None`` (or a
:class:`~wif_lab.runbook.Note`) in live mode: a runbook on a real cluster never creates service accounts or
federated credentials, and never presents a token it knows will be refused.
"""

from __future__ import annotations

from ...providers.aks import PodSettings, pod_settings, shown_path
from .direct import DirectPath, direct_settings
from .direct import exchange as direct_exchange
from .direct import run_example as direct_example
from .direct import sdk_call as direct_sdk_call
from .lab import (
    OTHER_WORKLOAD,
    SECOND_SERVICE_ACCOUNT,
    direct_token,
    entra_received,
    lab_only,
    other_workload,
    rotate,
    second_workload,
    stale_copy,
    trust_subject,
    with_token_file,
)
from .views import (
    WRAP,
    EntraOutcome,
    cluster_objects,
    credential_check,
    hop1_request,
    lifetime_table,
    projected_token_facts,
    token_change,
)
from .workload import client_for, entra_token, try_entra, workload_client

__all__ = [
    "OTHER_WORKLOAD", "SECOND_SERVICE_ACCOUNT", "WRAP", "DirectPath", "EntraOutcome", "PodSettings", "client_for",
    "cluster_objects", "credential_check", "direct_example", "direct_exchange", "direct_sdk_call", "direct_settings",
    "direct_token", "entra_received", "entra_token", "hop1_request",
    "lab_only", "lifetime_table", "other_workload", "pod_settings", "projected_token_facts", "rotate",
    "second_workload", "shown_path", "stale_copy", "token_change", "trust_subject", "try_entra", "with_token_file",
    "workload_client",
]
