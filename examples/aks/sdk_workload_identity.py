"""Call the Claude API from an AKS pod with Microsoft Entra Workload ID (two hops).

The workload-identity webhook puts the pod's settings in its environment (AZURE_TENANT_ID,
AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST) and mounts a projected
service-account token. ``azure.identity.WorkloadIdentityCredential`` reads all of them: it presents the
projected token (re-read from the file, which the kubelet rotates) to Entra and gets the identity's
Entra access token (hop 1). The official SDK exchanges that Entra token at ``/v1/oauth/token`` whenever
it needs a new Claude API token (hop 2).

Configuration (environment):
  AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST   set by the webhook
  CLAUDE_API_RESOURCE           identifier URI of the app registration for the Claude API: api://<APP_ID>
  ANTHROPIC_FEDERATION_RULE_ID  fdrl_…
  ANTHROPIC_ORGANIZATION_ID     your organization's UUID
  ANTHROPIC_SERVICE_ACCOUNT_ID  svac_…
  ANTHROPIC_WORKSPACE_ID        optional: wrkspc_… when the rule covers several workspaces
  ANTHROPIC_BASE_URL            optional (the SDK's default is https://api.anthropic.com)
  CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
  SSL_CERT_FILE, REQUESTS_CA_BUNDLE  optional CA bundle, e.g. behind a TLS-inspecting proxy (the SDK
                                reads the first, azure-identity the second)
"""

import os

import anthropic
from anthropic import WorkloadIdentityCredentials
from azure.identity import WorkloadIdentityCredential

SCOPE = os.environ["CLAUDE_API_RESOURCE"].rstrip("/") + "/.default"
credential = WorkloadIdentityCredential()


def fetch_entra_token() -> str:
    # Entra tokens from client credentials live 60-90 minutes: the federation issuer needs
    # max_jwt_lifetime_seconds above that (7500).
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
    messages=[{"role": "user", "content": "Hello from AKS"}],
)
print(message.content[0].text)
