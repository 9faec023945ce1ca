"""Call the Claude API from Google Cloud (Compute Engine, GKE with Workload Identity, Cloud Run, Cloud
Functions) as the service account attached to the workload.

``google.oauth2.id_token.fetch_id_token`` asks the metadata server for a Google-signed ID token for the
audience (google-auth always adds ``format=full``, which is what puts ``email`` in the token); the
official SDK calls ``fetch_google_token`` whenever it needs a new Claude API token and exchanges the ID
token at ``/v1/oauth/token``. Each call mints a fresh token, valid for one hour.

Configuration (environment):
  ANTHROPIC_FEDERATION_RULE_ID  fdrl_…
  ANTHROPIC_ORGANIZATION_ID     your organization's UUID
  ANTHROPIC_SERVICE_ACCOUNT_ID  svac_…
  ANTHROPIC_WORKSPACE_ID        optional: wrkspc_… when the rule covers several workspaces
  ANTHROPIC_BASE_URL            optional (the SDK's default is https://api.anthropic.com)
  CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
  SSL_CERT_FILE                 optional CA bundle, e.g. behind a TLS-inspecting proxy
  GCE_METADATA_HOST, GCE_METADATA_IP  optional: another metadata server (google-auth reads them);
                                never set on Google Cloud itself
  GOOGLE_APPLICATION_CREDENTIALS  must be unset: a key file there takes precedence over the metadata server
"""

import os

import anthropic
import google.auth.transport.requests
import google.oauth2.id_token
from anthropic import WorkloadIdentityCredentials

AUDIENCE = "https://api.anthropic.com"
request = google.auth.transport.requests.Request()


def fetch_google_token() -> str:
    return google.oauth2.id_token.fetch_id_token(request, AUDIENCE)


client = anthropic.Anthropic(
    credentials=WorkloadIdentityCredentials(
        identity_token_provider=fetch_google_token,
        federation_rule_id=os.environ["ANTHROPIC_FEDERATION_RULE_ID"],
        organization_id=os.environ["ANTHROPIC_ORGANIZATION_ID"],
        service_account_id=os.environ["ANTHROPIC_SERVICE_ACCOUNT_ID"],
        workspace_id=os.environ.get("ANTHROPIC_WORKSPACE_ID") or None,
    ),
)

message = client.messages.create(
    model=os.environ.get("CLAUDE_MODEL", "claude-haiku-4-5"),
    max_tokens=1024,
    messages=[{"role": "user", "content": "Hello from Google Cloud"}],
)
print(message.content[0].text)
