"""The OAuth and JOSE constants both sides share, defined once (as authlib's rfc7523 does).

Workload-side providers and the mocks import these; a value spelled twice can drift apart silently.
"""

from __future__ import annotations

import re

# RFC 7523 §2.1: the grant the Claude token endpoint takes (an identity token as the assertion).
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# RFC 7523 §2.2: a signed JWT as client authentication (Okta private_key_jwt, Entra federated credentials).
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# The audience Entra requires of every federated-credential assertion (Microsoft's public cloud).
ENTRA_TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
# Asymmetric signatures only: the Claude exchange, Entra and the lab's verifier refuse HS* and "none".
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
# The tail Entra appends to every error_description (trace ID, correlation ID, timestamp): a client splits it off
# to show the message and the IDs apart; the lab's Entra writes it; notebook sanitizers replace it.
ENTRA_ERROR_DESCRIPTION_TAIL = re.compile(
    r" Trace ID: (?P<trace_id>[0-9a-f-]{36}) Correlation ID: (?P<correlation_id>\S+) "
    r"Timestamp: (?P<timestamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ)$"
)
