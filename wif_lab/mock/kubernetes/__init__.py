"""The lab's Kubernetes clusters: the AKS one joined to Entra, and a self-managed (kubeadm-style) one.

- :mod:`.cluster`: the service-account objects, projected volumes, the kubelet, token minting, and the
  AKS cluster (:class:`KubernetesMock`, wired to Entra by :mod:`wif_lab.mock.aks`);
- :mod:`.errors`: the API server's ``Status`` refusals;
- :mod:`.self_managed`: a plain cluster whose issuer is not public (the Kubernetes guide's case), its API
  server's discovery, JWKS and TokenRequest routes, and its ``SPEC``.

The AKS names stay importable from here, as they were when this was one module.
"""

from .cluster import (
    ANTHROPIC_AUDIENCE,
    ANTHROPIC_VOLUME,
    AZURE_VOLUME,
    CLIENT_ID_ANNOTATION,
    DEFAULT_EXPIRATION,
    DEFAULT_NAMESPACE,
    DEFAULT_SERVICE_ACCOUNT,
    MAX_REFRESH_AGE,
    POD_MOUNT_ROOT,
    PUBLIC_AUTHORITY_HOST,
    REFRESH_FRACTION,
    SIGNING_KEY,
    TOKEN_EXCHANGE_AUDIENCE,
    VOLUME_PATHS,
    WEBHOOK_EXPIRATION_RANGE,
    KubernetesMock,
    Pod,
    ProjectedVolume,
    ServiceAccount,
    key_id,
)

__all__ = [
    "ANTHROPIC_AUDIENCE", "ANTHROPIC_VOLUME", "AZURE_VOLUME", "CLIENT_ID_ANNOTATION", "DEFAULT_EXPIRATION",
    "DEFAULT_NAMESPACE", "DEFAULT_SERVICE_ACCOUNT", "MAX_REFRESH_AGE", "POD_MOUNT_ROOT", "PUBLIC_AUTHORITY_HOST",
    "REFRESH_FRACTION", "SIGNING_KEY", "TOKEN_EXCHANGE_AUDIENCE", "VOLUME_PATHS", "WEBHOOK_EXPIRATION_RANGE",
    "KubernetesMock", "Pod", "ProjectedVolume", "ServiceAccount", "key_id",
]
