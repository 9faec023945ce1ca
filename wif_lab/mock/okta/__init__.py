"""A faithful mock of an Okta org for Workload Identity Federation labs.

Modules follow the Okta reference pages they imitate: :mod:`.service` (the org, its routes and
discovery documents), :mod:`.console` (what an admin configures), :mod:`.client_auth` (token
endpoint client authentication), :mod:`.dpop` (DPoP proofs), :mod:`.token` (the client_credentials
grant and the access token), :mod:`.errors` (Okta's error bodies).
"""

from .console import AccessPolicy, AuthorizationServer, Claim, PolicyRule, Scope, ServiceApp
from .service import ANTHROPIC_AUDIENCE, LAB_SCOPE, SPEC, OktaMock, OrgAuthorizationServer

__all__ = [
    "ANTHROPIC_AUDIENCE",
    "LAB_SCOPE",
    "SPEC",
    "AccessPolicy",
    "AuthorizationServer",
    "Claim",
    "OktaMock",
    "OrgAuthorizationServer",
    "PolicyRule",
    "Scope",
    "ServiceApp",
]
