"""Notebook 03's lab-side set-up, through the lab's ``/lab/…`` routes only (never the mock objects), so the same
cells work against an embedded lab and against `wif-lab mock serve`: the kubelet's refresh, the look-alike
workloads (another service account, another identity, a stale copy of the token), the federated credential an
admin would add with `az`, and Entra's sign-in log. In live mode each helper returns ``None`` (or a
:class:`Note`): a runbook on a real cluster creates nothing and presents no token it knows will be refused.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

from ... import http
from ...display import Table, summary
from ...errors import ProviderError
from ...lab import default_run_root
from ...providers.aks import (
    ANTHROPIC_VOLUME,
    AZURE_VOLUME,
    TOKEN_EXCHANGE_AUDIENCE,
    WorkloadIdentityClient,
    read_token_file,
    shown_path,
)
from ...runbook import Note, Runbook
from ...tokens import decode
from .workload import client_for

SECOND_SERVICE_ACCOUNT = ("inference", "claude-batch")  # a new workload that reuses the pod's identity
OTHER_WORKLOAD = ("reporting", "batch-reporting")  # a workload with its own identity in the same tenant
STALE_AGE = 2 * 3600  # the stale copy was taken two hours ago


def _call(rb: Runbook, method: str, url: str, what: str, *, missing_ok: bool = False,
          **kwargs: Any) -> dict[str, Any] | None:
    assert rb.lab is not None
    response = http.request(method, url, what=what, verify=rb.lab.ca_bundle, deadline=10, **kwargs)
    if missing_ok and response.status_code == 404:
        return None
    if response.status_code != 200:
        raise ProviderError(f"{what} answered HTTP {response.status_code} at {url}: {response.text[:300]}",
                            status=response.status_code,
                            hint="that the lab is a current wif-lab stack (restart `wif-lab mock serve` after an "
                            "upgrade)")
    return dict(response.json())


def _pods_url(rb: Runbook, namespace: str, name: str) -> str:
    """Where the lab runs ``namespace/name``: on a shared lab, in the attendee's own ``<attendee>-<namespace>``."""
    assert rb.lab is not None
    k8s = rb.lab.section("aks")
    pods = k8s.get("pods_url") or f"{k8s['base_url']}/lab/pods"  # a lab from before attendees had namespaces
    return f"{pods}/{rb.object_name(namespace)}/{name}"


def _pod(rb: Runbook, namespace: str, name: str, client_id: str | None) -> dict[str, Any]:
    """The pod running as ``namespace/name`` (account annotated with ``client_id``), created on first use."""
    url = _pods_url(rb, namespace, name)
    pod = _call(rb, "PUT", url, "the lab's cluster", json={"client_id": client_id})
    assert pod is not None
    return pod


def _identity(rb: Runbook, *, name: str | None = None, client_id: str | None = None) -> dict[str, Any]:
    assert rb.lab is not None
    identities = rb.lab.section("entra")["identities"]
    found = next((i for i in identities if (name and i["name"] == name) or
                  (client_id and i["client_id"] == client_id.lower())), None)
    if found is None:
        raise ProviderError(f"the lab's tenant has no managed identity {name or client_id!r}",
                            hint="the connection file lists the tenant's identities under entra.identities")
    return dict(found)


def _credential(rb: Runbook, identity: str, *, name: str, subject: str) -> dict[str, Any]:
    """`az identity federated-credential create` for the cluster's issuer and ``subject`` (or the existing one)."""
    assert rb.lab is not None
    url = f"{rb.lab.section('entra')['base_url']}/lab/identities/{identity}/federated_credentials/{name}"
    fic = _call(rb, "PUT", url, "the lab's tenant",
                json={"issuer": rb.lab.section("aks")["issuer"], "subject": subject})
    assert fic is not None
    return fic


# --- rotation --------------------------------------------------------------------------------------


def rotate(rb: Runbook) -> Table | Note:
    """Have the lab's kubelet refresh every projected token now (a real kubelet does it on its own)."""
    if rb.lab is None:
        return Note("live mode: skipped. The kubelet replaces the file by itself at about 80 % of the token's "
                    "lifetime (after about 48 minutes for the default hour); nothing to do.")
    k8s = rb.lab.section("aks")
    current = decode(read_token_file(k8s["token_file"])).claims
    time.sleep(max(0.0, current["iat"] + 1 - time.time()))  # so the new tokens' iat differs visibly
    answer = _call(rb, "POST", k8s["rotate_url"], "the lab's kubelet")
    assert answer is not None
    rows = [(shown_path(v["path"]).removeprefix("<lab state dir>/kubernetes/"), v["audience"], v["jti"])
            for v in answer["rotated"]]
    return Table("Token files the kubelet replaced", ["file (namespace/service account/…)", "audience", "new jti"],
                 rows)


