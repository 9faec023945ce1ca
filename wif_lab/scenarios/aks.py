"""AKS with Entra Workload ID: what the pod sees, the federated credential Entra matches, and the
look-alike workloads the troubleshooting and scoping cells present.

The pod's settings come from the ``azure-workload-identity`` webhook's variables (``AZURE_TENANT_ID``,
``AZURE_CLIENT_ID``, ``AZURE_FEDERATED_TOKEN_FILE``, ``AZURE_AUTHORITY_HOST``): the lab's copy of them in
mock mode, the process environment in live mode (a notebook parameter wins over either).

Demonstration helpers are lab-only and return ``None`` (or a :class:`Note`) in live mode: a runbook on a
real cluster never creates service accounts or federated credentials, and never presents a token it
knows will be refused. Helpers that change the cluster or the tenant need the mocks in this process (the
embedded lab); against an attached lab they are skipped the same way.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import http
from ..difference import mark_values
from ..display import WIDTH, ShownAsTable, Table, summary
from ..errors import ConfigurationError, ProviderError, WifLabError
from ..mock.entra import ERROR_DESCRIPTION_TAIL, EntraMock
from ..mock.kubernetes import ANTHROPIC_VOLUME, AZURE_VOLUME, POD_MOUNT_ROOT, VOLUME_PATHS, KubernetesMock
from ..parameters import missing_message
from ..providers.aks import (
    CLIENT_ASSERTION_TYPE,
    PUBLIC_AUTHORITY_HOST,
    TOKEN_EXCHANGE_AUDIENCE,
    WorkloadIdentityClient,
    projected_token_provider,
    read_token_file,
)
from ..redact import redact
from ..runbook import Note, Runbook, Settings
from ..tokens import decode, utc

ANTHROPIC_AUDIENCE = "https://api.anthropic.com"
SECOND_SERVICE_ACCOUNT = ("inference", "claude-batch")  # a new workload that reuses the pod's identity
OTHER_WORKLOAD = ("reporting", "batch-reporting")  # a workload with its own identity in the same tenant
WRAP = WIDTH  # long Entra messages: one row per line, so the field name stays next to its first line

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


# --- the pod's view ----------------------------------------------------------------------------


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


def workload_client(rb: Runbook, pod: PodSettings) -> WorkloadIdentityClient:
    """Hop 1's client for the pod, trusting what the runbook trusts (the lab CA, or ``ca_bundle``)."""
    return WorkloadIdentityClient(tenant_id=pod.tenant_id, client_id=pod.client_id, token_file=pod.token_file,
                                  scope=pod.scope, authority_host=pod.authority_host, verify=rb.verify)


def cluster_objects(rb: Runbook) -> Table | Note:
    """The lab cluster's side of the setup: issuer, service account, pod and its projected volumes."""
    if rb.lab is None:
        return Note("live mode: `az aks show -g <rg> -n <cluster> --query oidcIssuerProfile.issuerUrl` gives the "
                    "issuer; `kubectl get sa <name> -n <namespace> -o yaml` shows the client-id annotation, and "
                    "`kubectl get pod <pod> -o yaml` the azure.workload.identity/use label and the projected volume.")
    k8s = rb.lab.section("aks")
    namespace, name = k8s["service_account"].split("/")
    rows = [
        ("cluster OIDC issuer", k8s["issuer"]),
        ("service account", f"{namespace}/{name}"),
        ("  annotation azure.workload.identity/client-id", k8s["env"]["AZURE_CLIENT_ID"]),
        ("pod", k8s["pod"]),
        ("  label azure.workload.identity/use", "true"),
        ("  serviceAccountName", name),
        ("projected volume (added by the webhook)",
         f"audience {k8s['audience']}, expirationSeconds 3600, at {POD_MOUNT_ROOT}/{VOLUME_PATHS[AZURE_VOLUME]}"),
        ("projected volume (for the direct path)",
         f"audience {k8s['anthropic_audience']}, expirationSeconds 3600, at "
         f"{POD_MOUNT_ROOT}/{VOLUME_PATHS[ANTHROPIC_VOLUME]}"),
    ]
    return Table("The lab's AKS cluster", ["object", "value"], rows)


