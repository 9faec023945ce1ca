"""Mock Microsoft Entra ID: one tenant, its discovery documents and keys, and the access tokens it
mints for managed identities.

Follows Microsoft identity platform behaviour as documented and recorded in
``shared/reference/azure.md``:

- OpenID discovery at ``/<tenant>/v2.0/.well-known/openid-configuration`` (v2.0 issuer
  ``<host>/<tenant>/v2.0``) and ``/<tenant>/.well-known/openid-configuration`` (v1 issuer);
- signing keys at ``/<tenant>/discovery/v2.0/keys`` and ``/<tenant>/discovery/keys`` in Entra's
  JWKS shape (``kid == x5t`` = SHA-1 thumbprint of a self-signed cert in ``x5c``, no ``alg``);
- "Access token claims reference": the **resource** app registration's
  ``requestedAccessTokenVersion`` picks v1 or v2 claims, whichever endpoint asked;
- managed-identity tokens live about 24 h;
- errors in Entra's layout (``AADSTS<code>: … Trace ID: … Correlation ID: … Timestamp: …``).

Lab deviations: a real v1 issuer lives on ``https://sts.windows.net/<tid>/``; here both issuer forms
live on the mock's own host (``<base>/<tid>/`` and ``<base>/<tid>/v2.0``) so discovery by ``iss``
stays inside the lab.

Managed-identity tokens are minted as recorded on real VMs (azure.md §4.3: two decoded tokens, both with
``exp - iat`` = 86,700 s): ``iat`` and ``nbf`` are backdated 5 minutes and ``exp`` is 24 hours after the
moment of minting, so ``exp - iat`` is 24 h + 5 min. The Claude docs' issuer setting
``max_jwt_lifetime_seconds: 86400`` therefore refuses them, in the lab as on Azure; 86,700 or more accepts
them.

Workload identity federation (``POST /<tenant>/oauth2/v2.0/token``, client credentials with a
``jwt-bearer`` client assertion), per azure.md §2.3, §4.3 and §4.5:

- federated identity credentials (FICs) live on user-assigned identities, found by the POST's
  ``client_id``; at most 20 each, ``issuer`` + ``subject`` unique, exactly one audience;
- the assertion is checked in this order: parse (50027), ``iat``/``exp`` present and
  ``exp - iat`` ≤ 25 h (70023), time window with 5 min skew (700024), client (700016), FIC match:
  none at all (70021), issuer exact incl. trailing slash (700211), subject exact (700213, or
  7002138 when only the case differs), audience (700212); then the signature against the issuer's
  keys found by discovery over https (90061 when unreachable, 7000272 for an unknown ``kid``,
  700027 when the signature fails); last the requested resource (500011);
- success mints the identity's access token (same claims as the managed-identity path) with the
  ``client_credentials`` lifetime, a random 60–90 minutes from a seeded RNG, in the v2 shape
  ``{"token_type", "expires_in", "ext_expires_in", "access_token"}`` (integers).

Error bodies: ``error_description`` ends in ``Trace ID: <uuid4> Correlation ID: <id> Timestamp:
YYYY-MM-DD HH:MM:SSZ`` (:data:`ERROR_DESCRIPTION_TAIL` matches it, for sanitizers); the correlation
ID echoes the request's ``client-request-id`` header when sent, else it is a random UUID.

Codes azure.md does not list come from real bodies quoted in public issues: 900144 (missing form
field), 70003 (grant type), 7000218 / 7000215 (no assertion / a client secret), 90011 (assertion
type), 1002012 / 28000 (scope form), 9001023 (``/common``). AADSTS700027 for a signature that does
not verify with a published key is the lab's choice [inferred].

More lab deviations: FICs work the moment they are created (real ones can take minutes); app
registrations cannot hold FICs here; loopback https issuers trusted through the lab CA count as
"public"; grant types other than ``client_credentials`` are refused as unsupported (70003).

The v1 token endpoint (``POST /<tenant>/oauth2/token``) runs the same logic with a ``resource``
parameter instead of a scope and answers in the v1 shape (strings, plus ``expires_on``, ``not_before``
and ``resource``). Both token endpoints, and every other endpoint the discovery documents advertise
(authorize, logout, devicecode, checksession, userinfo, kerberos), are served over HTTP by
:mod:`.endpoints`, which says what each answer rests on.

The tenant model (:class:`Tenant`) and :meth:`EntraMock.mint_access_token` are shared by the mock
IMDS and the workload-identity token endpoint.

Modules, by role: :mod:`.tenant` (the tenant model and its admin API), :mod:`.errors` (Entra's error
bodies), :mod:`.keys` (signing keys, JWKS and discovery), :mod:`.tokens` (minting access tokens),
:mod:`.federation` (the federated client credentials grant; external issuers' keys come from the shared
:mod:`wif_lab.mock.issuer_keys`), :mod:`.service` (:class:`EntraMock`, its routes and connection section)
and :mod:`.endpoints` (the other advertised endpoints).
"""

