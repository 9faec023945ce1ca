"""Workload side of AWS outbound web identity federation: ask STS for a web identity token, as the Claude
docs' AWS guide does (``sts:GetWebIdentityToken`` with ``Audience=["https://api.anthropic.com"]``,
``SigningAlgorithm="RS256"``, ``DurationSeconds``), and the EKS path's projected token file.

The request is the query protocol's form ``POST /`` to the **regional** endpoint
(``https://sts.<region>.amazonaws.com``; the global endpoint does not offer the operation), signed with
Signature Version 4 by botocore's own signer. Credentials come from botocore's credential chain, as boto3
finds them (Lambda's and ECS's environment, an instance profile, a profile in ``~/.aws``), unless given.
``AWS_ENDPOINT_URL_STS`` overrides the endpoint as it does for boto3 and the CLI. Refusals become one
:class:`AwsRefused` with STS's error ``Code``, what STS said, and what to check next (:data:`HINTS`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx
import jwt

from .. import http
from ..errors import ConfigurationError, ProviderError
from ..http import Verify
from ..redact import Secret, redact

ANTHROPIC_AUDIENCE = "https://api.anthropic.com"
API_VERSION = "2011-06-15"
IAM_API_VERSION = "2010-05-08"
ENDPOINT_ENV = "AWS_ENDPOINT_URL_STS"
IAM_ENDPOINT_ENV = "AWS_ENDPOINT_URL_IAM"
IAM_ENDPOINT = "https://iam.amazonaws.com"
IAM_REGION = "us-east-1"  # IAM is global; its requests are signed for us-east-1
REGION_ENVS = ("AWS_REGION", "AWS_DEFAULT_REGION")
CA_ENV = "AWS_CA_BUNDLE"
CLAIMS_NAMESPACE = "https://sts.amazonaws.com/"
SIGNING_ALGORITHMS = ("RS256", "ES384")
DEFAULT_TIMEOUT = 10.0
FORM = "application/x-www-form-urlencoded; charset=utf-8"

_ENABLE = ("enable outbound web identity federation for the account once: `aws iam "
           "enable-outbound-web-identity-federation` (boto3: iam.enable_outbound_web_identity_federation()); "
           "`aws iam get-outbound-web-identity-federation-info` then prints the account's issuer URL to register")

# What to check next, per STS error Code.
HINTS: dict[str, str] = {
    "OutboundWebIdentityFederationDisabledException": _ENABLE,
    "SessionDurationEscalationException": (
        "DurationSeconds must not outlive the credentials that sign the call: ask for less (300-900 s is plenty for "
        "one exchange) or let the SDK refresh the role's credentials first"),
    "JWTPayloadSizeExceededException": "send fewer or shorter Tags: each one becomes a claim in the token",
    "ValidationError": (f"Audience: 1 to 10 strings of 1-1000 characters; SigningAlgorithm: "
                        f"{' or '.join(SIGNING_ALGORITHMS)}; DurationSeconds: 60-3600; Tags: at most 50"),
    "AccessDenied": "the role's IAM policy must allow the action sts:GetWebIdentityToken",
    "MissingAuthenticationToken": ("the request was not signed: no AWS credentials were found (set the role on the "
                                   "instance, function or task, or AWS_PROFILE)"),
    "IncompleteSignature": "the Authorization header is not a complete SigV4 signature: sign with an AWS SDK",
    "InvalidClientTokenId": ("the access key is not known to STS, or a temporary key (ASIA…) was sent without its "
                             "session token: pass AWS_SESSION_TOKEN with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
    "SignatureDoesNotMatch": ("the secret key does not belong to the access key, the signature's region is not the "
                              "endpoint's (pin region_name to the endpoint's region), or this machine's clock is off "
                              "by more than 15 minutes"),
    "ExpiredToken": ("the session credentials have expired: let the SDK's credential provider refresh them instead of "
                     "copying keys into configuration"),
    "FeatureEnabled": "outbound web identity federation is already enabled: nothing to do",
    "FeatureDisabled": _ENABLE,
    "InvalidAction": ("this endpoint does not offer GetWebIdentityToken: use a regional STS endpoint "
                      "(sts.<region>.amazonaws.com, region pinned) and a botocore that has the operation"),
}


class AwsRefused(ProviderError):
    """STS refused the call: ``code`` is STS's error Code (``OutboundWebIdentityFederationDisabledException``, …)."""

    def __init__(self, message: str, *, status: int, code: str | None, sts_message: str | None,
                 request_id: str | None, hint: str | None = None) -> None:
        super().__init__(message, status=status, error=code, description=sts_message, hint=hint)
        self.code = code
        self.sts_message = sts_message
        self.request_id = request_id


