"""Azure managed-identity demonstrations: the VM's identities, Entra's two issuer forms, and the
look-alike tokens the troubleshooting cells present (a v1 token, another identity's token).

Token-fetching helpers are lab-only and return ``None`` in live mode: on a real VM the tenant may not
have the guide's ``https://api.anthropic.com`` registration, and a runbook never borrows a second
identity to provoke a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..display import Table, summary
from ..errors import WifLabError
from ..providers.azure_imds import ImdsClient
from ..redact import redact
from ..runbook import Note, Outcome, Runbook

# The resource the guide's cURL examples request. The lab's tenant registers it as the guide implies:
# an https identifier URI with requestedAccessTokenVersion unset, so IMDS answers with v1 tokens.
V1_RESOURCE = "https://api.anthropic.com"
SECOND_IDENTITY = "batch-reporting"  # another managed identity of the lab's tenant, attached to the same VM


def vm_identities(rb: Runbook) -> Table | Note:
    """The managed identities attached to the lab's VM, with the object ID a rule pins."""
    if rb.lab is None:
        return Note("live mode: read the identity's Object (principal) ID on the VM's Identity page, or with "
                    "`az vm identity show`; user-assigned identities also have a client ID.")
    rows = [(i["name"], i["kind"] + "-assigned", i["object_id"], i["client_id"])
            for i in rb.lab.section("azure")["identities"]]
    columns = ["identity", "kind", "object ID (oid)", "client ID"]
    return Table("Managed identities attached to the VM", columns, rows)


def entra_issuers(rb: Runbook, tenant_id: str) -> dict[str, str]:
    """The tenant's two issuer URLs: ``v2`` (the v2.0 endpoint) and ``v1`` (sts.windows.net form).

    In the lab both live on the mock Entra host; on Azure they are Microsoft's public hosts.
    """
    if rb.lab is not None:
        entra = rb.lab.section("entra")
        return {"v2": entra["issuer_v2"], "v1": entra["issuer_v1"]}
    return {"v2": f"https://login.microsoftonline.com/{tenant_id}/v2.0",
            "v1": f"https://sts.windows.net/{tenant_id}/"}


def issuer_choice(claims: Mapping[str, Any], issuers: Mapping[str, str]) -> Table:
    """Which of the tenant's issuers the token names, i.e. which one to register with Anthropic."""
    iss = claims.get("iss")
    version = next((v for v, url in issuers.items() if url == iss), None)
    verdict = (f"register the {version} issuer: {iss}" if version
               else "neither form: check the tenant ID, or whether the token came from this tenant at all")
    return summary("Which issuer to register", {
        "token ver": claims.get("ver", "—"),
        "token iss": iss,
        "v2.0 issuer of the tenant": issuers.get("v2"),
        "v1 issuer of the tenant": issuers.get("v1"),
        "so": verdict,
    })


def _token(rb: Runbook, resource: str, *, base_url: str | None, client_id: str | None = None) -> str | None:
    if rb.lab is None:
        return None
    return ImdsClient(resource, base_url=base_url, client_id=client_id).get_token().access_token


def v1_token(rb: Runbook, azure: Mapping[str, Any]) -> str | None:
    """The workload's own identity asking IMDS for the guide's resource: a v1 token (lab only)."""
    return _token(rb, V1_RESOURCE, base_url=azure.get("imds_url"), client_id=azure.get("client_id"))


def second_identity_token(rb: Runbook, azure: Mapping[str, Any]) -> str | None:
    """A token for the same audience, but for another managed identity of the tenant (lab only)."""
    if rb.lab is None:
        return None
    other = next(i for i in rb.lab.section("azure")["identities"] if i["name"] == rb.object_name(SECOND_IDENTITY))
    return _token(rb, azure["resource"], base_url=azure.get("imds_url"), client_id=other["client_id"])


def try_token(client: ImdsClient, title: str, *, rb: Runbook | None = None, lab_only: str = "") -> Outcome:
    """Ask IMDS for a token and show the answer, refusal included, instead of raising.

    With ``rb`` in live mode and a ``lab_only`` reason (a request made to fail on purpose), the request is
    not sent: the outcome says it was skipped, and why.
    """
    if rb is not None and rb.lab is None and lab_only:
        return Outcome(title, "skipped", note=f"skipped in live mode: {lab_only}")
    try:
        answer = client.get_token()
    except WifLabError as exc:
        return Outcome(title, "refused", error=exc)
    return Outcome(title, "accepted", extra=[("access_token", redact(answer.access_token)),
                                             ("expires_in", str(answer.expires_in))])
