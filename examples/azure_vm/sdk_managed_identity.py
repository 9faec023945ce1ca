"""Call the Claude API from an Azure VM (or VM scale set) with its managed identity.

``azure.identity.ManagedIdentityCredential`` fetches the identity's Entra token from the instance
metadata service (IMDS) and caches it; the official SDK calls ``fetch_entra_token`` whenever it needs
a new Claude API token and exchanges the Entra token at ``/v1/oauth/token``. The token is for the app
registration that stands for the Claude API (``api://<APP_ID>``), so its ``aud`` is that app's ID.

The same file runs unchanged on App Service, Azure Functions and Container Apps: there the platform
sets ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER``, and the credential asks that endpoint instead of
IMDS (which those services do not offer). An app with only user-assigned identities must set
``AZURE_CLIENT_ID``: unlike IMDS, the endpoint does not pick a lone user-assigned identity by itself.

Configuration (environment):
  CLAUDE_API_RESOURCE           identifier URI of the app registration for the Claude API: api://<APP_ID>
  AZURE_CLIENT_ID               optional: client ID of a user-assigned identity (default: the
                                system-assigned identity)
  ANTHROPIC_FEDERATION_RULE_ID  fdrl_…
  ANTHROPIC_ORGANIZATION_ID     your organization's UUID
  ANTHROPIC_SERVICE_ACCOUNT_ID  svac_…
  ANTHROPIC_WORKSPACE_ID        optional: wrkspc_… when the rule covers several workspaces
  ANTHROPIC_BASE_URL            optional (the SDK's default is https://api.anthropic.com)
  CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
  SSL_CERT_FILE                 optional CA bundle, e.g. behind a TLS-inspecting proxy
  AZURE_POD_IDENTITY_AUTHORITY_HOST  optional: another IMDS address (azure-identity reads it)
  IDENTITY_ENDPOINT, IDENTITY_HEADER  set by App Service / Functions / Container Apps, never by hand
"""

import os

import anthropic
from anthropic import WorkloadIdentityCredentials
from azure.identity import ManagedIdentityCredential

SCOPE = os.environ["CLAUDE_API_RESOURCE"].rstrip("/") + "/.default"
credential = ManagedIdentityCredential(client_id=os.environ.get("AZURE_CLIENT_ID") or None)


def fetch_entra_token() -> str:
    # azure-identity caches the token and refreshes it before it expires; IMDS tokens live 24 h + 5 min
    # (iat is backdated), so the federation issuer needs max_jwt_lifetime_seconds 86700 or more.
    return credential.get_token(SCOPE).token


client = anthropic.Anthropic(
    credentials=WorkloadIdentityCredentials(
        identity_token_provider=fetch_entra_token,
        federation_rule_id=os.environ["ANTHROPIC_FEDERATION_RULE_ID"],
        organization_id=os.environ["ANTHROPIC_ORGANIZATION_ID"],
        service_account_id=os.environ["ANTHROPIC_SERVICE_ACCOUNT_ID"],
        workspace_id=os.environ.get("ANTHROPIC_WORKSPACE_ID") or None,
    ),
)

message = client.messages.create(
    model=os.environ.get("CLAUDE_MODEL", "claude-haiku-4-5"),
    max_tokens=1024,
    messages=[{"role": "user", "content": "Hello from Azure"}],
)
print(message.content[0].text)
