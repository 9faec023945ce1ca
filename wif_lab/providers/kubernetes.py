"""Workload side of a self-managed Kubernetes cluster (the Claude Kubernetes guide).

A pod needs no client at all: the kubelet writes a projected service-account token, audience
``https://api.anthropic.com``, to ``/var/run/secrets/anthropic.com/token``, and the SDK reads the file that
``ANTHROPIC_IDENTITY_TOKEN_FILE`` names on every exchange (``anthropic.lib.credentials.IdentityTokenFile``).
This module has what the notebook and an operator need around that:

- :func:`read_token_file` — the file's current content, with a hint for each way it goes missing;
- :class:`ApiServer` — what ``kubectl get --raw /.well-known/openid-configuration``, ``kubectl get --raw
  /openid/v1/jwks`` and ``kubectl create token`` ask the API server, in-cluster or through a kubeconfig's
  server and bearer; its refusals are :class:`KubernetesRefused` with the ``Status`` reason as ``code``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from .. import http
from ..errors import ConfigurationError, ProviderError
from ..http import Verify
from ..redact import Secret, redact

TOKEN_FILE_VARIABLE = "ANTHROPIC_IDENTITY_TOKEN_FILE"
POD_TOKEN_PATH = "/var/run/secrets/anthropic.com/token"  # the guide's mountPath + path
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"  # the default kube-api-access volume
IN_CLUSTER_HOST, IN_CLUSTER_PORT = "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"
DEFAULT_TIMEOUT = 10.0

_DISCOVERY_RBAC = ("the caller needs the system:service-account-issuer-discovery ClusterRole "
                   "(`kubectl create clusterrolebinding … --clusterrole=system:service-account-issuer-discovery`)")

# What to check next, per the API server's Status reason.
HINTS: dict[str, str] = {
    "Unauthorized": ("the API server did not accept the bearer token: use a current kubeconfig (`kubectl config "
                     "view --minify`), or in a pod the default token file, which the kubelet refreshes"),
    "Forbidden": ("RBAC: creating tokens needs `create` on `serviceaccounts/token` in that namespace; "
                  f"reading discovery or keys: {_DISCOVERY_RBAC}"),
    "NotFound": "the namespace and service account name: `kubectl get serviceaccount -n <namespace>`",
    "Invalid": ("expirationSeconds must be at least 600 (10 minutes) and at most 2^32; a bound pod must run as "
                "that service account"),
    "BadRequest": "send a TokenRequest (apiVersion authentication.k8s.io/v1) with spec.audiences as a list of strings",
    "UnsupportedMediaType": "send the TokenRequest as application/json",
}


class KubernetesRefused(ProviderError):
    """The API server answered with a ``Status`` failure; ``code`` is its reason (``Invalid``, ``NotFound``…)."""

    def __init__(self, message: str, *, status: int, code: str | None, causes: list[dict[str, Any]],
                 hint: str | None = None) -> None:
        super().__init__(message, status=status, error=code, description=message, hint=hint)
        self.code = code
        self.causes = causes


def refusal(response: httpx.Response) -> KubernetesRefused:
    """One :class:`KubernetesRefused` from any error answer of the API server, with the hint for its reason."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    reason = body.get("reason") if isinstance(body.get("reason"), str) else None
    message = body.get("message") if isinstance(body.get("message"), str) else None
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    causes = [c for c in details.get("causes") or [] if isinstance(c, dict)] if isinstance(details, dict) else []
    hint = HINTS.get(reason or "") or (
        "the API server is overloaded or unavailable; retry with backoff" if response.status_code >= 500
        else "the Status message above; `kubectl … -v=8` prints the same exchange")
    shown = message or response.text[:200] or response.reason_phrase
    return KubernetesRefused(f"the Kubernetes API server refused ({response.status_code} {reason or ''}): {shown}"
                             .replace(" )", ")"), status=response.status_code, code=reason, causes=causes, hint=hint)


def read_token_file(path: str | Path, *, variable: str = TOKEN_FILE_VARIABLE) -> Secret:
    """The token file's current content (whitespace stripped, as the SDK reads it)."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"the token file {path} does not exist",
            hint=(f"{variable} must name the projected token: mountPath of the serviceAccountToken volume + its "
                  "path (the guide: /var/run/secrets/anthropic.com/token); `kubectl describe pod` lists the mounts"),
        ) from exc
    except IsADirectoryError as exc:
        raise ConfigurationError(f"{path} is a directory", hint=f"{variable} names the file: <mountPath>/<path>") \
            from exc
    except OSError as exc:
        raise ConfigurationError(f"cannot read the token file {path}: {exc.strerror}",
                                 hint="the container's user must be able to read the projected volume "
                                      "(defaultMode, fsGroup)") from exc
    if not token:
        raise ConfigurationError(f"the token file {path} is empty",
                                 hint="the kubelet has not written it yet, or the projection's audience is wrong")
    return Secret(token)


@dataclass(frozen=True, repr=False)
class IssuedToken:
    """A TokenRequest's answer (``kubectl create token``); the token never shows in repr."""

    token: Secret
    expiration_timestamp: str
    audiences: list[str]
    expiration_seconds: int

    def __repr__(self) -> str:
        return (f"IssuedToken(audiences={self.audiences!r}, expiration_seconds={self.expiration_seconds}, "
                f"expires={self.expiration_timestamp}, token={redact(self.token, short=True)!r})")


