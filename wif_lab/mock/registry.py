"""The mocks a default lab starts, in start order: one line per provider.

Each entry names a module's ``SPEC`` (a :class:`~wif_lab.mock.base.MockSpec`); modules are imported only
when the list is read. A mock that reads another while being built says so in its ``requires``, and the
stack checks the order.
"""

from __future__ import annotations

import importlib

from .base import MockSpec

SPECS = [
    "wif_lab.mock.anthropic.service:SPEC",
    "wif_lab.mock.oidc:SPEC",
    "wif_lab.mock.okta:SPEC",
    "wif_lab.mock.entra:SPEC",
    "wif_lab.mock.aks:SPEC",  # the AKS cluster, wired to Entra's tenant
    "wif_lab.mock.azure_imds:SPEC",
    "wif_lab.mock.app_service_identity:SPEC",  # the hosting services' identity endpoint, plain http too
    "wif_lab.mock.spire:SPEC",  # SPIRE: OIDC Discovery Provider over https, the agent's Workload API on Unix sockets
    "wif_lab.mock.github_actions:SPEC",
    "wif_lab.mock.aws_sts:SPEC",  # AWS STS GetWebIdentityToken (outbound web identity federation)
    "wif_lab.mock.google.accounts:SPEC",  # Google's issuer (discovery, keys) on the lab's host
    "wif_lab.mock.google.metadata:SPEC",  # the GCE/GKE metadata server, plain http, signing with Google's keys
    "wif_lab.mock.kubernetes.self_managed:SPEC",  # a self-managed cluster, its issuer not public
]


def load_spec(reference: str) -> MockSpec:
    """The ``SPEC`` a ``"module:attribute"`` reference names."""
    module, _, attribute = reference.partition(":")
    spec = getattr(importlib.import_module(module), attribute or "SPEC")
    if not isinstance(spec, MockSpec):
        raise TypeError(f"{reference} is not a MockSpec")
    return spec


def default_specs() -> list[MockSpec]:
    return [load_spec(reference) for reference in SPECS]
