"""Workload identity federation: the token endpoint's client-credentials grant with a ``jwt-bearer``
client assertion, checked in Entra's documented order with the real AADSTS codes (see the package
docstring for the order and what each code rests on).
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from ...jose import Compact, MalformedJWT, numeric_date, parse_compact, verified_claims
from ...oauth import ASYMMETRIC_ALGORITHMS as ASSERTION_ALGORITHMS
from ...oauth import CLIENT_ASSERTION_TYPE
from ..base import LabContext
from ..issuer_keys import IssuerKeys, KeySource, KeysUnavailable
from .errors import EntraError, _aadsts_time, aadsts_error, application_not_found, resource_not_found, tenant_not_found
from .tenant import MULTI_TENANT_ALIASES, FederatedCredential, ManagedIdentity, Tenant
from .tokens import AccessToken, FederatedTokenRequest

CLIENT_CREDENTIALS_LIFETIME = (3600, 5400)  # client_credentials tokens: a random 60 to 90 minutes
ASSERTION_MAX_LIFETIME = 25 * 3600  # "1.01:00:00"
ASSERTION_CLOCK_SKEW = 300
WORKLOAD_ID_DOC = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
# External issuers' key sets are kept an hour; an unknown kid re-fetches early at most every 30 seconds.
ISSUER_KEYS_CACHE_SECONDS = 3600.0
ISSUER_KEYS_REFETCH_SECONDS = 30.0


@dataclass
class _Call:
    """One token request's facts every refusal needs: the time and the caller's correlation ID."""

    now: float
    correlation_id: str | None = None

    def fail(self, status: int, error: str, code: int, message: str) -> EntraError:
        return aadsts_error(status, error, code, message, now=self.now, correlation_id=self.correlation_id)

    def missing(self, parameter: str) -> EntraError:
        return self.fail(400, "invalid_request", 900144,
                         f"The request body must contain the following parameter: '{parameter}'.")

    def malformed(self) -> EntraError:
        return self.fail(400, "invalid_request", 50027, "JWT token is invalid or malformed.")

    def no_matching_record(self, code: int, what: str, value: str) -> EntraError:
        check = "Check" if code in (700213, 7002138) else "Please check"
        extra = (" The subject matches with case-insensitive comparison, but not with case-sensitive comparison."
                 if code == 7002138 else "")
        return self.fail(401, "invalid_client", code,
                         f"No matching federated identity record found for presented assertion {what} '{value}'."
                         f"{extra} {check} your federated identity credential Subject, Audience and Issuer against "
                         f"the presented assertion. {WORKLOAD_ID_DOC}")


class Federation:
    """The federated token endpoint's logic, mixed into :class:`EntraMock`."""

    ctx: LabContext
    tenant: Tenant
    issuer_keys: IssuerKeys
    _lock: threading.RLock
    _lifetimes: random.Random
    federated_requests: deque[FederatedTokenRequest]

    def _client_credentials_lifetime(self) -> int:
        with self._lock:
            return self._lifetimes.randint(*CLIENT_CREDENTIALS_LIFETIME)

    async def redeem_federated_assertion(
        self, tenant_segment: str, form: Mapping[str, str], *, correlation_id: str | None = None, version: int = 2
    ) -> tuple[AccessToken, dict[str, Any]]:
        """The token endpoint's logic: the minted token and the 200 body, or :class:`EntraError`.

        ``version`` is the endpoint: 2 (``oauth2/v2.0/token``, a ``<resource>/.default`` scope, integer
        lifetimes) or 1 (``oauth2/token``, a ``resource`` parameter, every value a string plus
        ``expires_on``, ``not_before`` and ``resource``)."""
        call = _Call(self.ctx.clock(), correlation_id)
        record: dict[str, Any] = {"client_id": form.get("client_id"), "claims": None}
        try:
            minted = await self._redeem(call, tenant_segment, form, record, version)
        except EntraError as err:
            self.federated_requests.append(FederatedTokenRequest(
                call.now, record["client_id"], record["claims"], err.body["error_codes"][0]))
            raise
        self.federated_requests.append(FederatedTokenRequest(
            call.now, record["client_id"], record["claims"], None, minted.lifetime))
        if version == 1:
            lifetime = str(minted.lifetime)
            return minted, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                            "expires_on": str(minted.expires_on), "not_before": str(minted.not_before),
                            "resource": minted.resource, "access_token": minted.token}
        body = {"token_type": "Bearer", "expires_in": minted.lifetime, "ext_expires_in": minted.lifetime,
                "access_token": minted.token}
        return minted, body

    async def _redeem(
        self, call: _Call, segment: str, form: Mapping[str, str], record: dict[str, Any], version: int
    ) -> AccessToken:
        if not form.get("grant_type"):  # nothing can be said about the grant before it is named
            raise call.missing("grant_type")
        if segment.lower() in (*MULTI_TENANT_ALIASES, "consumers"):
            raise call.fail(400, "invalid_request", 9001023,
                            "The grant type is not supported over the /common or /consumers endpoints. "
                            "Please use the /organizations or tenant-specific endpoint.")
        if not self.tenant.resolve_alias(segment):
            raise tenant_not_found(segment, now=call.now)
        resource = self._check_request(call, form, version)
        assertion = form["client_assertion"].strip()  # the token file is often sent with its newline
        parsed = self._parse_assertion(call, assertion)
        claims = parsed.claims
        record["claims"] = claims
        self._check_assertion_times(call, claims)
        identity = self.tenant.identity_by_client_id(form["client_id"])
        if identity is None:
            raise application_not_found(form["client_id"], self.tenant, now=call.now,
                                        correlation_id=call.correlation_id)
        self._match_federated_credential(call, identity, claims)
        await self._check_signature(call, parsed, claims["iss"])
        if self.tenant.find_resource(resource) is None:
            raise resource_not_found(resource, self.tenant, now=call.now, correlation_id=call.correlation_id)
        return self.mint_access_token(identity, resource, now=call.now, lifetime=self._client_credentials_lifetime(),
                                      backdate=0)

    def _check_request(self, call: _Call, form: Mapping[str, str], version: int) -> str:
        """The form's own rules; returns the resource: v2 names it by the single ``<resource>/.default``
        scope, v1 by the ``resource`` parameter."""
        grant_type = form["grant_type"]
        if grant_type != "client_credentials":
            raise call.fail(400, "unsupported_grant_type", 70003,
                            f"The app requested an unsupported grant type '{grant_type}'.")
        if not form.get("client_id"):
            raise call.missing("client_id")
        if version == 2:
            resource = self._requested_resource(call, form)
        else:
            resource = form.get("resource", "").strip()
            if not resource:
                raise call.missing("resource")
        if not form.get("client_assertion"):
            if form.get("client_secret"):
                raise call.fail(401, "invalid_client", 7000215,
                                "Invalid client secret provided. Ensure the secret being sent in the request is "
                                f"the client secret value, not the client secret ID, for a secret added to app "
                                f"'{form['client_id']}'.")
            raise call.fail(401, "invalid_client", 7000218,
                            "The request body must contain the following parameter: 'client_assertion' or "
                            "'client_secret'.")
        assertion_type = form.get("client_assertion_type")
        if not assertion_type:
            raise call.missing("client_assertion_type")
        if assertion_type != CLIENT_ASSERTION_TYPE:
            raise call.fail(400, "invalid_request", 90011, "Unexpected client assertion type.")
        return resource

    @staticmethod
    def _requested_resource(call: _Call, form: Mapping[str, str]) -> str:
        """v2: exactly one scope, of the form ``<resource>/.default``."""
        scope = form.get("scope", "").strip()
        if not scope:
            raise call.missing("scope")
        scopes = scope.split()
        for item in scopes:
            if not item.endswith("/.default"):
                raise call.fail(400, "invalid_scope", 1002012,
                                f"The provided value for scope {item} is not valid. Client credential flows must "
                                "have a scope value with /.default suffixed to the resource identifier "
                                "(application ID URI).")
        if len(scopes) > 1:
            raise call.fail(400, "invalid_scope", 28000,
                            "Provided value for the input parameter scope is not valid because it contains more "
                            f"than one resource. Scope {scope} is not valid.")
        return scopes[0].removesuffix("/.default")

    def _parse_assertion(self, call: _Call, assertion: str) -> Compact:
        try:
            parsed = parse_compact(assertion)
        except MalformedJWT as exc:
            raise call.malformed() from exc
        header, claims = parsed.header, parsed.claims
        if header.get("alg") not in ASSERTION_ALGORITHMS:
            raise call.malformed()
        if not isinstance(claims.get("iss"), str) or not isinstance(claims.get("sub"), str):
            raise call.malformed()
        # A time claim that is present must be a date; a missing iat or exp is AADSTS70023's case.
        if any(name in claims and numeric_date(claims[name]) is None for name in ("iat", "exp", "nbf")):
            raise call.malformed()
        return parsed

    def _check_assertion_times(self, call: _Call, claims: Mapping[str, Any]) -> None:
        iat, exp, nbf = (numeric_date(claims.get(name)) for name in ("iat", "exp", "nbf"))
        if iat is None or exp is None or exp - iat > ASSERTION_MAX_LIFETIME:
            raise call.fail(400, "invalid_request", 70023,
                            "External OIDC Provider token must have a lifetime of less than or equal to "
                            f"1.01:00:00. Token issued at {int(iat or 0)}. Token expires on {int(exp or 0)}.")
        valid_from = nbf if nbf is not None else 0.0
        if exp < call.now - ASSERTION_CLOCK_SKEW or valid_from > call.now + ASSERTION_CLOCK_SKEW:
            raise call.fail(401, "invalid_client", 700024,
                            f"Client assertion is not within its valid time range. Current time: "
                            f"{_aadsts_time(call.now)}, assertion valid from {_aadsts_time(valid_from)}, expiry "
                            f"time of assertion {_aadsts_time(exp)}. Review the documentation at "
                            "https://learn.microsoft.com/entra/identity-platform/certificate-credentials .")

    def _match_federated_credential(
        self, call: _Call, identity: ManagedIdentity, claims: Mapping[str, Any]
    ) -> FederatedCredential:
        """Issuer first, then subject, then audience: the first stage nothing passes names the error."""
        iss, sub = claims["iss"], claims["sub"]
        aud = claims.get("aud")
        listed = aud if isinstance(aud, list) else [aud]
        audiences = [a for a in listed if isinstance(a, str)]
        fics = self.federated_credentials(identity.name)
        if not fics:
            raise call.fail(401, "invalid_client", 70021,
                            f"No matching federated identity record found for presented assertion. Assertion "
                            f"Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: "
                            f"'{','.join(audiences)}'. {WORKLOAD_ID_DOC}")
        same_issuer = [f for f in fics if f.issuer == iss]
        if not same_issuer:
            raise call.no_matching_record(700211, "issuer", iss)
        same_subject = [f for f in same_issuer if f.subject == sub]
        if not same_subject:
            case_only = any(f.subject.lower() == sub.lower() for f in same_issuer)
            raise call.no_matching_record(7002138 if case_only else 700213, "subject", sub)
        for fic in same_subject:
            if any(a in audiences for a in fic.audiences):
                return fic
        raise call.no_matching_record(700212, "audience", ",".join(audiences))

    async def _check_signature(self, call: _Call, parsed: Compact, issuer: str) -> None:
        kid, alg = parsed.header.get("kid"), parsed.header["alg"]
        bad_signature = ("Client assertion failed signature validation. [Reason - The provided signature value did "
                         "not match the expected signature value.]")
        try:
            # The issuer's discovery document, then its jwks_uri; cached per issuer URL.
            key = await self.issuer_keys.key_object(KeySource.discovery(issuer), kid, alg) if isinstance(kid, str) \
                else None
        except KeysUnavailable as exc:
            raise call.fail(400, "invalid_request", 90061, "Request to External OIDC endpoint failed.") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:  # a published key pyjwt cannot use
            raise call.fail(401, "invalid_client", 700027, bad_signature) from exc
        if key is None:
            raise call.fail(401, "invalid_client", 7000272,
                            f"The certificate with identifier {kid or ''} used to sign the federated credential "
                            f"could not be found in the metadata of identity provider {issuer}. Please validate "
                            "that your Identity Provider's metadata exposes the key used to sign the incoming "
                            "token.")
        try:
            verified_claims(parsed, key, alg)
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise call.fail(401, "invalid_client", 700027, bad_signature) from exc
