"""Mock AKS cluster: its OIDC issuer and the kubelet's projected service-account tokens.

Follows Kubernetes "Service account token volume projection" and "Service account issuer discovery"
(the API server's ``/.well-known/openid-configuration`` and ``/openid/v1/jwks``), as AKS publishes
them at its OIDC issuer URL, and the ``azure-workload-identity`` webhook's conventions, as recorded
in ``shared/reference/azure.md`` §4.5:

- the issuer is ``https://<region>.oic.prod-aks.azure.com/<tenant-id>/<cluster-guid>/`` — **with**
  its trailing slash, which every federated credential must repeat; here ``<base>/<tid>/<cluster>/``;
- discovery at ``<issuer>.well-known/openid-configuration`` names ``<issuer>openid/v1/jwks``; the
  JWKS key id is Kubernetes's own: base64url SHA-256 of the DER public key;
- a projected token: header ``{"alg":"RS256","kid":…}`` (no ``typ``), claims ``aud`` (an array),
  ``exp``, ``iat``, ``iss``, ``jti``, ``kubernetes.io`` {namespace, node, pod, serviceaccount},
  ``nbf``, ``sub`` = ``system:serviceaccount:<ns>:<sa>``; ``jti`` and ``node`` as Kubernetes ≥ 1.29;
- the kubelet writes each projected token to its file and replaces it once the token is older than
  80 % of its lifetime (or 24 h); the replacement is atomic (real kubelet swaps a ``..data``
  symlink; here a rename), so a reader never sees half a token;
- the webhook injects ``AZURE_CLIENT_ID`` (from the service account's
  ``azure.workload.identity/client-id`` annotation), ``AZURE_TENANT_ID``, ``AZURE_AUTHORITY_HOST``
  and ``AZURE_FEDERATED_TOKEN_FILE`` (``/var/run/secrets/azure/tokens/azure-identity-token``,
  audience ``api://AzureADTokenExchange``, 3600 s by default, 3600–86400 allowed).

The cluster knows its tenant, the annotated client ID, the authority host and the default scope only as
plain values it is given; :mod:`wif_lab.mock.aks` wires them from the lab's Entra tenant (and gives Entra
the guide's federated credential), so this module imports nothing from Entra.

Lab deviations: token files live under ``<state_dir>/kubernetes/<ns>/<sa>/`` with the real file
names (``azure/tokens/azure-identity-token``, ``anthropic.com/token``); one pod per service account;
``POST /lab/rotate`` (lab only) makes the kubelet refresh every token now. On a shared lab each attendee works in
namespaces of their own (``<attendee>-inference``, …; see :mod:`.lab_routes`) and their rotation refreshes only
their own pods' files. The kubelet itself (refresh points, the background sync) is :mod:`.kubelet`, shared with
the self-managed cluster.
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from ...oauth import (
    ENTRA_TOKEN_EXCHANGE_AUDIENCE as TOKEN_EXCHANGE_AUDIENCE,  # Entra's fixed audience for incoming k8s tokens
)
from ..base import LabContext, seeded_guid
from ..errors import EXCEPTION_HANDLERS
from ..keys import PrivateKey, public_jwk
from ..tls import write_atomic
from .kubelet import Kubelet
from .lab_routes import lab_routes

ANTHROPIC_AUDIENCE = "https://api.anthropic.com"  # the direct path (Kubernetes guide)
DEFAULT_EXPIRATION = 3600
WEBHOOK_EXPIRATION_RANGE = (3600, 86400)  # azure.workload.identity/service-account-token-expiration
REFRESH_FRACTION = 0.8  # kubelet replaces a token older than 80 % of its lifetime…
MAX_REFRESH_AGE = 24 * 3600  # …or older than 24 h
PUBLIC_AUTHORITY_HOST = "https://login.microsoftonline.com/"  # what AKS injects as AZURE_AUTHORITY_HOST

CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
AZURE_VOLUME = "azure-identity-token"
ANTHROPIC_VOLUME = "anthropic-token"
# Where the files sit inside the pod (/var/run/secrets/…) and, under the lab's state dir, here.
VOLUME_PATHS = {AZURE_VOLUME: "azure/tokens/azure-identity-token", ANTHROPIC_VOLUME: "anthropic.com/token"}
POD_MOUNT_ROOT = "/var/run/secrets"

SIGNING_KEY = "aks-service-account-signer"
DEFAULT_NAMESPACE, DEFAULT_SERVICE_ACCOUNT = "inference", "claude-inference"


def key_id(key: PrivateKey) -> str:
    """Kubernetes's ``kid``: base64url (unpadded) SHA-256 of the DER-encoded public key."""
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def api_server_discovery(issuer: str, jwks_uri: str) -> dict[str, Any]:
    """An API server's discovery document, as kube-apiserver (and AKS) publish it: five members, nothing else."""
    return {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }


