"""A self-managed cluster (kubeadm, k3s, on-prem): its API server as an OIDC issuer nobody can reach.

Follows Kubernetes "Service account token volume projection", "Service account issuer discovery" and the
TokenRequest API (``shared/reference/providers.md`` §4), and the Claude Kubernetes guide's setup:

- the issuer is kubeadm's usual ``https://kubernetes.default.svc.cluster.local`` — a name only the
  cluster resolves, so Anthropic cannot fetch its keys: the guide registers it in **inline** mode with
  the keys ``kubectl get --raw /openid/v1/jwks`` prints. The API server still serves
  ``/.well-known/openid-configuration`` (``jwks_uri`` at its external address) and ``/openid/v1/jwks``
  (``application/jwk-set+json``; every verification key with ``alg``, ``kid``, ``use: sig``);
- ``POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`` (``kubectl create token``): audiences
  default to the API server's (``--api-audiences``, by default the issuer), ``expirationSeconds``
  defaults to 3600 and must be 600 … 2^32, else 422 ``Invalid``; a token bound to a pod
  (``boundObjectRef``) names the pod and its node;
- every pod gets the default ``kube-api-access`` token (``/var/run/secrets/kubernetes.io/serviceaccount/
  token``): audience the API server's, requested for 3607 s, which the API server stretches to a year
  (``--service-account-extend-token-expiration``, on by default) and marks with ``warnafter``;
- a projected ``serviceAccountToken`` volume has the audience and ``expirationSeconds`` (at least 600) the
  pod spec names; the kubelet rewrites it atomically once it is older than 80 % of its lifetime or 24 h;
- key rotation: the API server signs with one key and verifies (and publishes) every key it was given
  with ``--service-account-key-file``; the new key is added to that set first, the old one removed later.

Lab deviations: the API server answers on the lab's loopback address, not ``kubernetes.default.svc``;
its bearer tokens are the connection file's ``admin_token`` (the kubeconfig's) or a service-account token
of this cluster, and RBAC is fixed: the admin may do everything, service accounts may create no tokens.
Discovery and JWKS are open to anonymous callers. ``POST /lab/rotate`` makes the kubelet refresh every
token now; ``POST /lab/rotate-signing-key`` restarts the API server with a new signing key (lab only),
keeping the previous key published beside it — never more than those two, so a shared lab's JWKS stays
small, where a real API server publishes every ``--service-account-key-file`` it is given.
"""

from __future__ import annotations

import random
import re
import secrets
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ...jose import MalformedJWT, numeric_date, parse_compact
from ..base import LabContext, MockSpec, seeded_guid
from ..errors import EXCEPTION_HANDLERS
from ..inbound import Rejected, json_object
from ..keys import PrivateKey, public_jwk
from ..tls import write_atomic
from .cluster import MAX_REFRESH_AGE, REFRESH_FRACTION, ServiceAccount, api_server_discovery, key_id
from .errors import BadRequest, Forbidden, Invalid, NotFound, Unauthorized, UnsupportedMediaType
from .kubelet import Kubelet

ISSUER = "https://kubernetes.default.svc.cluster.local"  # kubeadm's usual --service-account-issuer
ANTHROPIC_AUDIENCE = "https://api.anthropic.com"
SIGNING_KEY = "kubernetes-service-account-signer"  # KeyStore name; rotations append -2, -3, …
MIN_EXPIRATION, MAX_EXPIRATION = 600, 2**32  # TokenRequest / serviceAccountToken validation
DEFAULT_EXPIRATION = 3600
DEFAULT_TOKEN_REQUEST = 3607  # what the kubelet asks for the kube-api-access volume
EXTENDED_LIFETIME = 365 * 24 * 3600  # --service-account-extend-token-expiration stretches it to a year
POD_SECRETS = "/var/run/secrets"
DEFAULT_TOKEN_MOUNT = f"{POD_SECRETS}/kubernetes.io/serviceaccount"
ANTHROPIC_MOUNT = f"{POD_SECRETS}/anthropic.com"  # the guide's mountPath
ADMIN_USER = "kubernetes-admin"  # kubeadm's admin.conf user
MAX_VERIFICATION_KEYS = 2  # the lab keeps the new key and the one before it (an API server keeps all it is given)

PAGE_WORKLOAD = ("inference", "inference-worker")  # the guide's namespace and service account
OTHER_WORKLOAD = ("reporting", "batch-reporting")  # another team's pod, with only its default token

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\Z")


