"""The notebooks' parameters under the names a user types, and where each value is found.

Code reads settings under short internal keys (``okta.issuer``); a person sets ``okta_issuer`` in the
parameters cell or with ``-p okta_issuer …``. Every message about a missing or malformed setting names
the parameter and says where its value comes from, so this table is the one place that maps the two.
Secrets are never parameters (papermill copies parameters into the executed notebook): they come from
environment variables, listed here too.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Parameter:
    """One notebook parameter: its name in the parameters cell and where to find its value."""

    name: str
    where: str


ANTHROPIC: dict[str, Parameter] = {p.name: p for p in (
    Parameter("organization_id", "Claude Console → Settings → Organization: the organization ID (a UUID)"),
    Parameter("federation_rule_id", "Claude Console → Settings → Workload identity → Rules: the rule's ID (fdrl_…)"),
    Parameter("service_account_id",
              "Claude Console → Settings → Workload identity → Service accounts: the rule's target (svac_…)"),
    Parameter("federation_issuer_id", "Claude Console → Settings → Workload identity → Issuers: the ID (fdis_…)"),
    Parameter("workspace_id", "Claude Console → Settings → Workspaces: the ID (wrkspc_…), or 'default'"),
    Parameter("anthropic_base_url", "leave empty for https://api.anthropic.com"),
    Parameter("ca_bundle", "a PEM of the CA a TLS-inspecting proxy signs with; empty for the system's CAs"),
)}

# Per provider: internal setting key → the notebook parameter that sets it.
PROVIDERS: dict[str, dict[str, Parameter]] = {
    "okta": {
        "issuer": Parameter("okta_issuer", "Okta Admin Console → Security → API → Authorization Servers → your "
                            "server: the Issuer URI, https://<your-domain>.okta.com/oauth2/<server-id>"),
        "client_id": Parameter("okta_client_id", "Okta Admin Console → Applications → your API Services app → "
                               "General: the Client ID (0oa…)"),
        "private_key": Parameter("okta_private_key", "the path of the PEM private key whose public JWK is registered "
                                 "on the app (General → Client Credentials → Public keys)"),
        "key_id": Parameter("okta_key_id", "the KID Okta shows next to that public key on the app"),
        "scope": Parameter("okta_scope", "Okta Admin Console → Security → API → Authorization Servers → your server "
                           "→ Scopes: one the access policy grants this app"),
        "dpop_key": Parameter("okta_dpop_key", "only when the app has 'Require DPoP' ticked: the path of a PEM "
                              "private key (EC P-256 or RSA) that signs the DPoP proofs"),
        "auth_method": Parameter("okta_client_auth", "the app's client authentication: private_key_jwt (default with "
                                 "okta_private_key), client_secret_basic, client_secret_post or client_secret_jwt "
                                 "(the secret from the OKTA_CLIENT_SECRET environment variable)"),
    },
    "azure": {
        "tenant_id": Parameter("tenant_id", "Azure portal → Microsoft Entra ID → Overview: the Tenant ID"),
        "resource": Parameter("resource", "the audience app registration's Application ID URI, api://<APP_ID> "
                              "(App registrations → your app → Expose an API)"),
        "client_id": Parameter("identity_client_id", "Managed Identities → your user-assigned identity → Overview: "
                               "the Client ID; leave empty for the VM's system-assigned identity"),
    },
    "aks": {
        "tenant_id": Parameter("tenant_id", "AZURE_TENANT_ID in the pod (the workload-identity webhook sets it)"),
        "client_id": Parameter("client_id", "AZURE_CLIENT_ID in the pod: the identity's client ID on the service "
                               "account's azure.workload.identity/client-id annotation"),
        "token_file": Parameter("token_file", "AZURE_FEDERATED_TOKEN_FILE in the pod: the projected token's path"),
        "scope": Parameter("scope", "api://<APP_ID>/.default of the app registration that stands for the Claude API"),
    },
    # Notebook 03's direct path (no Entra hop): the pod's second projected token and a rule on the cluster's own
    # issuer. Not a doctor provider: `wif-lab doctor --token-file` checks that path as the SDK reads it.
    "aks_direct": {
        "anthropic_token_file": Parameter("anthropic_token_file", "ANTHROPIC_IDENTITY_TOKEN_FILE in the pod: the "
                                          "anthropic-token volume's mountPath + path (audience https://api.anthropic."
                                          "com), /var/run/secrets/anthropic.com/token in setup/kubernetes"),
        "direct_rule_id": Parameter("direct_federation_rule_id", "Claude Console → Settings → Workload identity → "
                                    "Rules: the ID (fdrl_…) of the rule on the cluster's OIDC issuer (`az aks show "
                                    "--query oidcIssuerProfile.issuerUrl`); `wif-lab setup anthropic` prints it"),
        "direct_service_account_id": Parameter("direct_service_account_id", "Claude Console → Settings → Workload "
                                               "identity → Service accounts: that rule's target (svac_…)"),
        "direct_issuer_id": Parameter("direct_federation_issuer_id", "optional: Claude Console → Settings → "
                                      "Workload identity → Issuers: the cluster issuer's ID (fdis_…); read from "
                                      "the rule when empty"),
    },
    "spire": {
        "endpoint_socket": Parameter("spiffe_endpoint_socket", "SPIFFE_ENDPOINT_SOCKET in the workload's container: "
                                     "unix:///run/spire/sockets/agent.sock, the SPIRE agent's socket mounted in"),
        "issuer": Parameter("spiffe_issuer", "the SPIRE server's jwt_issuer (server.conf), the URL of the OIDC "
                            "Discovery Provider, e.g. https://oidc-discovery.prod.example.com"),
        "spiffe_id": Parameter("spiffe_id", "the workload's SPIFFE ID: spire-server entry show (spiffe://<trust "
                               "domain>/ns/<namespace>/sa/<service account>)"),
        "token_file": Parameter("spiffe_token_file", "optional: where spiffe-helper writes the JWT-SVID, "
                                "<cert_dir>/<jwt_svid_file_name> (/var/run/secrets/anthropic.com/token)"),
    },
    "github_actions": {
        "audience": Parameter("github_audience", "the audience the job asks GitHub for: the rule's audience, "
                              "https://api.anthropic.com in the guide"),
        "discovery_base": Parameter("github_discovery_base", "leave empty against GitHub (Anthropic reads "
                                    "https://token.actions.githubusercontent.com/.well-known/openid-configuration); "
                                    "the issuer's jwks.discovery_base otherwise"),
    },
    "aws": {
        "region": Parameter("aws_region", "the region the workload runs in (AWS_REGION on Lambda and ECS; the "
                            "instance's region on EC2), e.g. us-east-1: GetWebIdentityToken is regional only"),
    },
    "gcp": {
        "audience": Parameter("audience", "the audience your rule expects (match.audience): https://api.anthropic.com "
                              "unless you registered another"),
        "metadata_host": Parameter("metadata_host", "leave empty on Google Cloud (metadata.google.internal, or "
                                   "GCE_METADATA_HOST when set); host[:port] of another metadata server"),
        "jwks_uri": Parameter("google_jwks_uri", "leave empty for Google's https://www.googleapis.com/oauth2/v3/certs; "
                              "only to verify tokens against another copy of Google's keys"),
    },
    "kubernetes": {
        "token_file": Parameter("token_file", "ANTHROPIC_IDENTITY_TOKEN_FILE in the pod: the projected volume's "
                                "mountPath + path, /var/run/secrets/anthropic.com/token in the guide"),
        "api_server": Parameter("api_server", "the kubeconfig's server (`kubectl config view --minify`); in a pod "
                                "the in-cluster address https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT"),
    },
}

# Secrets a provider takes from the environment only: internal key → variable.
SECRET_VARIABLES: dict[str, dict[str, str]] = {
    "okta": {"client_secret": "OKTA_CLIENT_SECRET"},
}


def parameter(provider: str, key: str) -> Parameter:
    """The parameter behind ``provider``'s setting ``key`` (a made-up one named after the key if unlisted)."""
    known = PROVIDERS.get(provider.split(".")[0], {})
    return known.get(key) or ANTHROPIC.get(key) or Parameter(key, "")