def _text(root: ElementTree.Element, name: str) -> str | None:
    found = root.find(f".//{{*}}{name}")
    return found.text if found is not None and found.text is not None else None


def refusal(response: httpx.Response, *, service: str = "STS", action: str = "GetWebIdentityToken") -> AwsRefused:
    """One :class:`AwsRefused` from any non-200 answer of STS (or IAM): the query protocol's XML ``ErrorResponse``."""
    code = message = request_id = None
    try:
        root = ElementTree.fromstring(response.content)
        code, message, request_id = _text(root, "Code"), _text(root, "Message"), _text(root, "RequestId")
    except ElementTree.ParseError:
        pass
    request_id = request_id or response.headers.get("x-amzn-requestid")
    summary = f"{code}: {message}" if code else (response.text[:200] or response.reason_phrase)
    hint = HINTS.get(code or "") or ("STS is throttling or unavailable: retry with backoff"
                                     if response.status_code in (429, 500, 503) else "STS's message above")
    return AwsRefused(f"{service} refused {action} ({response.status_code}) {summary}",
                      status=response.status_code, code=code, sts_message=message, request_id=request_id, hint=hint)


@dataclass(frozen=True, repr=False)
class WebIdentityToken:
    """STS's answer: the token (never shown in repr) and its ``Expiration``."""

    token: Secret
    expiration: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "token", Secret(self.token))

    def claims(self) -> dict[str, Any]:
        """The token's claims, *unverified* (for display; the relying party verifies)."""
        return jwt.decode(self.token, options={"verify_signature": False})

    def __repr__(self) -> str:
        return f"WebIdentityToken(expiration={self.expiration.isoformat()}, token={redact(self.token, short=True)!r})"


def region_from_env() -> str | None:
    return next((os.environ[name] for name in REGION_ENVS if os.environ.get(name)), None)


def _credentials(given: Any) -> Any:
    """botocore ``Credentials``: the given ones (a mapping of the connection file's keys works too), else
    botocore's credential chain, as boto3 would find them."""
    from botocore.credentials import Credentials
    from botocore.session import get_session

    if isinstance(given, Mapping):
        secret = given["secret_access_key"]
        token = given.get("session_token")
        return Credentials(given["access_key_id"], secret.reveal() if isinstance(secret, Secret) else str(secret),
                           token.reveal() if isinstance(token, Secret) else token)
    if given is not None:
        return given
    found = get_session().get_credentials()
    if found is None:
        raise ConfigurationError(
            "no AWS credentials found", hint=("run on an instance, function or task with an IAM role (its credential "
                                              "provider supplies them), or set AWS_PROFILE; never hard-code keys"))
    return found


class _QueryClient:
    """One AWS query-protocol service: form ``POST /`` signed with SigV4 by botocore, XML back."""

    service = "sts"
    label = "STS"
    version = API_VERSION

    def __init__(self, *, region: str, endpoint_url: str, credentials: Any = None, verify: Verify | None = None,
                 timeout: float = DEFAULT_TIMEOUT, transport: httpx.BaseTransport | None = None) -> None:
        self.region = region
        self.endpoint_url = endpoint_url.rstrip("/") + "/"
        self._credentials = credentials
        self.verify: Verify = verify if verify is not None else (os.environ.get(CA_ENV) or True)
        self.timeout = timeout
        self._transport = transport

    def _call(self, action: str, params: Sequence[tuple[str, str]]) -> ElementTree.Element:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        body = urlencode([("Action", action), ("Version", self.version), *params]).encode()
        credentials = _credentials(self._credentials)
        frozen = credentials.get_frozen_credentials() if hasattr(credentials, "get_frozen_credentials") else credentials
        signed = AWSRequest(method="POST", url=self.endpoint_url, data=body, headers={"Content-Type": FORM})
        SigV4Auth(frozen, self.service, self.region).add_auth(signed)
        response = http.request(
            "POST", self.endpoint_url, what=f"AWS {self.label}", verify=self.verify, deadline=self.timeout,
            transport=self._transport, content=body, headers=dict(signed.headers.items()),
            hint=f"the {self.label} endpoint ({self.endpoint_url}); in the lab, the connection file's aws section",
        )
        if response.status_code != 200:
            raise refusal(response, service=self.label, action=action)
        try:
            return ElementTree.fromstring(response.content)
        except ElementTree.ParseError as exc:
            raise ProviderError(f"{self.label} answered 200 with a body that is not XML", status=200,
                                hint=f"the endpoint is not {self.label}, or a proxy rewrote the answer") from exc


