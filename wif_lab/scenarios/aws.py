"""AWS demonstrations: the account's outbound-federation switch, the role behind the credentials, STS's
refusals shown as outcome tables, a second role's token for the scoping lesson, and the environment boto3
and the AWS CLI read.

The lab is changed only through the STS mock's ``/lab/…`` routes (``/lab/outbound-federation``,
``/lab/sessions``), so these helpers work the same attached to ``wif-lab mock serve``; nothing here imports
a mock. In live mode the lab-only steps return a :class:`~wif_lab.runbook.Note` saying what to do instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .. import http
from ..display import Table, summary
from ..environ import variables
from ..errors import WifLabError
from ..providers.aws import AwsRefused, IamClient, StsClient
from ..redact import Secret, redact
from ..runbook import Note, Outcome, Runbook, Settings

STAGING_ROLE = "inference-worker-staging"  # a role whose ARN starts with the workload role's ARN
# What Lambda (and, through their credential providers, EC2 and ECS) give boto3 and the CLI, plus the lab's
# endpoint override and CA bundle; set in this kernel in mock mode only.
ENV_NAMES = ("AWS_REGION", "AWS_ENDPOINT_URL_STS", "AWS_CA_BUNDLE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
             "AWS_SESSION_TOKEN", "AWS_EC2_METADATA_DISABLED")


def role_arn(caller_arn: str) -> str:
    """The IAM role ARN behind an assumed-role session ARN (what a token's ``sub`` holds)."""
    prefix, _, rest = caller_arn.partition(":assumed-role/")
    if not rest:
        return caller_arn  # already a role (or a user): nothing to strip
    account = prefix.split(":")[4]
    return f"arn:aws:iam::{account}:role/{rest.split('/')[0]}"


def caller(client: StsClient) -> Table:
    """``sts get-caller-identity``: the session, and the role ARN a token's ``sub`` will carry."""
    found = client.get_caller_identity()
    return summary("Who the credentials are (GetCallerIdentity)", {
        "Account": found["Account"],
        "Arn (the assumed-role session)": found["Arn"],
        "role ARN (the token's sub)": role_arn(found["Arn"]),
        "endpoint": client.endpoint_url,
        "region": client.region,
    })


def set_outbound_federation(rb: Runbook, enabled: bool) -> Table | Note:
    """Turn the lab account's outbound web identity federation on or off with IAM's own actions (what
    `aws iam enable-outbound-web-identity-federation` sends), and show what IAM answered."""
    action = "enable" if enabled else "disable"
    if rb.lab is None:
        return Note(f"live mode: the notebook does not change your account. To {action} it: "
                    f"`aws iam {action}-outbound-web-identity-federation`; "
                    "`aws iam get-outbound-web-identity-federation-info` shows the state and the issuer URL.")
    section = rb.lab.section("aws")
    iam = IamClient(endpoint_url=section["iam_endpoint_url"], credentials=section["credentials"], verify=rb.verify)
    try:
        if enabled:
            answer = f"IssuerIdentifier {iam.enable_outbound_web_identity_federation()}"
        else:
            iam.disable_outbound_web_identity_federation()
            answer = "200 (no body)"
    except AwsRefused as exc:  # FeatureEnabled / FeatureDisabled: it already was
        answer = f"{exc.status} {exc.code}: {exc.sts_message}"
    try:
        info = iam.get_outbound_web_identity_federation_info()
        state = f"JwtVendingEnabled {info['JwtVendingEnabled']}, IssuerIdentifier {info['IssuerIdentifier']}"
    except AwsRefused as exc:
        state = f"{exc.status} {exc.code}: {exc.sts_message}"
    return summary("Outbound web identity federation (the account's switch, through IAM)", {
        f"iam:{'Enable' if enabled else 'Disable'}OutboundWebIdentityFederation": answer,
        "iam:GetOutboundWebIdentityFederationInfo": state})


def lab_session(rb: Runbook, *, role: str | None = None, seconds: int = 3600) -> Settings | Note:
    """New session credentials for one of the lab account's roles (lab only), as an instance or function gets
    them: ``seconds`` is how long the session has left."""
    if rb.lab is None:
        return Note("live mode: skipped (it hands out credentials of the lab's account).")
    section = rb.lab.section("aws")
    response = http.request("POST", section["sessions_url"], what="the lab's STS", verify=rb.verify,
                            json={"role": role or "inference-worker", "seconds": seconds})
    if response.status_code != 200:
        raise WifLabError(f"the lab refused the session: {response.text[:200]}",
                          hint="role must be one of the connection file's aws.roles; seconds 900-43200")
    return Settings({"region": section["region"], "endpoint_url": section["endpoint_url"],
                     "credentials": response.json()})


def client_for(rb: Runbook, settings: Mapping[str, Any] | Note) -> StsClient | None:
    """An STS client for ``settings`` (the lab's CA), or ``None`` when the settings are a live-mode note."""
    if isinstance(settings, Note):
        return None
    # Live: boto3's own trust settings (AWS_CA_BUNDLE, else the system's CAs), not the Anthropic side's ca_bundle.
    return StsClient(region=settings["region"], endpoint_url=settings.get("endpoint_url") or None,
                     credentials=settings.get("credentials") or None, verify=rb.verify if rb.lab else None)


def try_token(client: StsClient | None, title: str, *, rb: Runbook | None = None, lab_only: str = "",
              **request: Any) -> Outcome:
    """Ask STS for a token and show the answer, STS's refusal included, instead of raising."""
    if client is None or (rb is not None and rb.lab is None and lab_only):
        return Outcome(title, "skipped", note=f"skipped in live mode: {lab_only or 'it needs the lab'}")
    shown = ", ".join(f"{k}={v!r}" for k, v in request.items())
    try:
        answer = client.get_web_identity_token(**request)
    except AwsRefused as exc:
        return Outcome(title, "refused", error=exc, extra=[
            ("request", shown), ("HTTP status", str(exc.status)), ("STS error Code", str(exc.code)),
            ("request id", str(exc.request_id))])
    except WifLabError as exc:
        return Outcome(title, "refused", error=exc, extra=[("request", shown)])
    claims = answer.claims()
    return Outcome(title, "accepted", extra=[
        ("request", shown), ("WebIdentityToken", redact(answer.token, short=True)),
        ("Expiration", answer.expiration.isoformat()), ("exp − iat (seconds)", str(claims["exp"] - claims["iat"]))])


def aws_context(claims: Mapping[str, Any]) -> Table:
    """The nested ``https://sts.amazonaws.com/`` claim, one row per member."""
    context = claims.get("https://sts.amazonaws.com/") or {}
    return summary("The https://sts.amazonaws.com/ claim (nested: match it with a CEL condition)", dict(context))


def account_condition(account_id: str) -> str:
    """The CEL condition that pins the AWS account inside the nested claim (the ``claims`` map cannot)."""
    return f'claims["https://sts.amazonaws.com/"].aws_account == "{account_id}"'


# --- the EKS path: a projected service-account token, no STS ---------------------------------------


def eks_settings(rb: Runbook, token_file: str) -> Settings | Note:
    """The pod's projected token with the Claude audience (and, in the lab, a second projected token with
    another audience, standing in for IRSA's). Live: ``token_file`` from the parameters, or a note."""
    if rb.lab is None:
        if not token_file:
            return Note("live mode: no eks_token_file given, so the EKS section is skipped. Run the notebook in a pod "
                        "with the projected volume and pass -p eks_token_file /var/run/secrets/anthropic.com/token.")
        return Settings({"token_file": token_file})
    section = rb.lab.section("aks")
    return Settings({"token_file": token_file or section["anthropic_token_file"], "issuer": section["issuer"],
                     "subject": section["subject"], "other_token_file": section["token_file"],
                     "other_audience": section["audience"]})


def refresh_projected_tokens(rb: Runbook) -> None:
    """Lab only: have the cluster's kubelet write fresh projected tokens now (each token is exchanged once, and
    other notebooks may share the lab's pod), as it does on its own at 80 % of a token's life."""
    if rb.lab is not None:
        http.request("POST", rb.lab.section("aks")["rotate_url"], what="the lab's cluster", verify=rb.verify)


def read_token(settings: Mapping[str, Any] | Note, key: str = "token_file") -> Secret | None:
    """The projected token, read now (the kubelet replaces the file before it expires); None if skipped."""
    if isinstance(settings, Note) or not settings.get(key):
        return None
    from ..providers.aks import read_token_file

    return read_token_file(settings[key], variable="ANTHROPIC_IDENTITY_TOKEN_FILE")


# --- boto3 and the CLI, unchanged -------------------------------------------------------------------


def sdk_environment(rb: Runbook, settings: Mapping[str, Any]) -> dict[str, str]:
    """The variables boto3 and the CLI need to reach the lab's STS: endpoint override, CA, region and the
    session's keys (what Lambda sets). Empty in live mode: the host's own environment and role apply."""
    if rb.lab is None:
        return {}
    credentials = settings["credentials"]
    return {
        "AWS_REGION": settings["region"],
        "AWS_ENDPOINT_URL_STS": settings["endpoint_url"],
        "AWS_CA_BUNDLE": str(rb.verify),
        "AWS_ACCESS_KEY_ID": credentials["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": Secret(credentials["secret_access_key"]),
        "AWS_SESSION_TOKEN": Secret(credentials["session_token"]),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Exactly ``values`` among the AWS variables for the duration (none of this kernel's own leak in);
    with no values (live mode) the environment is left as the host set it."""
    if not values:
        yield
        return
    with variables(values, clear=(*ENV_NAMES, "AWS_PROFILE", "AWS_DEFAULT_REGION")):
        yield


def environment_table(values: Mapping[str, str]) -> Table | Note:
    if not values:
        return Note("live mode: boto3 reads the instance's, function's or task's own credentials and region.")
    secret = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    return Table("The environment boto3 is given (as Lambda sets it, plus the lab's endpoint and CA)",
                 ["variable", "value"], [(k, redact(v) if k in secret else v) for k, v in values.items()])
