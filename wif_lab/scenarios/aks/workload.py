"""The workload's own calls in notebook 03: hop 1 (Entra). The direct path's calls are in ``direct``."""

from __future__ import annotations

from pathlib import Path

from ...errors import WifLabError
from ...providers.aks import PodSettings, WorkloadIdentityClient
from ...runbook import Runbook
from .views import EntraOutcome


def workload_client(rb: Runbook, pod: PodSettings) -> WorkloadIdentityClient:
    """Hop 1's client for the pod, trusting what the runbook trusts (the lab CA, or ``ca_bundle``)."""
    return WorkloadIdentityClient(tenant_id=pod.tenant_id, client_id=pod.client_id, token_file=pod.token_file,
                                  scope=pod.scope, authority_host=pod.authority_host, verify=rb.verify)


def client_for(client: WorkloadIdentityClient, token_file: str | Path, client_id: str | None = None
               ) -> WorkloadIdentityClient:
    """The same workload, reading another token file (and, given, as another identity)."""
    return WorkloadIdentityClient(tenant_id=client.tenant_id, client_id=client_id or client.client_id,
                                  token_file=token_file, scope=client.scope, authority_host=client.authority,
                                  verify=client.verify)


def try_entra(client: WorkloadIdentityClient | None, title: str) -> EntraOutcome:
    """Run hop 1 and report Entra's answer instead of raising (``None`` client: a skipped lab step)."""
    if client is None:
        return EntraOutcome(title, "skipped", note="lab-only demonstration (skipped in live mode)")
    try:
        token = client.get_token()
    except WifLabError as exc:
        return EntraOutcome(title, "refused", error=exc)
    return EntraOutcome(title, "accepted", expires_in=token.expires_in, claims=token.claims(),
                        token=token.access_token)


def entra_token(client: WorkloadIdentityClient | None) -> str | None:
    """Hop 1 for a demonstration workload; ``None`` when the step was skipped."""
    return client.get_token().access_token if client is not None else None