@dataclass(frozen=True)
class Projection:
    """One ``serviceAccountToken`` source of a pod spec, and where its volume is mounted."""

    audience: str
    expiration_seconds: int
    path: str
    mount_path: str

    @property
    def pod_path(self) -> str:
        return f"{self.mount_path}/{self.path}"


PAGE_PROJECTION = Projection(ANTHROPIC_AUDIENCE, DEFAULT_EXPIRATION, "token", ANTHROPIC_MOUNT)


def check_projection(projection: Projection, index: int = 0) -> None:
    """The API server's pod validation of one projected token source (422 as for a TokenRequest)."""
    field_name = f"spec.volumes[{index}].projected.sources[0].serviceAccountToken"
    causes = _expiration_causes(projection.expiration_seconds, f"{field_name}.expirationSeconds")
    if not projection.path or projection.path.startswith("/") or ".." in projection.path.split("/"):
        causes.append((f"{field_name}.path", projection.path, "must be a relative path without '..'"))
    if causes:
        raise Invalid(causes, kind="Pod", group="", name="")


def _expiration_causes(seconds: int, field_name: str) -> list[tuple[str, Any, str]]:
    if seconds < MIN_EXPIRATION:
        return [(field_name, seconds, "may not specify a duration less than 10 minutes")]
    if seconds > MAX_EXPIRATION:
        return [(field_name, seconds, "may not specify a duration larger than 2^32 seconds")]
    return []


@dataclass(repr=False)
class TokenFile:
    """A token volume the kubelet keeps: what it asked for, the file, and the current token."""

    audiences: list[str]
    expiration_seconds: int  # as requested: the kubelet refreshes at 80 % of this, whatever exp says
    path: Path
    pod_path: str
    pod: str = ""  # <namespace>/<pod name>, for the lab's answers
    extended: bool = False
    token: str = ""
    claims: dict[str, Any] = field(default_factory=dict)
    rotations: int = 0

    def due(self, now: float, fraction: float) -> bool:
        age = now - int(self.claims.get("iat", 0))
        return age >= fraction * self.expiration_seconds or age >= MAX_REFRESH_AGE

    def __repr__(self) -> str:
        return f"TokenFile({self.pod_path!r}, aud={self.audiences!r}, jti={self.claims.get('jti')!r})"


@dataclass
class ClusterPod:
    name: str
    uid: str
    service_account: ServiceAccount
    node_name: str
    node_uid: str
    default_token: TokenFile
    projected: list[TokenFile] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return self.service_account.namespace