def projected_token_facts(token: str) -> Table:
    """The claims of a projected token that federation depends on, and what each one means."""
    claims = decode(token).claims
    block = claims.get("kubernetes.io", {})
    pod, sa, node = block.get("pod", {}), block.get("serviceaccount", {}), block.get("node", {})
    iss = str(claims.get("iss", ""))
    rows = [
        ("iss", iss, "the cluster's OIDC issuer; " + ("ends with '/'" if iss.endswith("/") else "no trailing '/'")),
        ("sub", claims.get("sub"), "system:serviceaccount:<namespace>:<service account>"),
        ("aud", claims.get("aud"), "a list; Entra's token-exchange audience, not the Claude API"),
        ("exp − iat", decode(token).lifetime_seconds, "seconds (expirationSeconds of the projected volume)"),
        ("kubernetes.io.namespace", block.get("namespace"), "where the pod runs"),
        ("kubernetes.io.serviceaccount", f"{sa.get('name')} (uid {sa.get('uid')})", "the pod's serviceAccountName"),
        ("kubernetes.io.pod", f"{pod.get('name')} (uid {pod.get('uid')})", "the token is bound to this pod"),
        ("kubernetes.io.node", node.get("name", "—"), "the node the pod runs on (Kubernetes 1.29 and later)"),
    ]
    return Table("What the projected token says", ["claim", "value", "meaning"],
                 [(k, v if isinstance(v, str) else _json(v), m) for k, v, m in rows])


def _json(value: Any) -> str:
    return json.dumps(value)


# --- the federated identity credential ---------------------------------------------------------


def _identity_by_client_id(rb: Runbook, client_id: str) -> dict[str, Any] | None:
    assert rb.lab is not None
    wanted = client_id.lower()
    return next((i for i in rb.lab.section("entra")["identities"] if i["client_id"] == wanted), None)


def credential_check(rb: Runbook, client_id: str, token: str) -> Table | Note:
    """The identity's federated credential next to the projected token: Entra's three equality checks."""
    if rb.lab is None:
        return Note("live mode: compare with `az identity federated-credential list --identity-name <identity> "
                    "--resource-group <rg>`; the issuer, subject and audience must equal the token's iss, sub and "
                    "one entry of aud.")
    identity = _identity_by_client_id(rb, client_id)
    credentials = rb.lab.section("entra").get("federated_credentials", {}).get(identity["name"] if identity else "")
    if not identity or not credentials:
        return Note(f"the lab's tenant has no federated credential for client ID {client_id}")
    claims = decode(token).claims
    audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
    fic = next((f for f in credentials if f["subject"] == claims.get("sub")), credentials[0])

    def compared(field: str, configured: str, presented: Any) -> tuple[Any, ...]:
        if not isinstance(presented, str):
            return (field, configured, presented, "✗ differs")
        if configured == presented:
            return (field, configured, presented, "✓ equal")
        return (field, *mark_values(configured, presented), "✗ differs (first difference marked)")

    rows = [
        ("name", fic["name"], "", ""),
        compared("issuer", fic["issuer"], claims.get("iss")),
        compared("subject", fic["subject"], claims.get("sub")),
        ("audience", fic["audiences"][0], _json(audiences),
         "✓ in aud" if fic["audiences"][0] in audiences else "✗ not in aud"),
    ]
    return Table(f"Federated credential on identity '{identity['name']}' vs the projected token",
                 ["field", "credential", "token", "Entra's check"], rows)


def hop1_request(client: WorkloadIdentityClient) -> Table:
    """The form hop 1 posts; the assertion is read from the file at request time, never stored."""
    return summary("POST " + client.token_url, {
        "grant_type": "client_credentials",
        "client_id": client.client_id,
        "scope": client.scope,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": "the token file's current content (read at request time)",
    })


