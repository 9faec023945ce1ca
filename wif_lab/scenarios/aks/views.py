"""Notebook 03's tables: data in, a :class:`Table` out, no I/O (the cluster's and tenant's facts come from the
connection file the runbook already read)."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ...difference import mark_values
from ...display import WIDTH, ShownAsTable, Table, summary
from ...errors import ProviderError, WifLabError
from ...oauth import CLIENT_ASSERTION_TYPE
from ...oauth import ENTRA_ERROR_DESCRIPTION_TAIL as ERROR_DESCRIPTION_TAIL
from ...providers.aks import ANTHROPIC_VOLUME, AZURE_VOLUME, POD_MOUNT_ROOT, VOLUME_PATHS, WorkloadIdentityClient
from ...redact import redact
from ...runbook import Note, Outcome, Runbook
from ...tokens import decode, utc

WRAP = WIDTH  # long Entra messages: one row per line, so the field name stays next to its first line


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


def lifetime_table(tokens: Sequence[str], outcomes: Sequence[Outcome], *, issuer: Any) -> Table:
    """Each Entra token's ``exp − iat`` against the issuer's limit, next to what its exchange made of it."""
    limit = getattr(issuer, "max_jwt_lifetime_seconds", None)
    rows = []
    for number, (token, outcome) in enumerate(zip(tokens, outcomes, strict=True), 1):
        lifetime = decode(token).lifetime_seconds or 0
        if outcome.status == "refused":
            reason = (outcome.event or {}).get("status", {}).get("reason") or str(getattr(outcome.error, "error", ""))
            verdict = f"refused ({reason})"
        else:
            verdict = outcome.status
        rows.append((f"#{number}", str(lifetime), f"{lifetime / 60:.0f} min", str(limit or "—"), verdict))
    title = f"Entra tokens against max_jwt_lifetime_seconds {limit}" if limit else "Entra token lifetimes"
    return Table(title, ["token", "exp − iat (s)", "≈", "issuer limit (s)", "exchange"], rows)
