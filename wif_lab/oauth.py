"""The OAuth and JOSE constants both sides share, defined once (as authlib's rfc7523 does).

Workload-side providers and the mocks import these; a value spelled twice can drift apart silently.
"""

from __future__ import annotations

# RFC 7523 §2.1: the grant the Claude token endpoint takes (an identity token as the assertion).
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# RFC 7523 §2.2: a signed JWT as client authentication (Okta private_key_jwt, Entra federated credentials).
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# The audience Entra requires of every federated-credential assertion (Microsoft's public cloud).
ENTRA_TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
# Asymmetric signatures only: the Claude exchange, Entra and the lab's verifier refuse HS* and "none".
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
