"""Okta's error answers, with the status codes and strings of Okta's OAuth error catalogue.

Two shapes exist. The OAuth endpoints (``/v1/token``) answer ``{"error", "error_description"}``;
everything routed by resource id (an unknown authorization server) answers with the management
API shape ``{"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}``.
Source: okta-developer-docs ``data/oauth2-error-codes.json`` and the OpenID Connect & OAuth 2.0
API reference ("Response properties" / "Possible errors").
"""

from __future__ import annotations

import string

from starlette.responses import JSONResponse

from ..errors import MockRefusal
from ..random_ids import random_chars

# Okta sends these on every token endpoint answer, success or failure.
NO_STORE = {"cache-control": "no-cache, no-store", "pragma": "no-cache"}

_ALNUM = string.ascii_letters + string.digits


class OAuthError(MockRefusal):
    """One refusal from a token endpoint: status, OAuth ``error`` and Okta's exact description."""

    def __init__(self, status: int, error: str, description: str, *, headers: dict[str, str] | None = None):
        super().__init__(status, {"error": error, "error_description": description},
                         headers={**NO_STORE, **(headers or {})})
        self.error = error
        self.description = description


def _e(status: int, error: str, description: str) -> OAuthError:
    return OAuthError(status, error, description)


# --- client authentication (all 401 invalid_client unless noted) ------------------------------
def no_credentials() -> OAuthError:
    return _e(401, "invalid_client", "No client credentials found.")


def client_auth_failed() -> OAuthError:
    return _e(
        401, "invalid_client", "Client authentication failed. Either the client or the client credentials are invalid."
    )


def bad_basic_header() -> OAuthError:
    return _e(401, "invalid_client", "Found Authentication header but was not valid client credentials.")


def bad_client_secret() -> OAuthError:
    return _e(401, "invalid_client", "The client secret supplied for a confidential client is invalid.")


def multiple_credentials() -> OAuthError:
    return _e(
        401,
        "invalid_request",
        "Cannot supply multiple client credentials. Use one of the following: credentials in the "
        "Authorization header, credentials in the post body, or a client_assertion in the post body.",
    )


def credentials_in_query() -> OAuthError:
    return _e(400, "invalid_request", "Client credentials cannot be supplied via query parameters.")


def malformed_request() -> OAuthError:
    """[inferred] A body that cannot be read as a UTF-8 form (or is far too large); Okta's text is not documented."""
    return _e(400, "invalid_request", "The request could not be parsed.")


def duplicate_parameters() -> OAuthError:
    return _e(400, "invalid_request", "The request contained multiple parameters with the same name.")


def assertion_type_invalid() -> OAuthError:
    return _e(400, "invalid_request", "The client_assertion_type is invalid.")


def assertion(description: str) -> OAuthError:
    """A ``private_key_jwt`` assertion problem; ``description`` is one of the ``ASSERTION_*`` strings."""
    return _e(401, "invalid_client", description)


ASSERTION_PARSE = "The parsing of the client_assertion failed."
ASSERTION_ALG = "The client_assertion JWT signature algorithm is invalid."
ASSERTION_ISS = "The issuer claim for client_assertion is not a valid client_id."
ASSERTION_SUB = "The subject claim for client_assertion is not a valid client_id."
ASSERTION_NO_JWKS = "The client does not have a JWKSet configured, but the client_assertion requires one."
ASSERTION_KID = "The client_assertion JWT kid is invalid."
ASSERTION_KEY_USE = (
    "The public key being used for client assertion has an invalid 'use' parameter. "
    "Valid values for the 'use' parameter are [sig]."
)
ASSERTION_SIGNATURE = "The client_assertion signature is invalid."
ASSERTION_SECRET_TOO_SHORT = "The client secret is too short to verify a JWT HMAC."
ASSERTION_AUD = "The audience claim for client_assertion must be the endpoint invoked for the request."
ASSERTION_EXP_MISSING = "The client_assertion must contain the 'exp' claim as seconds since epoch."
ASSERTION_EXPIRED = "The client_assertion token is expired."
ASSERTION_EXP_TOO_FAR = "The client_assertion token has an expiration too far into the future."
ASSERTION_IAT_FUTURE = "The client_assertion token must be issued before the current time."
ASSERTION_REPLAYED = "The client_assertion token has already been used."


def org_server_needs_private_key_jwt() -> OAuthError:
    return _e(
        401,
        "invalid_client",
        "Client Credentials requests to the Org Authorization Server must use the private_key_jwt "
        "token_endpoint_auth_method.",
    )


