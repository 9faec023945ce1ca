"""``wif-lab doctor``: the checks from a shell, in the workload's own environment.

Run where the workload runs (the pod, the VM, the CI job). Without options it checks what the SDK would
use there: the IDs and identity token from the ``ANTHROPIC_*`` variables or the active profile. ``-p``
takes the notebooks' parameter names to add or override values; ``--provider`` fetches the token the way
a notebook does (Okta client credentials, IMDS, AKS hop 1, the GitHub Actions runner, or a JWT-SVID from the SPIRE
agent). An ``org:admin`` token in
``WIF_LAB_ADMIN_TOKEN`` lets it read the issuer and rule back. Exit status: 0 when no check failed, 1 when
one did, 2 for a usage error. ``--json`` prints the same report for a pipeline; neither form holds a secret.
"""

from __future__ import annotations

import argparse
import difflib
import os
from pathlib import Path

from ..errors import ConfigurationError
from ..lab import ENV_CONNECTION
from ..parameters import ANTHROPIC, PROVIDERS
from ..runbook import ENV_ADMIN_TOKEN, Runbook, open_runbook
from . import sdk_env
from .report import Report
from .run import run
from .sources import FileSource, ProviderSource, TokenSource

PROVIDER_CHOICES = {"file": None, "okta": "okta", "azure-imds": "azure", "aks": "aks", "spiffe": "spire",
                    "github-actions": "github_actions", "gcp": "gcp", "aws": "aws"}
DEFAULT_OKTA_SCOPE = "anthropic.access"


def allowed_parameters(provider: str) -> list[str]:
    section = PROVIDER_CHOICES[provider]
    own = [p.name for p in PROVIDERS[section].values()] if section else []
    return [*ANTHROPIC, *own]


def parse(pairs: list[list[str]] | None, provider: str) -> dict[str, str]:
    """``-p NAME VALUE`` pairs, every name checked against what this provider takes (a typo is an error)."""
    allowed = allowed_parameters(provider)
    given: dict[str, str] = {}
    for name, value in pairs or []:
        if name not in allowed:
            guess = difflib.get_close_matches(name, allowed, n=1)
            raise ConfigurationError(f"doctor takes no parameter {name!r} with --provider {provider}"
                                     + (f" (did you mean {guess[0]!r}?)" if guess else ""),
                                     hint=f"parameters: {', '.join(allowed)}")
        given[name] = value
    return given


def runbook(mode: str, params: dict[str, str], resolution: sdk_env.Resolution) -> Runbook:
    """Live: the SDK's own settings here, then ``-p`` on top. Mock: the lab (``WIF_LAB_CONNECTION``)."""
    sdk = resolution.settings if resolution.kind in ("environment", "profile") else {}

    def value(name: str, sdk_key: str | None = None, variable: str | None = None) -> str:
        return (params.get(name) or (sdk.get(sdk_key or name) if sdk else None)
                or (os.environ.get(variable) if variable else None) or "")

    ids = {"federation_issuer_id": value("federation_issuer_id"),
           "federation_rule_id": value("federation_rule_id", variable=sdk_env.ENV_RULE),
           "service_account_id": value("service_account_id", variable=sdk_env.ENV_SERVICE_ACCOUNT),
           "workspace_id": value("workspace_id", variable=sdk_env.ENV_WORKSPACE)}
    organization = value("organization_id", variable=sdk_env.ENV_ORG)
    base_url = value("anthropic_base_url", "base_url", sdk_env.ENV_BASE_URL)
    if mode == "mock":
        return open_runbook("mock", anthropic_base_url=base_url, organization_id=organization,
                            ca_bundle=params.get("ca_bundle", ""), **ids)
    return Runbook("live", None, base_url=base_url or sdk_env.DEFAULT_BASE_URL, organization_id=organization,
                   verify=params.get("ca_bundle") or True, admin_token=os.environ.get(ENV_ADMIN_TOKEN) or None,
                   ids={k: v or None for k, v in ids.items()})