# --- Entra's answer as an outcome --------------------------------------------------------------


def _wrapped(name: str, text: str) -> list[tuple[str, str]]:
    lines = textwrap.wrap(text, WRAP, break_long_words=False, break_on_hyphens=False) or [""]
    return [(name if i == 0 else "", line) for i, line in enumerate(lines)]


@dataclass(repr=False)
class EntraOutcome(ShownAsTable):
    """Hop 1's result for a demonstration: the Entra token (redacted), or Entra's refusal with its hint."""

    title: str
    status: str  # "accepted" | "refused" | "skipped"
    expires_in: int | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    token: str = ""
    error: WifLabError | None = None
    note: str = ""

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def table(self) -> Table:
        rows: list[tuple[str, str]] = [("outcome", self.status)]
        if self.status == "accepted":
            rows += [("Entra access token", redact(self.token, short=True)), ("expires_in", str(self.expires_in)),
                     ("oid (= sub)", str(self.claims.get("oid"))), ("azp", str(self.claims.get("azp")))]
        if isinstance(self.error, ProviderError):
            description = self.error.description or self.error.message
            tail = ERROR_DESCRIPTION_TAIL.search(description)
            message = description[: tail.start()] if tail else description
            code = re.match(r"AADSTS(\d+)", message)
            rows += [("HTTP status", str(self.error.status)), ("error", str(self.error.error)),
                     ("AADSTS code", code.group(1) if code else "—")]
            rows += _wrapped("error_description", message)
            if tail:
                rows += [("Trace ID", tail["trace_id"]), ("Correlation ID", tail["correlation_id"]),
                         ("Timestamp", tail["timestamp"])]
        elif self.error is not None:
            rows += _wrapped("error", self.error.message)
        if self.error is not None and self.error.hint:
            rows += _wrapped("check next", self.error.hint)
        if self.note:
            rows.append(("note", self.note))
        return Table(self.title, ["field", "value"], rows)


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


# --- rotation ----------------------------------------------------------------------------------


def rotate(rb: Runbook) -> Table | Note:
    """Have the lab's kubelet refresh every projected token now (a real kubelet does it on its own)."""
    if rb.lab is None:
        return Note("live mode: skipped. The kubelet replaces the file by itself at about 80 % of the token's "
                    "lifetime (after about 48 minutes for the default hour); nothing to do.")
    k8s = rb.lab.section("aks")
    current = decode(read_token_file(k8s["token_file"])).claims
    time.sleep(max(0.0, current["iat"] + 1 - time.time()))  # so the new tokens' iat differs visibly
    response = http.request("POST", k8s["rotate_url"], what="the lab's kubelet", verify=rb.lab.ca_bundle, deadline=10)
    if response.status_code != 200:
        raise ProviderError(f"the lab's kubelet answered HTTP {response.status_code} at {k8s['rotate_url']}",
                            status=response.status_code, hint="that the lab's stack is a current wif-lab one")
    rows = [(shown_path(v["path"]).removeprefix("<lab state dir>/kubernetes/"), v["audience"], v["jti"])
            for v in response.json()["rotated"]]
    return Table("Token files the kubelet replaced", ["file (namespace/service account/…)", "audience", "new jti"],
                 rows)


def token_change(before: str, after: str) -> Table | Note:
    """Old and new content of a token file, side by side."""
    if before == after:
        return Note("the file still holds the same token: the kubelet has not replaced it yet")
    old, new = decode(before).claims, decode(after).claims
    rows = []
    for name in ("jti", "iat", "exp"):
        shown = [utc(c[name]) if name != "jti" else str(c[name]) for c in (old, new)]
        rows.append((name, shown[0], shown[1], "yes" if old[name] != new[name] else "no"))
    rows.append(("sub", old["sub"], new["sub"], "yes" if old["sub"] != new["sub"] else "no"))
    return Table("The token file before and after the refresh", ["claim", "before", "after", "changed"], rows)