# --- grant type -------------------------------------------------------------------------------
def _listed(values: list[str]) -> str:
    return "[" + ", ".join(values) + "]"


def missing_grant_type(valid: list[str]) -> OAuthError:
    return _e(400, "invalid_request", f"The token request must specify a 'grant_type'. Valid values: {_listed(valid)}")


def unsupported_grant_type(configured: list[str]) -> OAuthError:
    return _e(
        400,
        "unsupported_grant_type",
        "The authorization grant type is not supported by the authorization server. "
        f"Configured grant types: {_listed(configured)}.",
    )


def unauthorized_client(configured: list[str]) -> OAuthError:
    return _e(
        400,
        "unauthorized_client",
        f"The client is not authorized to use the provided grant type. Configured grant types: {_listed(configured)}.",
    )


# --- scopes and policies ----------------------------------------------------------------------
def no_default_scopes() -> OAuthError:
    return _e(
        400,
        "invalid_scope",
        "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
    )


def scope_not_configured() -> OAuthError:
    return _e(400, "invalid_scope", "One or more scopes are not configured for the authorization server resource.")


def openid_with_client_credentials() -> OAuthError:
    return _e(400, "invalid_scope", "Cannot request 'openid' scopes using client credentials.")


def no_matching_policy() -> OAuthError:
    return _e(
        401, "access_denied", "Policy evaluation failed for this request, please check the policy configurations."
    )


def consent_required(scopes: list[str]) -> OAuthError:
    """A scope whose consent is REQUIRED: no user is there to give it in client_credentials."""
    return _e(
        400,
        "consent_required",
        "The following scopes require user consent and cannot be granted for the client credentials grant type: "
        f"{_listed(scopes)}",
    )


def no_org_scopes_granted() -> OAuthError:
    return _e(400, "consent_required", "You are not allowed any of the requested scopes.")


# --- DPoP ---------------------------------------------------------------------------------------
def dpop(description: str) -> OAuthError:
    return _e(400, "invalid_dpop_proof", description)


def use_dpop_nonce(nonce: str) -> OAuthError:
    return OAuthError(
        400, "use_dpop_nonce", "Authorization server requires nonce in DPoP proof.", headers={"dpop-nonce": nonce}
    )


DPOP_MISSING = "The DPoP proof JWT header is missing."
DPOP_MULTIPLE = "Multiple DPoP proof JWT headers are not allowed."
DPOP_PARSE = "The DPoP proof JWT cannot be parsed."
DPOP_TYP = "'typ' must be 'dpop+jwt' in the DPoP proof JWT."
DPOP_ALG = "The DPoP proof JWT signature algorithm is invalid."
DPOP_INVALID = "The DPoP proof JWT is invalid."
DPOP_SIGNATURE = "The DPoP proof JWT signature is invalid."
DPOP_HTM = "'htm' claim in the DPoP proof JWT is invalid."
DPOP_HTU = "'htu' claim in the DPoP proof JWT is invalid."
DPOP_IAT = "'iat' claim in the DPoP proof JWT is invalid."
DPOP_FUTURE = "The DPoP proof JWT is issued in the future."
DPOP_TOO_OLD = "The DPoP proof JWT is issued more than five minutes in the past."
DPOP_JTI = "'jti' claim in the DPoP proof JWT is invalid."
DPOP_REPLAYED = "The DPoP proof JWT has already been used."


# --- management-API shape -----------------------------------------------------------------------
def not_found(resource_id: str, kind: str = "AuthorizationServer") -> JSONResponse:
    """Okta's 404 for an id that names nothing (E0000007), as the OAuth routes return it."""
    return JSONResponse(
        {
            "errorCode": "E0000007",
            "errorSummary": f"Not found: Resource not found: {resource_id} ({kind})",
            "errorLink": "E0000007",
            "errorId": "oae" + random_chars(_ALNUM, 22),
            "errorCauses": [],
        },
        status_code=404,
    )


def api_error(status: int, code: str, summary: str, causes: list[str] | None = None,
              headers: dict[str, str] | None = None) -> JSONResponse:
    """Any Management API refusal: ``errorCode``/``errorSummary``/``errorLink``/``errorId``/``errorCauses``."""
    return JSONResponse(
        {
            "errorCode": code,
            "errorSummary": summary,
            "errorLink": code,
            "errorId": "oae" + random_chars(_ALNUM, 22),
            "errorCauses": [{"errorSummary": c} for c in causes or []],
        },
        status_code=status,
        headers=headers,
    )