# --- the cluster's objects -------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceAccount:
    namespace: str
    name: str
    uid: str
    annotations: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @property
    def client_id(self) -> str | None:
        """The user-assigned identity the webhook will name in ``AZURE_CLIENT_ID``."""
        return self.annotations.get(CLIENT_ID_ANNOTATION)


@dataclass(repr=False)
class ProjectedVolume:
    """One ``serviceAccountToken`` projection: an audience, a lifetime and the file the kubelet keeps."""

    name: str
    audience: str
    expiration_seconds: int
    path: Path
    token: str = ""
    claims: dict[str, Any] = field(default_factory=dict)
    rotations: int = 0

    @property
    def pod_path(self) -> str:
        return f"{POD_MOUNT_ROOT}/{VOLUME_PATHS.get(self.name, self.name)}"

    def due(self, now: float, fraction: float) -> bool:
        iat = int(self.claims.get("iat", 0))
        age = now - iat
        return age >= fraction * self.expiration_seconds or age >= MAX_REFRESH_AGE

    def __repr__(self) -> str:
        return (f"ProjectedVolume({self.name!r}, aud={self.audience!r}, path={str(self.path)!r}, "
                f"jti={self.claims.get('jti')!r}, iat={self.claims.get('iat')!r})")


@dataclass
class Pod:
    name: str
    uid: str
    service_account: ServiceAccount
    node_name: str
    node_uid: str
    volumes: dict[str, ProjectedVolume] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.service_account.namespace


# --- the mock ---------------------------------------------------------------------------------