def token_source(provider: str, token_file: str | None, params: dict[str, str], rb: Runbook) -> TokenSource | None:
    """The token as the workload gets it: a file, or the provider's client as the notebooks build it."""
    if provider == "file":
        return FileSource(Path(token_file), origin="--token-file") if token_file else None
    if provider == "okta":
        from ..providers.okta import OktaClient

        okta = rb.settings("okta", issuer=params.get("okta_issuer", ""), client_id=params.get("okta_client_id", ""),
                           private_key=params.get("okta_private_key", ""), key_id=params.get("okta_key_id", ""),
                           scope=params.get("okta_scope", DEFAULT_OKTA_SCOPE), dpop_key=params.get("okta_dpop_key", ""),
                           auth_method=params.get("okta_client_auth", ""), required=("issuer", "client_id", "scope"))
        client = OktaClient(okta.issuer, okta.client_id, private_key=okta.private_key, key_id=okta.key_id,
                            client_secret=okta.get("client_secret"), auth_method=okta.auth_method,
                            dpop_key=okta.dpop_key, scope=okta.scope, verify=rb.verify)
        return ProviderSource(client.token_provider(), f"Okta client credentials at {client.token_endpoint}")
    if provider == "azure-imds":
        from ..providers.azure_imds import ImdsClient, imds_token_provider

        azure = rb.settings("azure", tenant_id=params.get("tenant_id", ""), resource=params.get("resource", ""),
                            client_id=params.get("identity_client_id", ""), imds_url="", required=("resource",))
        imds = ImdsClient(azure.resource, base_url=azure.imds_url or None, client_id=azure.client_id or None)
        return ProviderSource(imds_token_provider(imds), f"IMDS at {imds.token_url} for {imds.resource}")
    if provider == "spiffe":
        from ..providers.spiffe import WorkloadApiClient, svid_token_provider

        spire = rb.settings("spire", endpoint_socket=params.get("spiffe_endpoint_socket", "")
                            or os.environ.get("SPIFFE_ENDPOINT_SOCKET", ""), required=("endpoint_socket",))
        agent = WorkloadApiClient(spire.endpoint_socket)
        return ProviderSource(svid_token_provider(agent), f"the SPIRE agent's Workload API at {agent.target}")
    if provider == "github-actions":
        from ..providers.github_actions import AUDIENCE, token_provider
        from ..scenarios.github_actions import client, job

        gh = rb.settings("github_actions", audience=params.get("github_audience", AUDIENCE),
                         discovery_base=params.get("github_discovery_base", ""), required=("audience",))
        github = client(rb, job(rb), gh.audience)
        assert github is not None  # this job's own environment (or the lab's workload job): never skipped
        return ProviderSource(token_provider(github),
                              f"the runner's token service ({github.request_url.split('?')[0]}) for {gh.audience}")
    if provider == "gcp":
        from ..providers.google_cloud import DEFAULT_AUDIENCE, MetadataClient, token_provider

        gcp = rb.settings("gcp", audience=params.get("audience", DEFAULT_AUDIENCE),
                          metadata_host=params.get("metadata_host", ""), required=("audience",))
        meta = MetadataClient(gcp.audience, host=gcp.metadata_host or None)
        return ProviderSource(token_provider(meta), f"the metadata server at {meta.identity_url} for {meta.audience}")
    if provider == "aws":
        from ..providers.aws import StsClient, web_identity_token_provider

        aws = rb.settings("aws", region=params.get("aws_region", ""), endpoint_url="", credentials=None,
                          required=("region",))
        # Live: boto3's credential chain and trust settings (AWS_CA_BUNDLE), as the workload's own client has them.
        sts = StsClient(region=aws.region, endpoint_url=aws.get("endpoint_url") or None,
                        credentials=aws.get("credentials") or None, verify=rb.verify if rb.lab else None)
        return ProviderSource(web_identity_token_provider(sts), f"STS GetWebIdentityToken at {sts.endpoint_url}")
    from ..providers.aks import entra_token_provider
    from ..scenarios.aks import pod_settings, workload_client

    pod = pod_settings(rb, tenant_id=params.get("tenant_id", ""), client_id=params.get("client_id", ""),
                       token_file=params.get("token_file", ""), scope=params.get("scope", ""))
    wi = workload_client(rb, pod)
    return ProviderSource(entra_token_provider(wi), f"hop 1 at Entra ({wi.token_url}) with {pod.token_file}")


def main(args: argparse.Namespace) -> int:
    if args.token_file and args.provider not in (None, "file"):
        raise ConfigurationError(f"--token-file goes with --provider file, not {args.provider}",
                                 hint="a provider fetches its own token; drop one of the two")
    if args.mode == "mock" and not os.environ.get(ENV_CONNECTION):
        raise ConfigurationError("--mode mock checks a running lab, and WIF_LAB_CONNECTION names none",
                                 hint="start one with `wif-lab mock serve` and export the WIF_LAB_CONNECTION it prints")
    provider = args.provider or "file"
    params = parse(args.parameter, provider)
    resolution = sdk_env.resolve()
    rb = runbook(args.mode, params, resolution)
    source = token_source(provider, args.token_file, params, rb)
    report = run(rb, token_source=source, exchange=args.exchange, model=args.model, strict=args.strict)
    print(report.to_json() if args.json else _text(report))
    return report.exit_code


def _text(report: Report) -> str:
    verdict = ("every check passed" if report.ok else
               "fix the FAIL rows from the top: later checks often fail because of an earlier one")
    return f"{report.lines()}\n\n{verdict} (exit status {report.exit_code})"
