"""Workload side of AKS with Entra Workload ID: the two-hop provider, and the direct path.

Two hops, as the Claude docs' Azure guide shows them ("On AKS with Entra Workload Identity"):

1. read the projected service-account token from ``AZURE_FEDERATED_TOKEN_FILE`` — **fresh on every
   call**, because the kubelet replaces the file before the token expires;
2. POST it to ``<AZURE_AUTHORITY_HOST>/<AZURE_TENANT_ID>/oauth2/v2.0/token`` as a client assertion
   (``grant_type=client_credentials``, ``client_id=$AZURE_CLIENT_ID``, ``scope=api://<APP_ID>/.default``,
   ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``); Entra answers
   with its own access token for the user-assigned identity, which is the identity token Anthropic
   gets.

The authority is normalised as ``azure-identity`` does it: ``https://`` only, trailing slash removed.
The direct path (Kubernetes guide) skips Entra: the pod's second projected token, audience
``https://api.anthropic.com``, is the identity token; :func:`projected_token_provider` re-reads it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import jwt

from .. import http
from ..display import Table
from ..errors import ConfigurationError, ProviderError
from ..http import Verify
from ..oauth import CLIENT_ASSERTION_TYPE
from ..oauth import ENTRA_TOKEN_EXCHANGE_AUDIENCE as TOKEN_EXCHANGE_AUDIENCE
from ..parameters import missing_message
from ..redact import Secret, redact
from ..runbook import Settings

if TYPE_CHECKING:
    from ..runbook import Runbook

PUBLIC_AUTHORITY_HOST = "https://login.microsoftonline.com/"
WEBHOOK_ENV = ("AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID")
DEFAULT_TIMEOUT = 10.0

# Where AKS puts the projected tokens inside the pod (the webhook's volume, and the direct path's own).
AZURE_VOLUME = "azure-identity-token"
ANTHROPIC_VOLUME = "anthropic-token"
VOLUME_PATHS = {AZURE_VOLUME: "azure/tokens/azure-identity-token", ANTHROPIC_VOLUME: "anthropic.com/token"}
POD_MOUNT_ROOT = "/var/run/secrets"

_FIC_CHECK = ("compare with `az identity federated-credential list --identity-name <identity>`; "
              "the AKS issuer is `az aks show --query oidcIssuerProfile.issuerUrl`")

# What to check next, per AADSTS code Entra puts in error_codes.
HINTS: dict[int, str] = {
    70021: ("the identity named by AZURE_CLIENT_ID has no federated credential for this token: create one with "
            "--issuer <cluster OIDC issuer URL> --subject system:serviceaccount:<namespace>:<sa> "
            f"--audience {TOKEN_EXCHANGE_AUDIENCE} (new ones can take a minute to apply)"),
    700211: ("the federated credential's issuer must equal the token's iss exactly — the AKS issuer URL ends "
             f"with '/', and a credential for another cluster never matches; {_FIC_CHECK}"),
    700213: ("the federated credential's subject must be system:serviceaccount:<namespace>:<serviceaccount> of "
             f"this pod: compare the pod's namespace and serviceAccountName with it; {_FIC_CHECK}"),
    7002138: "the subject differs only in letter case; subjects are case-sensitive: fix the credential's subject",
    700212: (f"the token's aud must contain the credential's audience, normally {TOKEN_EXCHANGE_AUDIENCE}: "
             "check the credential's --audience and the projected volume's audience"),
    700024: ("the projected token has expired or is not yet valid: the token file was not refreshed (is the "
             "kubelet running? is something caching the file's content?) or the clocks disagree"),
    70023: ("the projected token must carry iat and exp and live at most 25 h: check "
            "azure.workload.identity/service-account-token-expiration (3600-86400)"),
    50027: "the token file does not hold a JWT (empty, truncated or quoted?): print its first characters",
    700016: ("AZURE_CLIENT_ID must be the user-assigned identity's clientId (the service account's "
             "azure.workload.identity/client-id annotation), in the tenant named by AZURE_TENANT_ID"),
    500011: ("register the audience app in this tenant (identifier URI api://<APP_ID>, "
             "requestedAccessTokenVersion=2, with a service principal) and request scope api://<APP_ID>/.default"),
    1002012: "client credentials need scope=<identifier URI>/.default, e.g. api://<APP_ID>/.default",
    28000: "ask for one resource per request: a single <identifier URI>/.default scope",
    90002: "AZURE_TENANT_ID must be your tenant's ID (or a verified domain of it)",
    9001023: "use the tenant-specific endpoint: AZURE_TENANT_ID must be the tenant ID, not common/organizations",
    90061: ("Entra could not fetch the cluster issuer's discovery document or JWKS: enable the OIDC issuer "
            "(az aks update --enable-oidc-issuer) and check that <issuer>.well-known/openid-configuration "
            "answers over public https"),
    7000272: ("the token's kid is not in the cluster issuer's JWKS: the service-account signing key was rotated "
              "or the token comes from another cluster; compare the kid with <issuer>openid/v1/jwks"),
    700027: "the token's signature does not verify with the cluster's key: the token was altered or forged",
    900144: "a required form field is missing: send grant_type, client_id, scope, client_assertion_type, "
            "client_assertion",
    90011: f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}",
    7000218: "send the projected token as client_assertion",
    70003: "grant_type must be client_credentials",
}


@dataclass(frozen=True, repr=False)
class EntraToken:
    """Entra's answer to the federated client-credentials request; the token never shows in repr."""

    access_token: Secret
    expires_in: int
    ext_expires_in: int
    token_type: str = "Bearer"

    def __post_init__(self) -> None:
        object.__setattr__(self, "access_token", Secret(self.access_token))

    def claims(self) -> dict[str, Any]:
        """The access token's claims, *unverified* (for display; the relying party verifies)."""
        return jwt.decode(self.access_token, options={"verify_signature": False})

    def __repr__(self) -> str:
        return (f"EntraToken(expires_in={self.expires_in}, "
                f"access_token={redact(self.access_token, short=True)!r})")


