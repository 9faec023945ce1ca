"""Entra's refusals on the wire: ``AADSTS<code>: …`` descriptions ending in trace ID, correlation ID
and timestamp, in the JSON error layout every Entra endpoint shares.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ...oauth import ENTRA_ERROR_DESCRIPTION_TAIL
from ..errors import MockRefusal
from .tenant import Tenant

JSON_UTF8 = "application/json; charset=utf-8"
ERROR_URI = "https://login.microsoftonline.com/error?code={code}"
# The tail of every error_description: what a notebook sanitizer must replace (trace and correlation
# IDs change per request; the correlation ID is the caller's client-request-id when one was sent).
ERROR_DESCRIPTION_TAIL = ENTRA_ERROR_DESCRIPTION_TAIL



class EntraError(MockRefusal):
    """A refusal in Entra's wire form: the HTTP status and the JSON body to send."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)


def aadsts_error(
    status: int, error: str, code: int, message: str, *, now: float, correlation_id: str | None = None
) -> EntraError:
    """An Entra error with the real layout: description ending in trace/correlation/timestamp."""
    stamp = dt.datetime.fromtimestamp(int(now), dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace_id, correlation_id = str(uuid.uuid4()), correlation_id or str(uuid.uuid4())
    description = (f"AADSTS{code}: {message} Trace ID: {trace_id} Correlation ID: {correlation_id} "
                   f"Timestamp: {stamp}")
    return EntraError(status, {
        "error": error,
        "error_description": description,
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": ERROR_URI.format(code=code),
    })


def resource_not_found(
    resource: str, tenant: Tenant, *, now: float, correlation_id: str | None = None
) -> EntraError:
    """AADSTS500011: no app registration answers to the requested resource."""
    return aadsts_error(
        400, "invalid_resource", 500011,
        f"The resource principal named {resource} was not found in the tenant named {tenant.display_name}. "
        "This can happen if the application has not been installed by the administrator of the tenant or "
        "consented to by any user in the tenant. You might have sent your authentication request to the "
        "wrong tenant.",
        now=now, correlation_id=correlation_id,
    )


def application_not_found(
    client_id: str, tenant: Tenant, *, now: float, correlation_id: str | None = None
) -> EntraError:
    """AADSTS700016: no application (or managed identity) in the tenant has this client ID."""
    return aadsts_error(
        400, "unauthorized_client", 700016,
        f"Application with identifier '{client_id}' was not found in the directory '{tenant.display_name}'. This "
        "can happen if the application has not been installed by the administrator of the tenant or consented to "
        "by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
        now=now, correlation_id=correlation_id,
    )


def method_not_accepted(
    method: str, *, now: float, correlation_id: str | None = None, accepted: str = "POST, OPTIONS"
) -> EntraError:
    """AADSTS900561: a POST-only endpoint (token, devicecode) asked with another method; 400."""
    return aadsts_error(
        400, "invalid_request", 900561,
        f"The endpoint only accepts {accepted} requests. Received a {method.upper()} request.",
        now=now, correlation_id=correlation_id,
    )


def tenant_not_found(segment: str, *, now: float) -> EntraError:
    """AADSTS90002, as discovery and keys answer for a tenant that does not exist."""
    return aadsts_error(
        400, "invalid_tenant", 90002,
        f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing "
        "into the correct cloud. Check with your subscription administrator, this may happen if there are "
        "no active subscriptions for the tenant.",
        now=now,
    )


def _correlation_id(header: str | None) -> str | None:
    """The caller's ``client-request-id`` when it is a GUID, as MSAL sends it; anything else is not
    echoed into error texts (a new ID is made, as when none was sent) [inferred]."""
    if header is None:
        return None
    value = header.strip()
    try:
        uuid.UUID(value)
    except ValueError:
        return None
    return value


def _aadsts_time(value: float) -> str:
    """Entra's instant format inside AADSTS700024 texts: ISO 8601 with seven fractional digits."""
    moment = dt.datetime.fromtimestamp(value, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond * 10:07d}Z"