def missing_message(provider: str, keys: Iterable[str]) -> tuple[str, str]:
    """(message, hint) for settings that live mode lacks, by their notebook parameter names."""
    params = [parameter(provider, key) for key in keys]
    message = f"live mode needs these parameters: {', '.join(p.name for p in params)}"
    where = "; ".join(f"{p.name}: {p.where}" for p in params if p.where)
    hint = (f"{where}. " if where else "") + "Set them in the parameters cell, or pass -p NAME VALUE"
    return message, hint


def names(mapping: Mapping[str, Parameter]) -> list[str]:
    return [p.name for p in mapping.values()]


def credential_problem(provider: str, values: Mapping[str, object]) -> tuple[str, str] | None:
    """(message, hint) when live settings give a provider no way to authenticate, else None."""
    if provider != "okta" or values.get("private_key") or values.get("client_secret"):
        return None
    method = values.get("auth_method") or "private_key_jwt"
    key, secret = PROVIDERS["okta"]["private_key"], SECRET_VARIABLES["okta"]["client_secret"]
    if method == "private_key_jwt":
        return (f"live mode needs {key.name} (and okta_key_id) for private_key_jwt, or okta_client_auth with a "
                f"client secret in {secret}", f"{key.name}: {key.where}")
    return (f"okta_client_auth {method} needs the app's client secret in the environment variable {secret}",
            f"export {secret} before starting Jupyter or papermill (a secret is never a parameter: papermill "
            "writes parameters into the executed notebook); Okta shows it under General → Client Credentials")


PAIR_OPTION = "--parameter-pair"


def add_parameter_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``-p NAME VALUE``, taking VALUE verbatim even when it starts with a dash.

    argparse reads a value such as a key id ``-Xc9…`` (base64url may start with ``-``) as an unknown
    option. :func:`bind_parameter_pairs` rewrites each ``-p NAME VALUE`` into one hidden
    ``--parameter-pair=NAME=VALUE`` token before parsing; ``-p`` stays in the help as people type it.
    """
    parser.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"), help=help)
    parser.add_argument(PAIR_OPTION, dest="parameter", action="append", type=_split_pair, help=argparse.SUPPRESS)


def bind_parameter_pairs(argv: Sequence[str]) -> list[str]:
    """Join every ``-p``/``--parameter`` with the two tokens after it, whatever those tokens look like."""
    out: list[str] = []
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in ("-p", "--parameter") and i + 2 < len(tokens) and "=" not in tokens[i + 1]:
            out.append(f"{PAIR_OPTION}={tokens[i + 1]}={tokens[i + 2]}")
            i += 3
            continue
        if token == "--":
            out.extend(tokens[i:])
            break
        out.append(token)
        i += 1
    return out


def _split_pair(text: str) -> list[str]:
    name, _, value = text.partition("=")
    return [name, value]