def normalize_authority(authority: str) -> str:
    """``AZURE_AUTHORITY_HOST`` as azure-identity reads it: https only, no trailing slash."""
    value = authority.strip()
    if not urlsplit(value).scheme:
        value = "https://" + value
    if urlsplit(value).scheme != "https":
        raise ConfigurationError(f"{authority!r} is not a valid authority: Entra is only reachable over https",
                                 hint="AZURE_AUTHORITY_HOST, e.g. https://login.microsoftonline.com/")
    return value.rstrip(" /")


def read_token_file(path: str | Path, *, variable: str = "AZURE_FEDERATED_TOKEN_FILE") -> Secret:
    """The projected token, read now (whitespace stripped: files are often written with a newline)."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"the token file {path} does not exist",
            hint=(f"{variable} must name the projected service-account token: is the pod labelled "
                  "azure.workload.identity/use: \"true\" and running as the annotated service account?"),
        ) from exc
    except OSError as exc:
        raise ConfigurationError(f"cannot read the token file {path}: {exc.strerror}",
                                 hint="the container's user must be able to read the projected volume") from exc
    if not token:
        raise ConfigurationError(f"the token file {path} is empty", hint="the kubelet has not written it yet")
    return Secret(token)


def refusal(response: httpx.Response) -> ProviderError:
    """One :class:`ProviderError` from any Entra error answer, with the hint for its AADSTS code."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    codes = body.get("error_codes") or []
    code = codes[0] if codes and isinstance(codes[0], int) else None
    error = str(body["error"]) if body.get("error") is not None else None
    description = str(body.get("error_description") or "") or None
    first_line = (description or error or response.text[:200] or response.reason_phrase).split(" Trace ID:")[0]
    hint = HINTS.get(code) if code is not None else None
    if hint is None:
        hint = ("Entra is throttling or unavailable; retry with backoff" if response.status_code in (429, 503)
                else "the error_description above and the Entra sign-in logs (by its correlation ID)")
    return ProviderError(f"Entra refused the federated token request ({response.status_code}): {first_line}",
                         status=response.status_code, error=error, description=description, hint=hint)


