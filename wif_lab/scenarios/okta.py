"""Okta demonstrations: tokens from the second service app, from the org authorization server, and from
an app left at Okta's defaults (DPoP required). Lab-only: in live mode each helper returns ``None`` and
the outcome says the step was skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..display import ShownAsTable, Table, claims_table, summary
from ..errors import ProviderError, WifLabError
from ..providers.okta import ASSERTION_METHODS, CLIENT_ASSERTION_TYPE, OktaClient, PrivateKey
from ..redact import redact
from ..runbook import Note, Runbook

SECRET_SHOWN = "‹from OKTA_CLIENT_SECRET, never shown›"


def client_authentication(client: OktaClient) -> Table | Note:
    """How the app proves itself to Okta: a fresh client assertion's claims, or where its secret goes."""
    if client.auth_method in ASSERTION_METHODS:
        signer = "the workload's private key" if client.auth_method == "private_key_jwt" else "HS256 and the secret"
        return claims_table(client.client_assertion(), title=f"Client assertion (signed with {signer})")
    where = "the Authorization header (Basic)" if client.auth_method == "client_secret_basic" else "the form body"
    return Note(f"{client.auth_method}: the client secret from OKTA_CLIENT_SECRET goes in {where} of every token "
                "request; there is no assertion to show, and the secret itself is never shown.")


def token_request(client: OktaClient) -> Table:
    """The token request's form (and headers) as the client sends it, secrets redacted."""
    fields: dict[str, Any] = {"grant_type": "client_credentials", "scope": client.scope}
    if client.auth_method in ASSERTION_METHODS:
        fields.update(client_assertion_type=CLIENT_ASSERTION_TYPE,
                      client_assertion=redact(client.client_assertion(), short=True))
    elif client.auth_method == "client_secret_post":
        fields.update(client_id=client.client_id, client_secret=SECRET_SHOWN)
    else:
        fields["header Authorization"] = f"Basic base64({client.client_id}:{SECRET_SHOWN})"
    if client.dpop_key_thumbprint:
        fields["header DPoP"] = (f"a proof signed with the DPoP key (thumbprint {client.dpop_key_thumbprint}), "
                                 "naming POST and this URL; Okta's first answer asks for a nonce")
    return summary("POST " + client.token_endpoint, fields)


def second_app_client(rb: Runbook) -> OktaClient | None:
    """The scenario's second service app on the same authorization server (lab only)."""
    if rb.lab is None:
        return None
    return OktaClient.from_connection(rb.lab.section("okta"), rb.lab.ca_bundle, app="second_app")


def org_server_client(rb: Runbook) -> OktaClient | None:
    """The workload app asking the *org* authorization server (``/oauth2/v1/token``) instead (lab only)."""
    if rb.lab is None:
        return None
    section = rb.lab.section("okta")
    org = section["org_authorization_server"]
    return OktaClient.from_connection(section, rb.lab.ca_bundle, issuer=org["issuer"],
                                      token_endpoint=org["token_endpoint"], scope=org["scope"])


def new_app_client(rb: Runbook, *, dpop_key: PrivateKey | None = None) -> OktaClient | None:
    """The app created with Okta's console defaults, "Require DPoP" still ticked (lab only).

    With ``dpop_key`` the client sends a DPoP proof signed by that key with every token request.
    """
    if rb.lab is None:
        return None
    return OktaClient.from_connection(rb.lab.section("okta"), rb.lab.ca_bundle, app="new_app", dpop_key=dpop_key)


def token_or_none(client: OktaClient | None) -> str | None:
    return client.fetch_token().access_token if client is not None else None


@dataclass(repr=False)
class OktaOutcome(ShownAsTable):
    """One token request shown as a table: the token (redacted) and its binding, or Okta's refusal."""

    title: str
    status: str  # "accepted" | "refused" | "skipped"
    token_type: str = ""
    claims: dict[str, Any] = field(default_factory=dict)
    token: str = ""
    bound_to_proof_key: bool | None = None
    error: WifLabError | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def table(self) -> Table:
        rows: list[tuple[str, str]] = [("outcome", self.status)]
        if self.status == "skipped":
            rows.append(("note", "lab-only demonstration (skipped in live mode)"))
        if self.accepted:
            rows += [("access_token", redact(self.token, short=True)), ("token_type", self.token_type),
                     ("sub", str(self.claims.get("sub"))), ("scp", " ".join(self.claims.get("scp", [])))]
            if "cnf" in self.claims:
                rows.append(("cnf.jkt equals the proof key's thumbprint", str(self.bound_to_proof_key).lower()))
        if isinstance(self.error, ProviderError):
            rows += [("HTTP status", str(self.error.status)), ("error", str(self.error.error)),
                     ("error_description", str(self.error.description))]
        elif self.error is not None:
            rows.append(("error", self.error.message))
        if self.error is not None and self.error.hint:
            rows.append(("check next", self.error.hint))
        return Table(self.title, ["field", "value"], rows)


def try_token(client: OktaClient | None, title: str) -> OktaOutcome:
    """Ask Okta for a token and report the answer instead of raising (``None`` client: a skipped step)."""
    if client is None:
        return OktaOutcome(title, "skipped")
    try:
        token = client.fetch_token()
    except WifLabError as exc:
        return OktaOutcome(title, "refused", error=exc)
    claims = token.claims()
    bound = None
    if "cnf" in claims:
        bound = claims["cnf"].get("jkt") == client.dpop_key_thumbprint
    return OktaOutcome(title, "accepted", token_type=token.token_type, claims=claims, token=token.access_token,
                       bound_to_proof_key=bound)
