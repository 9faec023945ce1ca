"""The AKS wiring: the lab's Kubernetes cluster joined to the lab's Entra tenant.

What AKS with workload identity adds to a plain cluster, set up once both exist (Entra first): the
guide's ``inference/claude-inference`` service account annotated with the ``claude-inference`` identity's
client ID, the webhook's environment (tenant ID, the lab's Entra as authority host), the default scope
the connection file names, and on Entra's side the guide's federated identity credential trusting that
service account. The cluster learns these as plain values and Entra never hears of clusters, so the
dependency points one way: this module reads Entra's live tenant, neither mock imports the other.
"""

from __future__ import annotations

from typing import Any

from .base import LabContext, MockSpec
from .entra import EntraMock
from .kubernetes import KubernetesMock

DEFAULT_IDENTITY = "claude-inference"  # the user-assigned identity the guide's pod runs as
DEFAULT_CREDENTIAL = "aks-claude-inference"  # its federated credential for the cluster's service account
DEFAULT_APP = "claude-api-federation"  # the resource app whose scope the connection file names


def aks_cluster(ctx: LabContext, entra: EntraMock | None = None, **options: Any) -> KubernetesMock:
    """Build the cluster for ``entra`` (default: the ``entra`` mock already in ``ctx.mocks``) and trust it.

    ``options`` go to :class:`KubernetesMock` (``refresh_fraction``, ``kubelet_poll_seconds``).
    """
    if entra is None:
        found = ctx.mocks.get("entra")
        if not isinstance(found, EntraMock):
            raise RuntimeError("the AKS cluster is wired to the lab's Entra tenant: build the entra mock first")
        entra = found
    tenant = entra.tenant
    identity = tenant.identities.get(DEFAULT_IDENTITY)
    app = tenant.apps.get(DEFAULT_APP)
    cluster = KubernetesMock(
        ctx,
        tenant_id=entra.tenant_id,
        client_id=identity.client_id if identity else None,
        authority_host=f"{entra.base_url}/",  # trailing slash, as AKS sets the public one
        default_scope=f"{app.identifier_uris[0]}/.default" if app and app.identifier_uris else "",
        **options,
    )
    if identity is not None:  # the guide's setup: the identity trusts the cluster's default service account
        entra.add_federated_credential(
            DEFAULT_IDENTITY, name=DEFAULT_CREDENTIAL, issuer=cluster.issuer,
            subject=cluster.default_pod.service_account.subject,
        )
    return cluster


def _build(ctx: LabContext) -> KubernetesMock:
    return aks_cluster(ctx, kubelet_poll_seconds=30.0)  # the kubelet refreshes tokens at 80 % of life


SPEC = MockSpec("kubernetes", "https", factory=_build, requires=("entra",))
