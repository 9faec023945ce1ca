"""Google Cloud demonstrations: the machines the lab plays, the issuer registration (Google's real
issuer, keys found on the lab's host), a token without and with ``format=full``, rules the Admin API
refuses because Google is a shared issuer, and a stranger's token signed by the same Google.

No mock is imported: tokens come from the metadata server through :mod:`wif_lab.providers.google_cloud`,
and Anthropic objects through the runbook's Admin API client, so this works attached to
``wif-lab mock serve`` too. Steps that provoke a refusal or borrow another machine are lab-only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from anthropic import APIStatusError

from ..display import Table, summary
from ..errors import WifLabError
from ..providers.google_cloud import MetadataClient, from_connection
from ..redact import Secret, redact
from ..runbook import Note, Outcome, Runbook
from ..tokens import decode

ISSUER = "https://accounts.google.com"


def machines(rb: Runbook) -> Table | Note:
    """The machines whose metadata server the lab plays, and the service account each speaks for."""
    if rb.lab is None:
        return Note("live mode: the machine is this one. Read its service account with `gcloud compute instances "
                    "describe VM --format='value(serviceAccounts.email)'`, or on GKE from the Kubernetes service "
                    "account's iam.gke.io/gcp-service-account annotation.")
    rows = [(h["name"], "GKE pod" if h["kind"] == "gke" else "VM", h["project_id"], h["service_account"],
             h["unique_id"], "user-managed" if h["user_managed"] else "default compute")
            for h in rb.lab.section("gcp")["hosts"]]
    return Table("Machines the lab's metadata server answers for", ["machine", "kind", "project",
                 "service account (email)", "unique ID (sub)", "account"], rows)


def issuer_registration(rb: Runbook, google: Mapping[str, Any]) -> dict[str, Any]:
    """``register_issuer`` arguments: Google's issuer URL in discovery mode.

    In the lab the discovery document lives on the lab's host, so the registration names it as
    ``jwks.discovery_base`` (a documented issuer setting); with Google itself, plain discovery.
    """
    jwks: dict[str, Any] = {"type": "discovery"}
    if google.get("discovery_base"):
        jwks["discovery_base"] = google["discovery_base"]
    return {"issuer_url": ISSUER, "jwks": jwks}


def page_match(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The Claude page's rule: the audience, the full numeric ``sub`` and the ``email``; no subject_prefix."""
    return {"audience": claims["aud"], "claims": {"sub": claims["sub"], "email": claims.get("email")}}


def format_comparison(standard: str, full: str) -> Table:
    """Which claims each ``format`` puts in the token (the same account and audience)."""
    plain, rich = decode(standard).claims, decode(full).claims
    names = list(dict.fromkeys([*rich, *plain]))

    def shown(claims: Mapping[str, Any], name: str) -> str:
        if name not in claims:
            return "— (absent)"
        value = claims[name]
        return "{compute_engine: {…}}" if name == "google" else str(value)

    rows = [(name, shown(plain, name), shown(rich, name)) for name in names if name not in ("exp", "iat")]
    return Table("The same request with and without format=full", ["claim", "format=standard (default)",
                                                                     "format=full"], rows)


def try_token(client: MetadataClient, title: str, *, rb: Runbook | None = None, lab_only: str = "") -> Outcome:
    """Ask the metadata server for a token and show the answer, refusal included, instead of raising."""
    if rb is not None and rb.lab is None and lab_only:
        return Outcome(title, "skipped", note=f"skipped in live mode: {lab_only}")
    try:
        token = client.identity_token()
    except WifLabError as exc:
        extra = [("status", str(getattr(exc, "status", "")))] if getattr(exc, "status", None) else []
        return Outcome(title, "refused", error=exc, extra=extra)
    claims = decode(token).claims
    return Outcome(title, "accepted", extra=[("token", redact(token)), ("email in token", str("email" in claims))])


def other_machine_token(rb: Runbook, gcp: Mapping[str, Any], machine: str) -> Secret | None:
    """A ``format=full`` token for the same audience from another machine of the lab (lab only)."""
    if rb.lab is None:
        return None
    section = rb.lab.section("gcp")
    return from_connection(section, host=machine, audience=gcp.get("audience") or section["audience"]).identity_token()