def entra_received(rb: Runbook, token: str) -> Table | Note:
    """Which projected token Entra saw in the pod's identity's latest federated request (the lab's sign-in log;
    filtered by the identity, so on a shared lab it is never another attendee's request)."""
    seen = None
    if rb.lab is not None:
        client_id = rb.lab.section("aks")["env"]["AZURE_CLIENT_ID"]
        log = _call(rb, "GET", f"{rb.lab.section('entra')['base_url']}/lab/federated_requests",
                    "the lab tenant's sign-in log", params={"limit": 1, "client_id": client_id})
        seen = (log or {}).get("data", [None])[0] if (log or {}).get("data") else None
    if seen is None:
        return Note("live mode: Entra's sign-in logs (Service principal sign-ins → Managed identity) record each "
                    "federated request.")
    claims = decode(token).claims
    presented = seen.get("claims") or {}
    return summary("Entra's latest federated request", {
        "presented jti": presented.get("jti"),
        "is the file's current token": presented.get("jti") == claims.get("jti"),
        "answer": "token issued" if seen.get("issued") else f"AADSTS{seen.get('error_code')}",
    })


# --- look-alike workloads (troubleshooting, scoping) ------------------------------------------------


def second_workload(rb: Runbook, client: WorkloadIdentityClient) -> WorkloadIdentityClient | None:
    """A new service account, ``inference/claude-batch``, annotated with the *same* identity (lab only)."""
    if rb.lab is None:
        return None
    pod = _pod(rb, *SECOND_SERVICE_ACCOUNT, client_id=client.client_id)
    return client_for(client, pod["token_files"][AZURE_VOLUME])


def trust_subject(rb: Runbook, client: WorkloadIdentityClient | None, *, name: str) -> Table | Note:
    """``az identity federated-credential create`` for the subject in ``client``'s token file (lab only)."""
    if rb.lab is None or client is None:
        return Note("live mode: skipped the lab-only step (federated credential).")
    identity = _identity(rb, client_id=client.client_id)
    subject = decode(read_token_file(client.token_file)).claims["sub"]
    fic = _credential(rb, identity["name"], name=name, subject=subject)
    return summary(f"Federated credential added to identity '{identity['name']}'", {
        "name": fic["name"], "issuer": fic["issuer"], "subject": fic["subject"], "audiences": list(fic["audiences"])})


def with_token_file(rb: Runbook, client: WorkloadIdentityClient, volume: str) -> WorkloadIdentityClient | None:
    """The same workload pointed at another of the pod's token files (``aks`` section key; lab only)."""
    if rb.lab is None:
        return None
    return client_for(client, rb.lab.section("aks")[volume])


def stale_copy(rb: Runbook, client: WorkloadIdentityClient) -> WorkloadIdentityClient | None:
    """A copy of the projected token taken two hours ago and never re-read (lab only): it has expired."""
    if rb.lab is None:
        return None
    k8s = rb.lab.section("aks")
    namespace, name = k8s["service_account"].split("/")
    minted = _call(rb, "POST", f"{k8s['base_url']}/lab/tokens", "the lab's cluster",
                   json={"namespace": namespace, "service_account": name, "audience": TOKEN_EXCHANGE_AUDIENCE,
                         "age_seconds": STALE_AGE})
    assert minted is not None
    root = default_run_root()
    root.mkdir(parents=True, exist_ok=True)
    # This kernel's own folder (named by its pid, so a later lab prunes it once the kernel is gone).
    folder = tempfile.mkdtemp(prefix=f"{os.getpid()}-stale-", dir=root)
    path = os.path.join(folder, "kubernetes", "stale-copy", "azure-identity-token")
    os.makedirs(os.path.dirname(path))
    with open(path, "w", encoding="ascii") as handle:
        handle.write(minted["token"])
    return client_for(client, path)


def other_workload(rb: Runbook, client: WorkloadIdentityClient) -> WorkloadIdentityClient | None:
    """``reporting/batch-reporting``: its own identity and a credential of its own, same tenant (lab only)."""
    if rb.lab is None:
        return None
    identity = _identity(rb, name=rb.object_name(OTHER_WORKLOAD[1]))
    pod = _pod(rb, *OTHER_WORKLOAD, client_id=identity["client_id"])
    _credential(rb, identity["name"], name="aks-batch-reporting", subject=pod["subject"])
    return client_for(client, pod["token_files"][AZURE_VOLUME], client_id=identity["client_id"])


def lab_only(rb: Runbook, token: str | None) -> str | None:
    """``token`` in the lab, ``None`` in live mode: a runbook never presents a token it knows will fail."""
    return token if rb.lab is not None else None


# --- the direct path --------------------------------------------------------------------------------


def direct_token(rb: Runbook, service_account: str | None = None) -> str | None:
    """The pod's projected token for the Claude API audience (``/var/run/secrets/anthropic.com/token``);
    another service account's in the ``inference`` namespace when named (and running). Lab only."""
    if rb.lab is None:
        return None
    k8s = rb.lab.section("aks")
    if service_account is None:
        return read_token_file(k8s["anthropic_token_file"])
    pod = _call(rb, "GET", _pods_url(rb, SECOND_SERVICE_ACCOUNT[0], service_account), "the lab's cluster",
                missing_ok=True)
    return read_token_file(pod["token_files"][ANTHROPIC_VOLUME]) if pod is not None else None