class WorkloadIdentityClient:
    """Exchanges the pod's projected token at Entra for the user-assigned identity's access token."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        token_file: str | Path,
        scope: str,
        authority_host: str = PUBLIC_AUTHORITY_HOST,
        verify: Verify = True,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        missing = [name for name, value in (("tenant_id", tenant_id), ("client_id", client_id),
                                            ("token_file", token_file), ("scope", scope)) if not value]
        if missing:
            raise ConfigurationError(f"missing {', '.join(missing)}",
                                     hint="the webhook's AZURE_* variables and the audience app's scope")
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.token_file = Path(token_file)
        self.scope = scope
        self.authority = normalize_authority(authority_host)
        self.verify = verify
        self.timeout = timeout
        self._transport = transport

    @property
    def token_url(self) -> str:
        return f"{self.authority}/{self.tenant_id}/oauth2/v2.0/token"

    def form(self, assertion: str) -> dict[str, str]:
        return {
            "client_assertion": assertion,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_id": self.client_id,
            "grant_type": "client_credentials",
            "scope": self.scope,
        }

    def get_token(self) -> EntraToken:
        """Hop 1: the current projected token → Entra → an Entra access token."""
        assertion = read_token_file(self.token_file)
        response = http.request(
            "POST", self.token_url, what="Entra", verify=self.verify, deadline=self.timeout,
            transport=self._transport, data=self.form(assertion),
            hint=("AZURE_AUTHORITY_HOST and the CA bundle (in the lab: the connection file's ca_bundle); "
                  "an egress proxy must allow login.microsoftonline.com"),
        )
        if response.status_code != 200:
            raise refusal(response)
        try:
            body = response.json()
            expires_in = int(body["expires_in"])
            return EntraToken(str(body["access_token"]), expires_in, int(body.get("ext_expires_in", expires_in)),
                              str(body.get("token_type", "Bearer")))
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(
                "Entra answered 200 without a usable token", status=200,
                hint="AZURE_AUTHORITY_HOST does not point at Entra, or a proxy rewrote the answer",
            ) from exc

    @classmethod
    def from_env(
        cls,
        *,
        scope: str,
        environ: Mapping[str, str] | None = None,
        verify: Verify = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> WorkloadIdentityClient:
        """The way a pod sees it: the webhook's ``AZURE_*`` variables (``scope`` is the app's choice)."""
        env = os.environ if environ is None else environ
        missing = [name for name in WEBHOOK_ENV if not env.get(name)]
        if missing:
            raise ConfigurationError(
                f"not set: {', '.join(missing)}",
                hint=("the azure-workload-identity webhook injects these when the pod is labelled "
                      "azure.workload.identity/use: \"true\" and its service account carries "
                      "azure.workload.identity/client-id; restart the pod after adding them"),
            )
        return cls(tenant_id=env["AZURE_TENANT_ID"], client_id=env["AZURE_CLIENT_ID"],
                   token_file=env["AZURE_FEDERATED_TOKEN_FILE"], scope=scope,
                   authority_host=env.get("AZURE_AUTHORITY_HOST") or PUBLIC_AUTHORITY_HOST,
                   verify=verify, timeout=timeout)

    @classmethod
    def from_connection(
        cls,
        section: Mapping[str, Any],
        *,
        scope: str | None = None,
        verify: Verify = True,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> WorkloadIdentityClient:
        """From the connection file's ``kubernetes`` section (its ``env`` is what the pod would see)."""
        try:
            env, default_scope = section["env"], section.get("scope")
        except KeyError as exc:
            raise ConfigurationError("the connection section has no env",
                                     hint="pass the connection file's 'kubernetes' section") from exc
        return cls.from_env(scope=scope or default_scope or "", environ=env, verify=verify, timeout=timeout)

    def __repr__(self) -> str:
        return (f"WorkloadIdentityClient({self.token_url!r}, client_id={self.client_id!r}, "
                f"scope={self.scope!r}, token_file={str(self.token_file)!r})")