class SelfManagedCluster(Kubelet):
    """One kubeadm-style cluster: API server (issuer, TokenRequest), kubelet, and the guide's pods."""

    name = "kubernetes_cluster"
    connection_section = "kubernetes"

    def __init__(
        self,
        ctx: LabContext,
        *,
        issuer: str = ISSUER,
        api_audiences: list[str] | None = None,
        extend_token_expiration: bool = True,
        refresh_fraction: float = REFRESH_FRACTION,
        kubelet_poll_seconds: float | None = None,
    ) -> None:
        if not 0 < refresh_fraction <= 1:
            raise ValueError("refresh_fraction must be in (0, 1]")
        self.ctx = ctx
        self.base_url = ctx.base_url(self.name)
        self.issuer = issuer
        self.api_audiences = list(api_audiences or [issuer])
        self.extend_token_expiration = extend_token_expiration
        self.refresh_fraction = refresh_fraction
        self.root = ctx.runtime_dir / self.name
        self.admin_token = secrets.token_urlsafe(32)  # the kubeconfig's credential
        self._lock = threading.RLock()
        self._rng = random.Random(f"{ctx.seed}:{self.name}")
        self._generation = 1
        self._signer = ctx.keys.private_key(SIGNING_KEY)
        self._verification: dict[str, PrivateKey] = {key_id(self._signer): self._signer}
        self._service_accounts: dict[tuple[str, str], ServiceAccount] = {}
        self._pods: dict[tuple[str, str], ClusterPod] = {}
        self.node_name = "worker-1"
        self.node_uid = self._uid("node:worker-1")
        self.jwks_fetches = 0
        for namespace, name in (PAGE_WORKLOAD, OTHER_WORKLOAD):
            self.add_service_account(namespace, name)
        self.page_pod = self.run_pod(*PAGE_WORKLOAD, projections=[PAGE_PROJECTION])
        self.other_pod = self.run_pod(*OTHER_WORKLOAD)
        if kubelet_poll_seconds:
            self.start_kubelet(kubelet_poll_seconds)

    def _uid(self, label: str) -> str:
        return seeded_guid(self.ctx.seed, f"{self.name}:{label}")

    # -- issuer documents (what `kubectl get --raw` reads)

    @property
    def kid(self) -> str:
        return key_id(self._signer)

    @property
    def jwks_uri(self) -> str:
        return f"{self.base_url}/openid/v1/jwks"

    def discovery(self) -> dict[str, Any]:
        return api_server_discovery(self.issuer, self.jwks_uri)

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            keys = list(self._verification.items())
        # The API server's entries: use, kty, kid, alg and the key itself (no key_ops).
        listed = [{k: v for k, v in public_jwk(key, kid, "RS256").items() if k != "key_ops"} for kid, key in keys]
        return {"keys": [{"use": "sig", **jwk} for jwk in listed]}

    def rotate_signing_key(self, *, retire_previous: bool = False) -> str:
        """Restart the API server with a new signing key; the old one stays a verification key unless retired."""
        with self._lock:
            self._generation += 1
            self._signer = self.ctx.keys.private_key(f"{SIGNING_KEY}-{self._generation}")
            if retire_previous:
                self._verification.clear()
            self._verification[key_id(self._signer)] = self._signer
            while len(self._verification) > MAX_VERIFICATION_KEYS:  # oldest first: dicts keep insertion order
                del self._verification[next(iter(self._verification))]
            return self.kid

    # -- cluster objects

    def add_service_account(self, namespace: str, name: str) -> ServiceAccount:
        with self._lock:
            if (namespace, name) in self._service_accounts:
                raise ValueError(f"service account {namespace}/{name} already exists")
            sa = ServiceAccount(namespace, name, self._uid(f"sa:{namespace}:{name}"))
            self._service_accounts[(namespace, name)] = sa
            return sa

    def service_account(self, namespace: str, name: str) -> ServiceAccount:
        try:
            return self._service_accounts[(namespace, name)]
        except KeyError:
            raise NotFound(name) from None

    def run_pod(self, namespace: str, service_account: str, *, projections: Sequence[Projection] = ()) -> ClusterPod:
        """Admit and start a pod running as ``namespace/service_account`` (one pod per account in the lab);
        the kubelet writes its token files before the container starts."""
        for index, projection in enumerate(projections):
            check_projection(projection, index)
        sa = self.service_account(namespace, service_account)
        with self._lock:
            if (namespace, service_account) in self._pods:
                raise ValueError(f"a pod for {namespace}/{service_account} is already running")
            suffix = "".join(self._rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            name = f"{service_account}-{self._rng.randrange(16**9, 16**10):x}-{suffix}"
            folder = self.root / namespace / name
            default = TokenFile(list(self.api_audiences), DEFAULT_TOKEN_REQUEST,
                                folder / "kubernetes.io/serviceaccount/token", f"{DEFAULT_TOKEN_MOUNT}/token",
                                f"{namespace}/{name}", extended=self.extend_token_expiration)
            pod = ClusterPod(name, self._uid(f"pod:{namespace}:{name}"), sa, self.node_name, self.node_uid, default)
            for projection in projections:
                relative = Path(projection.mount_path.removeprefix(POD_SECRETS).strip("/")) / projection.path
                pod.projected.append(TokenFile([projection.audience], projection.expiration_seconds,
                                               folder / relative, projection.pod_path, f"{namespace}/{name}"))
            self._pods[(namespace, service_account)] = pod
            for volume in self._volumes(pod):
                self._write(pod, volume)
            return pod

    def pod(self, namespace: str, service_account: str) -> ClusterPod:
        return self._pods[(namespace, service_account)]

    def _volumes(self, pod: ClusterPod) -> list[TokenFile]:
        return [pod.default_token, *pod.projected]

    # -- tokens

    def mint(self, sa: ServiceAccount, audiences: list[str], lifetime: int, *, pod: ClusterPod | None = None,
             extended: bool = False, now: float | None = None) -> str:
        """A service-account token as the API server issues it (signed with the current signing key)."""
        iat = int(self.ctx.clock() if now is None else now)
        block: dict[str, Any] = {"namespace": sa.namespace}
        if pod is not None:
            block["node"] = {"name": pod.node_name, "uid": pod.node_uid}
            block["pod"] = {"name": pod.name, "uid": pod.uid}
        block["serviceaccount"] = {"name": sa.name, "uid": sa.uid}
        exp = iat + lifetime
        if extended:
            block["warnafter"] = exp  # when a client should have re-read the file
            exp = iat + EXTENDED_LIFETIME
        body = {"aud": list(audiences), "exp": exp, "iat": iat, "iss": self.issuer, "jti": str(uuid.uuid4()),
                "kubernetes.io": block, "nbf": iat, "sub": f"system:serviceaccount:{sa.namespace}:{sa.name}"}
        with self._lock:
            signer = self._signer
        return jwt.encode(body, signer, algorithm="RS256", headers={"kid": key_id(signer), "typ": None})  # type: ignore[arg-type]

    def _write(self, pod: ClusterPod, volume: TokenFile, now: float | None = None) -> None:
        token = self.mint(pod.service_account, volume.audiences, volume.expiration_seconds, pod=pod,
                          extended=volume.extended, now=now)
        write_atomic(volume.path, token.encode(), 0o644)
        volume.token = token
        volume.claims = jwt.decode(token, options={"verify_signature": False})

    # -- the API server's authentication and TokenRequest

    def authenticate(self, authorization: str | None) -> str:
        """The user a bearer token stands for: the admin, or a service account of this cluster."""
        scheme, _, credential = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthorized()
        credential = credential.strip()
        if secrets.compare_digest(credential.encode(), self.admin_token.encode()):
            return ADMIN_USER
        try:  # read strictly first: pyjwt's own claim checks would choke on NaN or 1e309 dates
            compact = parse_compact(credential)
        except MalformedJWT:
            raise Unauthorized() from None
        kid, claims = compact.header.get("kid"), compact.claims
        with self._lock:
            key = self._verification.get(kid) if isinstance(kid, str) else None
        if key is None or compact.header.get("alg") != "RS256":
            raise Unauthorized()
        try:
            jwt.PyJWS().decode(credential, key.public_key(), algorithms=["RS256"])  # type: ignore[arg-type]
        except jwt.PyJWTError:
            raise Unauthorized() from None
        now = self.ctx.clock()
        exp, nbf = numeric_date(claims.get("exp")), numeric_date(claims.get("nbf", 0))
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        subject = claims.get("sub")
        if (exp is None or exp <= now or nbf is None or nbf > now or claims.get("iss") != self.issuer
                or not any(isinstance(a, str) and a in self.api_audiences for a in audiences)
                or not isinstance(subject, str) or not subject.startswith("system:serviceaccount:")):
            raise Unauthorized()
        return subject

    def token_request(self, namespace: str, name: str, body: dict[str, Any], user: str) -> dict[str, Any]:
        """``create`` on ``serviceaccounts/token``: validate, authorize, mint; the TokenRequest answered."""
        if user != ADMIN_USER:
            raise Forbidden(user, namespace, name)
        sa = self.service_account(namespace, name)
        if body.get("kind", "TokenRequest") != "TokenRequest" or body.get("apiVersion", "authentication.k8s.io/v1") \
                not in ("authentication.k8s.io/v1", "authentication.k8s.io/v1beta1"):
            raise BadRequest(f"the API version in the data ({body.get('apiVersion')}) does not match the expected "
                             "API version (authentication.k8s.io/v1)")
        spec = body.get("spec")
        spec = {} if spec is None else spec
        if not isinstance(spec, dict):
            raise BadRequest("json: cannot unmarshal into Go struct field TokenRequest.spec of type "
                             "v1.TokenRequestSpec")
        audiences = spec.get("audiences") or []
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise BadRequest("json: cannot unmarshal into Go struct field TokenRequestSpec.spec.audiences of type "
                             "string")
        seconds = spec.get("expirationSeconds")
        seconds = DEFAULT_EXPIRATION if seconds is None else seconds
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise BadRequest("json: cannot unmarshal into Go struct field TokenRequestSpec.spec.expirationSeconds "
                             "of type int64")
        causes = _expiration_causes(seconds, "spec.expirationSeconds")
        pod = None
        bound = spec.get("boundObjectRef")
        if bound is not None:
            if not isinstance(bound, dict):
                raise BadRequest("json: cannot unmarshal into Go struct field TokenRequestSpec.spec.boundObjectRef")
            if bound.get("kind") != "Pod":
                causes.append(("spec.boundObjectRef.kind", bound.get("kind"), 'supported values: "Pod"'))
            else:
                pod = next((p for p in self._pods.values()
                            if p.namespace == namespace and p.name == bound.get("name")), None)
                if pod is None:
                    raise NotFound(str(bound.get("name")), kind="pods")
                if pod.service_account != sa:
                    causes.append(("spec.boundObjectRef", pod.name,
                                   f'pod\'s service account "{pod.service_account.name}" does not match "{name}"'))
        if causes:
            raise Invalid(causes, name="")
        audiences = list(audiences) or list(self.api_audiences)
        token = self.mint(sa, audiences, seconds, pod=pod)
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        return {
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": {"audiences": audiences, "expirationSeconds": seconds,
                     "boundObjectRef": bound},
            "status": {"token": token,
                       "expirationTimestamp": datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
        }

    # -- HTTP

    async def discovery_endpoint(self, request: Request) -> JSONResponse:
        return JSONResponse(self.discovery())

    async def jwks_endpoint(self, request: Request) -> JSONResponse:
        self.jwks_fetches += 1
        return JSONResponse(self.jwks(), media_type="application/jwk-set+json")

    async def token_endpoint(self, request: Request) -> JSONResponse:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        user = self.authenticate(request.headers.get("authorization"))
        if user != ADMIN_USER:  # RBAC answers before the object is looked up
            raise Forbidden(user, namespace, name)
        if not _DNS_LABEL.match(namespace) or not _DNS_SUBDOMAIN.match(name):
            raise NotFound(name)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in ("application/json", ""):
            raise UnsupportedMediaType(content_type)
        try:
            body = await json_object(request)
        except Rejected as exc:
            raise BadRequest(exc.reason) from None
        return JSONResponse(self.token_request(namespace, name, body, user), status_code=201)

    async def lab_rotate(self, request: Request) -> JSONResponse:
        return JSONResponse({"rotated": [{"pod": v.pod, "path": v.pod_path, "aud": v.audiences, "jti": v.claims["jti"],
                                          "iat": v.claims["iat"]} for v in self.rotate()]})

    async def lab_rotate_signing_key(self, request: Request) -> JSONResponse:
        try:
            body = await json_object(request, empty_ok=True)
        except Rejected as exc:
            raise BadRequest(exc.reason) from None
        retire = body.get("retire_previous", False)
        if not isinstance(retire, bool):
            raise BadRequest("retire_previous must be true or false")
        kid = self.rotate_signing_key(retire_previous=retire)
        return JSONResponse({"kid": kid, "jwks_kids": [k["kid"] for k in self.jwks()["keys"]]})

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery_endpoint, methods=["GET"]),
                Route("/openid/v1/jwks", self.jwks_endpoint, methods=["GET"]),
                Route("/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", self.token_endpoint,
                      methods=["POST"]),
                Route("/lab/rotate", self.lab_rotate, methods=["POST"]),
                Route("/lab/rotate-signing-key", self.lab_rotate_signing_key, methods=["POST"]),
            ],
            exception_handlers=EXCEPTION_HANDLERS,
        )

    def _pod_section(self, pod: ClusterPod) -> dict[str, Any]:
        sa = pod.service_account
        section: dict[str, Any] = {"namespace": sa.namespace, "service_account": sa.name,
                                   "subject": f"system:serviceaccount:{sa.namespace}:{sa.name}", "pod": pod.name,
                                   "default_token_file": str(pod.default_token.path)}
        if pod.projected:
            section.update(token_file=str(pod.projected[0].path), audience=pod.projected[0].audiences[0],
                           expiration_seconds=pod.projected[0].expiration_seconds,
                           env={"ANTHROPIC_IDENTITY_TOKEN_FILE": str(pod.projected[0].path)})
        return section

    def connection(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "api_server": self.base_url,
            "issuer": self.issuer,
            "discovery_url": f"{self.base_url}/.well-known/openid-configuration",
            "jwks_uri": self.jwks_uri,
            "admin_token": self.admin_token,
            "api_audiences": list(self.api_audiences),
            **self._pod_section(self.page_pod),
            "other_workload": self._pod_section(self.other_pod),
            "rotate_url": f"{self.base_url}/lab/rotate",
            "rotate_signing_key_url": f"{self.base_url}/lab/rotate-signing-key",
        }


def _build(ctx: LabContext) -> SelfManagedCluster:
    return SelfManagedCluster(ctx, kubelet_poll_seconds=30.0)  # the kubelet refreshes tokens at 80 % of life


SPEC = MockSpec("kubernetes_cluster", "https", factory=_build)