def try_rule(rb: Runbook, title: str, *, name: str, issuer: Any, service_account: Any,
             match: dict[str, Any]) -> Table:
    """Ask the Admin API for a rule and show whether it accepts it (the refusal's message included).

    Lab only: in live mode the notebook creates nothing in your organization.
    """
    fields: dict[str, Any] = {"match": match}
    if rb.lab is None or issuer is None:
        return summary(title, {**fields, "outcome": "skipped in live mode: the notebook creates no rules in your "
                                                    "organization"})
    try:
        rule = rb.register_rule(name=name, issuer=issuer, service_account=service_account, match=match,
                                lab_only=True, token_lifetime_seconds=600)
    except APIStatusError as exc:  # the Admin API's refusal: an outcome to show, not a failure
        body = exc.body
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else str(exc)
        return summary(title, {**fields, "outcome": "refused by the Admin API",
                               "HTTP status": exc.status_code, "message": message})
    return summary(title, {**fields, "outcome": f"created ({rule.id})"})


def gke_pod(rb: Runbook) -> Table | Note:
    """The lab's GKE pod: its Kubernetes service account, the annotation, and where its metadata server is."""
    if rb.lab is None:
        return Note("live mode: on GKE, run this notebook in a pod whose Kubernetes service account carries "
                    "iam.gke.io/gcp-service-account: <SA email>; nothing else changes.")
    pod = next(h for h in rb.lab.section("gcp")["hosts"] if h["kind"] == "gke")
    k8s = pod["kubernetes"]
    return summary("The lab's GKE pod (Workload Identity)", {
        "Kubernetes service account": f"{k8s['namespace']}/{k8s['service_account']}",
        "its annotation": k8s["annotation"],
        "Google service account it acts as": pod["service_account"],
        "node (google.compute_engine.instance_name)": pod["instance_name"],
        "GCE_METADATA_HOST in the lab": pod["metadata_host"],
        "on GKE": "http://metadata.google.internal, answered by the GKE metadata server on the node",
    })


def compare_tokens(tokens: Mapping[str, str | None]) -> Table:
    """Side by side: the claims a rule reads, for several tokens."""
    names = ("iss", "sub", "email", "aud")
    decoded = {label: decode(t).claims for label, t in tokens.items() if t is not None}
    rows = [(name, *[str(c.get(name, "— (absent)")) for c in decoded.values()]) for name in names]
    rows.append(("google.compute_engine.project_id",
                 *[str(c.get("google", {}).get("compute_engine", {}).get("project_id", "—"))
                   for c in decoded.values()]))
    return Table("What the rule sees", ["claim", *decoded], rows)


REAL_JWKS_URI = "https://www.googleapis.com/oauth2/v3/certs"


def google_settings(rb: Runbook, *, jwks_uri: str = "") -> dict[str, Any]:
    """Google's issuer as this run meets it: the lab's copy of its documents, or Google's own."""
    if rb.lab is not None:
        section = rb.lab.section("google")
        return {"issuer": ISSUER, "jwks_uri": jwks_uri or section["jwks_uri"],
                "discovery_base": section["discovery_base"]}
    return {"issuer": ISSUER, "jwks_uri": jwks_uri or REAL_JWKS_URI, "discovery_base": None}


def metadata_refusals(rb: Runbook, gcp: Mapping[str, Any]) -> Table:
    """The metadata server's answers to the two classic mistakes, shown instead of raised (lab only)."""
    host = gcp.get("metadata_host") or None
    without_header = MetadataClient(gcp["audience"], host=host, flavor=None)
    without_audience = MetadataClient(gcp["audience"], host=host)
    without_audience.audience = ""  # the client refuses an empty audience itself; send it anyway, to hear the server
    rows = []
    for title, client in (("no Metadata-Flavor header", without_header), ("no audience", without_audience)):
        if rb.lab is None:
            rows.append((title, "—", "skipped in live mode: a request made to fail on purpose", "—"))
            continue
        try:
            client.identity_token()
        except WifLabError as exc:
            rows.append((title, str(getattr(exc, "status", "—")), getattr(exc, "description", None) or exc.message,
                         exc.hint))
        else:
            rows.append((title, "200", "answered (unexpected)", "—"))
    return Table("The metadata server's refusals", ["request", "HTTP status", "answer", "check next"], rows)