def _mocks(rb: Runbook) -> tuple[KubernetesMock, EntraMock] | None:
    """The cluster and tenant objects, when the lab runs in this process."""
    if rb.lab is None or rb.lab.stack is None:
        return None
    k8s, entra = rb.lab.mock("kubernetes"), rb.lab.mock("entra")
    if not isinstance(k8s, KubernetesMock) or not isinstance(entra, EntraMock):
        return None
    return k8s, entra


def entra_received(rb: Runbook, token: str) -> Table | Note:
    """Which projected token Entra saw in its latest federated request (the lab's sign-in log)."""
    mocks = _mocks(rb)
    if mocks is None or not mocks[1].federated_requests:
        return Note("live mode: Entra's sign-in logs (Service principal sign-ins → Managed identity) record each "
                    "federated request.")
    seen = mocks[1].federated_requests[-1]
    claims = decode(token).claims
    presented = seen.claims or {}
    return summary("Entra's latest federated request", {
        "presented jti": presented.get("jti"),
        "is the file's current token": presented.get("jti") == claims.get("jti"),
        "answer": "token issued" if seen.issued else f"AADSTS{seen.error_code}",
    })


# --- lifetimes ---------------------------------------------------------------------------------


def lifetime_check(rb: Runbook, tokens: Sequence[str], *, issuer: Any, rule: Any) -> Table:
    """Each Entra token's ``exp − iat`` against the issuer's limit, and what the exchange made of it."""
    limit = getattr(issuer, "max_jwt_lifetime_seconds", None)
    rows = []
    for number, token in enumerate(tokens, 1):
        lifetime = decode(token).lifetime_seconds or 0
        outcome = rb.try_exchange(token, rule=rule, title="")
        if outcome.status == "refused":
            reason = (outcome.event or {}).get("status", {}).get("reason") or str(getattr(outcome.error, "error", ""))
            verdict = f"refused ({reason})"
        else:
            verdict = outcome.status
        rows.append((f"#{number}", str(lifetime), f"{lifetime / 60:.0f} min", str(limit or "—"), verdict))
    title = f"Entra tokens against max_jwt_lifetime_seconds {limit}" if limit else "Entra token lifetimes"
    return Table(title, ["token", "exp − iat (s)", "≈", "issuer limit (s)", "exchange"], rows)


# --- look-alike workloads (troubleshooting, scoping) --------------------------------------------


def _deployed(k8s: KubernetesMock, namespace: str, name: str, client_id: str) -> Any:
    """The pod for ``namespace/name`` (created with its annotated service account on first use)."""
    try:
        return k8s.pod(namespace, name)
    except KeyError:
        try:
            sa = k8s.service_account(namespace, name)
        except KeyError:
            sa = k8s.add_service_account(namespace, name, client_id=client_id)
        return k8s.deploy(sa)


def _client_for(client: WorkloadIdentityClient, token_file: str | Path, client_id: str | None = None
                ) -> WorkloadIdentityClient:
    return WorkloadIdentityClient(tenant_id=client.tenant_id, client_id=client_id or client.client_id,
                                  token_file=token_file, scope=client.scope, authority_host=client.authority,
                                  verify=client.verify)


def second_workload(rb: Runbook, client: WorkloadIdentityClient) -> WorkloadIdentityClient | None:
    """A new service account, ``inference/claude-batch``, annotated with the *same* identity (lab only)."""
    mocks = _mocks(rb)
    if mocks is None:
        return None
    pod = _deployed(mocks[0], *SECOND_SERVICE_ACCOUNT, client_id=client.client_id)
    return _client_for(client, pod.volumes[AZURE_VOLUME].path)