class ApiServer:
    """The cluster's API server as ``kubectl`` reaches it: a server URL, a bearer token and its CA."""

    def __init__(self, server: str, *, token: str | None = None, verify: Verify = True,
                 timeout: float = DEFAULT_TIMEOUT, transport: httpx.BaseTransport | None = None) -> None:
        if not server.startswith("https://"):
            raise ConfigurationError(f"{server!r} is not an API server URL",
                                     hint="the kubeconfig's clusters[].cluster.server, e.g. https://10.0.0.1:6443")
        self.server = server.rstrip("/")
        self._token = Secret(token) if token else None
        self.verify = verify
        self.timeout = timeout
        self._transport = transport

    @classmethod
    def in_cluster(cls, environ: Mapping[str, str] | None = None, *, service_account_dir: str = SERVICE_ACCOUNT_DIR,
                   timeout: float = DEFAULT_TIMEOUT) -> ApiServer:
        """As client-go's in-cluster config: ``KUBERNETES_SERVICE_HOST``/``_PORT``, the pod's default token
        and the cluster CA from the service-account volume."""
        env = os.environ if environ is None else environ
        host, port = env.get(IN_CLUSTER_HOST), env.get(IN_CLUSTER_PORT)
        if not host or not port:
            raise ConfigurationError(f"{IN_CLUSTER_HOST} and {IN_CLUSTER_PORT} are not set",
                                     hint="this is not a pod (or enableServiceLinks is off); pass the API server URL")
        shown = f"[{host}]" if ":" in host else host
        folder = Path(service_account_dir)
        token = read_token_file(folder / "token", variable="the default service-account token")
        return cls(f"https://{shown}:{port}", token=token, verify=str(folder / "ca.crt"), timeout=timeout)

    def _send(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        headers = {"accept": "application/json"}
        if self._token:
            headers["authorization"] = f"Bearer {self._token.reveal()}"
        response = http.request(method, f"{self.server}{path}", what=what, verify=self.verify,
                                deadline=self.timeout, transport=self._transport, headers=headers,
                                hint="the API server URL and its CA (the kubeconfig's certificate-authority-data)",
                                **kwargs)
        if response.status_code not in (200, 201):
            raise refusal(response)
        try:
            return response.json()
        except ValueError as exc:
            raise ProviderError(f"{what} answered {response.status_code} without JSON", status=response.status_code,
                                hint="the URL names the API server, not a proxy or dashboard") from exc

    def discovery(self) -> dict[str, Any]:
        """``kubectl get --raw /.well-known/openid-configuration``: its ``issuer`` is what Anthropic registers."""
        return dict(self._send("GET", "/.well-known/openid-configuration", "the API server's discovery document"))

    def jwks(self) -> dict[str, Any]:
        """``kubectl get --raw /openid/v1/jwks``: the keys an inline issuer registration must list."""
        body = self._send("GET", "/openid/v1/jwks", "the API server's JWKS")
        if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
            raise ProviderError("the API server's JWKS has no keys array", status=200,
                                hint="the URL names the API server (kubectl config view --minify)")
        return body

    def create_token(self, namespace: str, service_account: str, *, audiences: list[str] | None = None,
                     expiration_seconds: int | None = None, bound_pod: str | None = None) -> IssuedToken:
        """``kubectl create token <sa> -n <ns> --audience … --duration …s [--bound-object-kind Pod …]``."""
        spec: dict[str, Any] = {}
        if audiences:
            spec["audiences"] = audiences
        if expiration_seconds is not None:
            spec["expirationSeconds"] = expiration_seconds
        if bound_pod:
            spec["boundObjectRef"] = {"kind": "Pod", "apiVersion": "v1", "name": bound_pod}
        body = self._send("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
                          "the API server's TokenRequest endpoint",
                          json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
        try:
            return IssuedToken(Secret(body["status"]["token"]), str(body["status"]["expirationTimestamp"]),
                               list(body["spec"]["audiences"]), int(body["spec"]["expirationSeconds"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderError("the TokenRequest answer has no status.token", status=201,
                                hint="the URL names the API server, not a proxy") from exc

    def __repr__(self) -> str:
        return f"ApiServer({self.server!r}, token={'set' if self._token else 'none'})"