def entra_token_provider(client: WorkloadIdentityClient) -> Callable[[], str]:
    """An ``identity_token_provider`` for the Anthropic SDK: both hops' first half, done fresh each call."""

    def provide() -> str:
        return client.get_token().access_token

    return provide


def projected_token_provider(path: str | Path) -> Callable[[], str]:
    """The direct path's ``identity_token_provider``: the projected token (audience
    ``https://api.anthropic.com``), re-read on every call so kubelet rotations are picked up."""

    def provide() -> str:
        return read_token_file(path, variable="ANTHROPIC_IDENTITY_TOKEN_FILE")

    return provide


# --- the pod's settings (mock: the lab pod's webhook variables; live: this process's environment) -----------


# What each webhook variable is, in the order the settings table shows them.
_VARIABLES = (
    ("tenant_id", "AZURE_TENANT_ID", "the tenant whose Entra token endpoint hop 1 calls"),
    ("client_id", "AZURE_CLIENT_ID",
     "client ID of the user-assigned identity (the service account's azure.workload.identity/client-id)"),
    ("token_file", "AZURE_FEDERATED_TOKEN_FILE",
     f"the projected service-account token, audience {TOKEN_EXCHANGE_AUDIENCE}; in a pod: "
     f"{POD_MOUNT_ROOT}/{VOLUME_PATHS[AZURE_VOLUME]}"),
    ("authority_host", "AZURE_AUTHORITY_HOST", f"where Entra answers ({PUBLIC_AUTHORITY_HOST} on public Azure)"),
)


class PodSettings(Settings):
    """The four webhook variables plus the scope, shown with where each value came from."""

    def __init__(self, values: dict[str, Any], sources: dict[str, str]) -> None:
        super().__init__(values)
        self._sources = sources

    def table(self, title: str = "What the workload-identity webhook put in the pod") -> Table:
        rows = [(variable, shown_path(str(self.get(key) or "")) if key == "token_file" else self.get(key),
                 self._sources.get(key, ""), meaning) for key, variable, meaning in _VARIABLES]
        rows.append(("scope (not injected)", self.get("scope"), self._sources.get("scope", ""),
                     "your choice: the audience app's identifier URI + /.default"))
        return Table(title, ["variable", "value", "from", "what it is"], rows)


def shown_path(path: str) -> str:
    """A lab token file without the machine-specific state directory in front of it."""
    head, sep, rest = path.partition("/kubernetes/")
    return f"<lab state dir>/kubernetes/{rest}" if sep and head else path


def pod_settings(rb: Runbook, *, tenant_id: str = "", client_id: str = "", token_file: str = "",
                 scope: str = "") -> PodSettings:
    """Parameters first; then the lab pod's variables (mock) or this process's environment (live)."""
    given = {"tenant_id": tenant_id, "client_id": client_id, "token_file": token_file, "scope": scope}
    if rb.lab is not None:
        section = rb.lab.section("aks")
        fallback = {key: section["env"].get(variable, "") for key, variable, _ in _VARIABLES}
        fallback["scope"] = section.get("scope", "")
        origin = "the lab pod's environment"
    else:
        fallback = {key: os.environ.get(variable, "") for key, variable, _ in _VARIABLES}
        fallback["scope"] = ""
        origin = "environment"
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in ("tenant_id", "client_id", "token_file", "authority_host", "scope"):
        if given.get(key):
            values[key], sources[key] = given[key], "parameter"
        elif fallback.get(key):
            values[key] = fallback[key]
            sources[key] = "the lab's app registration" if key == "scope" else origin
        else:
            values[key], sources[key] = "", "—"
    if not values["authority_host"]:
        values["authority_host"], sources["authority_host"] = PUBLIC_AUTHORITY_HOST, "default"
    missing = [key for key in ("tenant_id", "client_id", "token_file", "scope") if not values[key]]
    if missing:
        message, where = missing_message("aks", missing)
        raise ConfigurationError(
            message,
            hint=("run inside a pod labelled azure.workload.identity/use: \"true\" whose service account carries "
                  "azure.workload.identity/client-id (the webhook then sets the AZURE_* variables), or pass them "
                  f"as parameters. {where}"),
        )
    return PodSettings(values, sources)