class StsClient(_QueryClient):
    """Calls one regional STS endpoint (``AWS_ENDPOINT_URL_STS`` when set, as boto3 reads it)."""

    def __init__(self, *, region: str | None = None, endpoint_url: str | None = None, credentials: Any = None,
                 verify: Verify | None = None, timeout: float = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None) -> None:
        region = region or region_from_env()
        if not region:
            raise ConfigurationError(
                "no AWS region: GetWebIdentityToken is only offered by regional STS endpoints",
                hint="pass region (or set AWS_REGION), e.g. us-east-1, as the guide's region_name does")
        endpoint = endpoint_url or os.environ.get(ENDPOINT_ENV) or f"https://sts.{region}.amazonaws.com"
        super().__init__(region=region, endpoint_url=endpoint, credentials=credentials, verify=verify,
                         timeout=timeout, transport=transport)

    def get_web_identity_token(self, audience: str | Sequence[str] = ANTHROPIC_AUDIENCE, *,
                               signing_algorithm: str = "RS256", duration_seconds: int | None = None,
                               tags: Mapping[str, str] | None = None) -> WebIdentityToken:
        audiences = [audience] if isinstance(audience, str) else list(audience)
        params = [(f"Audience.member.{i}", aud) for i, aud in enumerate(audiences, 1)]
        params.append(("SigningAlgorithm", signing_algorithm))
        if duration_seconds is not None:
            params.append(("DurationSeconds", str(duration_seconds)))
        for i, (key, value) in enumerate((tags or {}).items(), 1):
            params += [(f"Tags.member.{i}.Key", key), (f"Tags.member.{i}.Value", value)]
        root = self._call("GetWebIdentityToken", params)
        token, expiration = _text(root, "WebIdentityToken"), _text(root, "Expiration")
        if not token or not expiration:
            raise ProviderError("STS answered without a WebIdentityToken", status=200,
                                hint="the endpoint is not STS, or a proxy rewrote the answer")
        return WebIdentityToken(token, datetime.fromisoformat(expiration.replace("Z", "+00:00")))

    def get_caller_identity(self) -> dict[str, str]:
        """Who the credentials are: ``Account``, ``Arn`` (the assumed-role session) and ``UserId``."""
        root = self._call("GetCallerIdentity", [])
        return {name: _text(root, name) or "" for name in ("Account", "Arn", "UserId")}

    def __repr__(self) -> str:
        return f"StsClient({self.endpoint_url!r}, region={self.region!r})"


class IamClient(_QueryClient):
    """IAM's account-level switch for outbound web identity federation (``AWS_ENDPOINT_URL_IAM`` when set)."""

    service = "iam"
    label = "IAM"
    version = IAM_API_VERSION

    def __init__(self, *, endpoint_url: str | None = None, credentials: Any = None, verify: Verify | None = None,
                 timeout: float = DEFAULT_TIMEOUT, transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(region=IAM_REGION, endpoint_url=endpoint_url or os.environ.get(IAM_ENDPOINT_ENV)
                         or IAM_ENDPOINT, credentials=credentials, verify=verify, timeout=timeout, transport=transport)

    def enable_outbound_web_identity_federation(self) -> str:
        """Turn the switch on; the answer is the account's issuer URL (``FeatureEnabled`` if it already was)."""
        return _text(self._call("EnableOutboundWebIdentityFederation", []), "IssuerIdentifier") or ""

    def disable_outbound_web_identity_federation(self) -> None:
        self._call("DisableOutboundWebIdentityFederation", [])

    def get_outbound_web_identity_federation_info(self) -> dict[str, str]:
        """``IssuerIdentifier`` and ``JwtVendingEnabled`` (``FeatureDisabled`` while the switch is off)."""
        root = self._call("GetOutboundWebIdentityFederationInfo", [])
        return {name: _text(root, name) or "" for name in ("IssuerIdentifier", "JwtVendingEnabled")}


def from_connection(section: Mapping[str, Any], *, ca_bundle: str | None = None,
                    credentials: Mapping[str, Any] | None = None, timeout: float = DEFAULT_TIMEOUT) -> StsClient:
    """A client for the lab's STS from the connection file's ``aws`` section (its default session's keys)."""
    return StsClient(region=section["region"], endpoint_url=section["endpoint_url"],
                     credentials=credentials or section["credentials"], verify=ca_bundle, timeout=timeout)


def web_identity_token_provider(client: StsClient, audience: str | Sequence[str] = ANTHROPIC_AUDIENCE, *,
                                signing_algorithm: str = "RS256",
                                duration_seconds: int | None = None) -> Callable[[], str]:
    """An ``identity_token_provider`` for the Anthropic SDK: a fresh STS token on every call (each one carries
    a new ``jti``, so a token is never presented twice)."""

    def provide() -> str:
        return client.get_web_identity_token(audience, signing_algorithm=signing_algorithm,
                                             duration_seconds=duration_seconds).token

    return provide