class KubernetesMock(Kubelet):
    """One AKS cluster with its OIDC issuer; by default the guide's ``inference/claude-inference``."""

    name = "kubernetes"
    connection_section = "aks"  # the connection file lists the lab pod under `aks`

    def __init__(
        self,
        ctx: LabContext,
        *,
        tenant_id: str,
        client_id: str | None = None,
        authority_host: str = PUBLIC_AUTHORITY_HOST,
        default_scope: str = "",
        refresh_fraction: float = REFRESH_FRACTION,
        kubelet_poll_seconds: float | None = None,
    ) -> None:
        if not 0 < refresh_fraction <= 1:
            raise ValueError("refresh_fraction must be in (0, 1]")
        self.ctx = ctx
        self.base_url = ctx.base_url(self.name)
        self.tenant_id = tenant_id  # the Entra tenant the cluster's subscription lives in
        self.authority_host = authority_host  # what the webhook injects as AZURE_AUTHORITY_HOST
        self.default_scope = default_scope  # the scope a workload asks Entra for (connection file only)
        self.cluster_id = seeded_guid(ctx.seed, "aks:cluster")
        self.issuer = f"{self.base_url}/{self.tenant_id}/{self.cluster_id}/"
        self.root = ctx.runtime_dir / "kubernetes"
        self.refresh_fraction = refresh_fraction
        self._lock = threading.RLock()
        self._rng = random.Random(f"{ctx.seed}:kubernetes")
        self._key = ctx.keys.private_key(SIGNING_KEY)
        self.kid = key_id(self._key)
        self._service_accounts: dict[tuple[str, str], ServiceAccount] = {}
        self._pods: dict[tuple[str, str], Pod] = {}
        self.node_name = f"aks-nodepool1-{self._rng.randrange(10**7, 10**8)}-vmss000000"
        self.node_uid = self._uid("node")
        self.jwks_fetches = 0  # how often a relying party fetched the keys
        self._owners: dict[str, str] = {}  # namespace -> the shared lab's attendee who made it

        sa = self.add_service_account(DEFAULT_NAMESPACE, DEFAULT_SERVICE_ACCOUNT, client_id=client_id)
        self.default_pod = self.deploy(sa)
        if kubelet_poll_seconds:
            self.start_kubelet(kubelet_poll_seconds)

    def _uid(self, label: str) -> str:
        return seeded_guid(self.ctx.seed, f"aks:{self.cluster_id}:{label}")

    # -- issuer documents

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}.well-known/openid-configuration"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}openid/v1/jwks"

    def discovery(self) -> dict[str, Any]:
        return api_server_discovery(self.issuer, self.jwks_uri)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self._key, self.kid, "RS256")]}

    # -- cluster objects (what kubectl apply would change)

    def add_service_account(self, namespace: str, name: str, *, client_id: str | None = None) -> ServiceAccount:
        """Create a ServiceAccount; ``client_id`` becomes its ``azure.workload.identity/client-id``."""
        with self._lock:
            if (namespace, name) in self._service_accounts:
                raise ValueError(f"service account {namespace}/{name} already exists")
            annotations = {CLIENT_ID_ANNOTATION: client_id} if client_id else {}
            sa = ServiceAccount(namespace, name, self._uid(f"sa:{namespace}:{name}"), annotations)
            self._service_accounts[(namespace, name)] = sa
            return sa

    def service_account(self, namespace: str, name: str) -> ServiceAccount:
        return self._service_accounts[(namespace, name)]

    def deploy(
        self,
        service_account: ServiceAccount,
        *,
        expiration_seconds: int = DEFAULT_EXPIRATION,
        anthropic_token: bool = True,
    ) -> Pod:
        """Run a pod as ``service_account`` labelled ``azure.workload.identity/use: "true"``: the webhook
        adds the Entra token volume; ``anthropic_token`` adds the direct path's volume. Files are
        written at once, as the kubelet does before the container starts."""
        low, high = WEBHOOK_EXPIRATION_RANGE
        if not low <= expiration_seconds <= high:
            raise ValueError(f"service-account-token-expiration must be within {low}..{high} seconds")
        sa = service_account
        with self._lock:
            if (sa.namespace, sa.name) in self._pods:
                raise ValueError(f"a pod for {sa.namespace}/{sa.name} is already running")
            suffix = "".join(self._rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            template = f"{self._rng.randrange(16**9, 16**10):x}"[:10]
            pod = Pod(f"{sa.name}-{template}-{suffix}", self._uid(f"pod:{sa.namespace}:{sa.name}"), sa,
                      self.node_name, self.node_uid)
            folder = self.root / sa.namespace / sa.name
            wanted = {AZURE_VOLUME: TOKEN_EXCHANGE_AUDIENCE}
            if anthropic_token:
                wanted[ANTHROPIC_VOLUME] = ANTHROPIC_AUDIENCE
            for volume, audience in wanted.items():
                pod.volumes[volume] = ProjectedVolume(volume, audience, expiration_seconds,
                                                      folder / VOLUME_PATHS[volume])
            self._pods[(sa.namespace, sa.name)] = pod
            for volume in pod.volumes.values():
                self._write(pod, volume)
            return pod

    def pod(self, namespace: str, service_account: str) -> Pod:
        return self._pods[(namespace, service_account)]

    def pods(self) -> list[Pod]:
        with self._lock:
            return list(self._pods.values())

    # -- a shared lab's attendees: namespaces of their own

    def claim(self, namespace: str, attendee: str) -> None:
        """Record ``namespace`` as ``attendee``'s (a shared lab gives each attendee ``<attendee>-…`` namespaces).

        ValueError when the namespace is not named after the attendee or another attendee holds it.
        """
        if not namespace.startswith(f"{attendee}-"):
            raise ValueError(f"namespace {namespace!r} is not {attendee!r}'s: an attendee's start with '{attendee}-'")
        with self._lock:
            owner = self._owners.setdefault(namespace, attendee)
        if owner != attendee:
            raise ValueError(f"namespace {namespace!r} belongs to another attendee")

    def pods_of(self, attendee: str) -> list[Pod]:
        """The pods running in ``attendee``'s namespaces (what their "rotate" refreshes)."""
        with self._lock:
            return [pod for pod in self._pods.values() if self._owners.get(pod.namespace) == attendee]

    # -- tokens

    def mint(
        self,
        service_account: ServiceAccount,
        audience: str | list[str],
        *,
        pod: Pod | None = None,
        lifetime: int = DEFAULT_EXPIRATION,
        now: float | None = None,
        claims: dict[str, Any] | None = None,
        omit: tuple[str, ...] = (),
        signing_key: str | None = None,
    ) -> str:
        """A projected token as the API server's TokenRequest issues it.

        Lab-only knobs for teaching failures: ``claims`` override members, ``omit`` drops them, and
        ``signing_key`` names another KeyStore key (its kid is not in the cluster's JWKS).
        """
        iat = int(self.ctx.clock() if now is None else now)
        sa = service_account
        block: dict[str, Any] = {"namespace": sa.namespace}
        if pod is not None:
            block["node"] = {"name": pod.node_name, "uid": pod.node_uid}
            block["pod"] = {"name": pod.name, "uid": pod.uid}
        block["serviceaccount"] = {"name": sa.name, "uid": sa.uid}
        body: dict[str, Any] = {
            "aud": [audience] if isinstance(audience, str) else list(audience),
            "exp": iat + lifetime,
            "iat": iat,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": block,
            "nbf": iat,
            "sub": sa.subject,
        }
        body.update(claims or {})
        for name in omit:
            body.pop(name, None)
        key = self._key if signing_key is None else self.ctx.keys.private_key(signing_key)
        assert isinstance(key, rsa.RSAPrivateKey)
        return jwt.encode(body, key, algorithm="RS256", headers={"kid": key_id(key), "typ": None})

    def _volumes(self, pod: Pod) -> list[ProjectedVolume]:
        return list(pod.volumes.values())

    def _write(self, pod: Pod, volume: ProjectedVolume, now: float | None = None) -> None:
        token = self.mint(pod.service_account, volume.audience, pod=pod, lifetime=volume.expiration_seconds,
                          now=now)
        write_atomic(volume.path, token.encode(), 0o644)  # no trailing newline, as kubelet writes it
        volume.token = token
        volume.claims = jwt.decode(token, options={"verify_signature": False})

    # -- HTTP

    def _ours(self, request: Request) -> bool:
        return (request.path_params["tenant"], request.path_params["cluster"]) == (self.tenant_id, self.cluster_id)

    async def discovery_endpoint(self, request: Request) -> JSONResponse | PlainTextResponse:
        if not self._ours(request):
            return PlainTextResponse("The specified resource does not exist.", status_code=404)
        return JSONResponse(self.discovery())

    async def jwks_endpoint(self, request: Request) -> JSONResponse | PlainTextResponse:
        if not self._ours(request):
            return PlainTextResponse("The specified resource does not exist.", status_code=404)
        self.jwks_fetches += 1
        return JSONResponse(self.jwks())

    async def lab_rotate(self, request: Request) -> JSONResponse:
        attendee = request.path_params.get("attendee")
        rotated = self.rotate(pods=self.pods_of(attendee)) if attendee is not None else self.rotate()
        return JSONResponse({"rotated": [
            {"path": str(v.path), "audience": v.audience, "jti": v.claims["jti"], "iat": v.claims["iat"]}
            for v in rotated
        ]})

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/{tenant}/{cluster}/.well-known/openid-configuration", self.discovery_endpoint,
                      methods=["GET"]),
                Route("/{tenant}/{cluster}/openid/v1/jwks", self.jwks_endpoint, methods=["GET"]),
                Route("/lab/rotate", self.lab_rotate, methods=["POST"]),
                *lab_routes(self),
            ],
            exception_handlers=EXCEPTION_HANDLERS,
        )

    def webhook_env(self, pod: Pod | None = None) -> dict[str, str]:
        """The variables the workload-identity webhook injects into ``pod``'s containers.

        ``AZURE_AUTHORITY_HOST`` is the authority host the cluster was given (the lab's Entra, with a
        trailing slash as AKS sets the public one); ``AZURE_FEDERATED_TOKEN_FILE`` is the lab path of the
        token file.
        """
        pod = pod or self.default_pod
        return {
            "AZURE_AUTHORITY_HOST": self.authority_host,
            "AZURE_CLIENT_ID": pod.service_account.client_id or "",
            "AZURE_FEDERATED_TOKEN_FILE": str(pod.volumes[AZURE_VOLUME].path),
            "AZURE_TENANT_ID": self.tenant_id,
        }

    def connection(self, pod: Pod | None = None, *, attendee: str | None = None) -> dict[str, Any]:
        """The ``aks`` section for ``pod`` (default: the guide's); on a shared lab, for an attendee's own pod,
        with the lab URLs that act on the attendee's namespaces only."""
        pod = pod or self.default_pod
        sa = pod.service_account
        lab = f"{self.base_url}/lab/attendees/{attendee}" if attendee else f"{self.base_url}/lab"
        return {
            "base_url": self.base_url,
            "issuer": self.issuer,
            "discovery_url": self.discovery_url,
            "jwks_uri": self.jwks_uri,
            "tenant_id": self.tenant_id,
            "cluster_id": self.cluster_id,
            "service_account": f"{sa.namespace}/{sa.name}",
            "subject": sa.subject,
            "pod": pod.name,
            "audience": TOKEN_EXCHANGE_AUDIENCE,
            "token_file": str(pod.volumes[AZURE_VOLUME].path),
            "anthropic_audience": ANTHROPIC_AUDIENCE,
            "anthropic_token_file": str(pod.volumes[ANTHROPIC_VOLUME].path),
            "scope": self.default_scope,
            "env": self.webhook_env(pod),
            "rotate_url": f"{lab}/rotate",
            "pods_url": f"{lab}/pods",
        }