from ..base import seeded_guid
from .errors import (
    ERROR_DESCRIPTION_TAIL,
    ERROR_URI,
    JSON_UTF8,
    EntraError,
    aadsts_error,
    application_not_found,
    method_not_accepted,
    resource_not_found,
    tenant_not_found,
)
from .federation import (
    ASSERTION_ALGORITHMS,
    ASSERTION_CLOCK_SKEW,
    ASSERTION_MAX_LIFETIME,
    CLIENT_ASSERTION_TYPE,
    CLIENT_CREDENTIALS_LIFETIME,
    ISSUER_KEYS_CACHE_SECONDS,
    ISSUER_KEYS_REFETCH_SECONDS,
    WORKLOAD_ID_DOC,
)
from .keys import CLOUD_INSTANCE, SIGNING_KEYS, SigningKey
from .service import SPEC, EntraMock
from .tenant import (
    MAX_FEDERATED_CREDENTIALS,
    MULTI_TENANT_ALIASES,
    TOKEN_EXCHANGE_AUDIENCE,
    AppRegistration,
    FederatedCredential,
    IdentityKind,
    ManagedIdentity,
    Tenant,
    default_tenant,
)
from .tokens import MI_TOKEN_BACKDATE, MI_TOKEN_LIFETIME, MI_TOKEN_VALIDITY, AccessToken, FederatedTokenRequest

__all__ = [
    "ASSERTION_ALGORITHMS",
    "ASSERTION_CLOCK_SKEW",
    "ASSERTION_MAX_LIFETIME",
    "CLIENT_ASSERTION_TYPE",
    "CLIENT_CREDENTIALS_LIFETIME",
    "CLOUD_INSTANCE",
    "ERROR_DESCRIPTION_TAIL",
    "ERROR_URI",
    "ISSUER_KEYS_CACHE_SECONDS",
    "ISSUER_KEYS_REFETCH_SECONDS",
    "JSON_UTF8",
    "MAX_FEDERATED_CREDENTIALS",
    "MI_TOKEN_BACKDATE",
    "MI_TOKEN_LIFETIME",
    "MI_TOKEN_VALIDITY",
    "MULTI_TENANT_ALIASES",
    "SIGNING_KEYS",
    "SPEC",
    "TOKEN_EXCHANGE_AUDIENCE",
    "WORKLOAD_ID_DOC",
    "AccessToken",
    "AppRegistration",
    "EntraError",
    "EntraMock",
    "FederatedCredential",
    "FederatedTokenRequest",
    "IdentityKind",
    "ManagedIdentity",
    "SigningKey",
    "Tenant",
    "aadsts_error",
    "application_not_found",
    "default_tenant",
    "method_not_accepted",
    "resource_not_found",
    "seeded_guid",
    "tenant_not_found",
]