def trust_subject(rb: Runbook, client: WorkloadIdentityClient | None, *, name: str) -> Table | Note:
    """``az identity federated-credential create`` for the subject in ``client``'s token file (lab only)."""
    mocks = _mocks(rb)
    if mocks is None or client is None:
        return Note("live mode: skipped the lab-only step (federated credential).")
    k8s, entra = mocks
    identity = entra.tenant.identity_by_client_id(client.client_id)
    assert identity is not None
    subject = decode(read_token_file(client.token_file)).claims["sub"]
    fic = next((f for f in entra.federated_credentials(identity.name) if f.name == name), None)
    if fic is None:
        fic = entra.add_federated_credential(identity.name, name=name, issuer=k8s.issuer, subject=subject)
    return summary(f"Federated credential added to identity '{identity.name}'", {
        "name": fic.name, "issuer": fic.issuer, "subject": fic.subject, "audiences": list(fic.audiences)})


def with_token_file(rb: Runbook, client: WorkloadIdentityClient, volume: str) -> WorkloadIdentityClient | None:
    """The same workload pointed at another of the pod's token files (``kubernetes`` section key; lab only)."""
    if rb.lab is None:
        return None
    return _client_for(client, rb.lab.section("aks")[volume])


def stale_copy(rb: Runbook, client: WorkloadIdentityClient) -> WorkloadIdentityClient | None:
    """A copy of the projected token taken two hours ago and never re-read (lab only): it has expired."""
    mocks = _mocks(rb)
    if mocks is None:
        return None
    k8s = mocks[0]
    pod = k8s.default_pod
    old = k8s.mint(pod.service_account, TOKEN_EXCHANGE_AUDIENCE, pod=pod, now=time.time() - 2 * 3600)
    path = k8s.root / "stale-copy" / "azure-identity-token"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(old)
    return _client_for(client, path)


def other_workload(rb: Runbook, client: WorkloadIdentityClient) -> WorkloadIdentityClient | None:
    """``reporting/batch-reporting``: its own identity and a credential of its own, same tenant (lab only)."""
    mocks = _mocks(rb)
    if mocks is None:
        return None
    k8s, entra = mocks
    identity = entra.identity(OTHER_WORKLOAD[1])
    pod = _deployed(k8s, *OTHER_WORKLOAD, client_id=identity.client_id)
    subject = pod.service_account.subject
    if not any(f.subject == subject for f in entra.federated_credentials(identity.name)):
        entra.add_federated_credential(identity.name, name="aks-batch-reporting", issuer=k8s.issuer, subject=subject)
    return _client_for(client, pod.volumes[AZURE_VOLUME].path, client_id=identity.client_id)


def lab_only(rb: Runbook, token: str | None) -> str | None:
    """``token`` in the lab, ``None`` in live mode: a runbook never presents a token it knows will fail."""
    return token if rb.lab is not None else None


# --- the direct path ---------------------------------------------------------------------------


def direct_token(rb: Runbook, service_account: str | None = None) -> str | None:
    """The pod's projected token for the Claude API audience (``/var/run/secrets/anthropic.com/token``);
    another service account's in the ``inference`` namespace when named. Lab only."""
    if rb.lab is None:
        return None
    if service_account is None:
        return read_token_file(rb.lab.section("aks")["anthropic_token_file"])
    mocks = _mocks(rb)
    if mocks is None:
        return None
    try:
        pod = mocks[0].pod(SECOND_SERVICE_ACCOUNT[0], service_account)
    except KeyError:
        return None
    return read_token_file(pod.volumes[ANTHROPIC_VOLUME].path)


def direct_path_call(rb: Runbook, rule: Any, model: str) -> Table | Note:
    """The SDK on the direct path: its provider re-reads the projected file; one Messages call (lab only)."""
    if rb.lab is None or rule is None:
        return Note("live mode: skipped (the direct path needs the cluster issuer and its rule registered; see "
                    "the text above).")
    claude = rb.client(projected_token_provider(rb.lab.section("aks")["anthropic_token_file"]), rule=rule)
    reply = claude.messages.create(model=model, max_tokens=200,
                                   messages=[{"role": "user", "content": "Which identity am I calling as?"}])
    return Table("Claude, called with the projected token", ["field", "value"],
                 _wrapped("reply", reply.content[0].text))
