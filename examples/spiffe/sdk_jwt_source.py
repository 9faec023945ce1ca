"""Call the Claude API from a workload with a SPIFFE identity: py-spiffe's JwtSource feeds the official SDK.

The SPIRE agent on the node attests this process and hands it JWT-SVIDs over the Workload API (a Unix
socket named by SPIFFE_ENDPOINT_SOCKET). ``JwtSource()`` connects to it and keeps the trust bundle
fresh; the SDK calls ``fetch_svid`` whenever it needs a new Claude API token and exchanges the SVID at
``/v1/oauth/token``. The audience is always https://api.anthropic.com. SPIRE's JWT-SVIDs carry no jti,
and the agent hands out the same SVID until half its lifetime has passed: that is fine here.

Configuration (environment):
  SPIFFE_ENDPOINT_SOCKET        unix:///run/spire/sockets/agent.sock (the agent's socket, mounted in)
  ANTHROPIC_FEDERATION_RULE_ID  fdrl_…
  ANTHROPIC_ORGANIZATION_ID     your organization's UUID
  ANTHROPIC_SERVICE_ACCOUNT_ID  svac_…
  ANTHROPIC_WORKSPACE_ID        optional: wrkspc_… when the rule covers several workspaces
  ANTHROPIC_BASE_URL            optional (the SDK's default is https://api.anthropic.com)
  CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
  SSL_CERT_FILE                 optional CA bundle, e.g. behind a TLS-inspecting proxy (httpx reads it)
"""

import os

import anthropic
from anthropic import WorkloadIdentityCredentials
from spiffe import JwtSource

AUDIENCE = "https://api.anthropic.com"

# Blocks until the agent has sent the first bundle; the timeout turns "no agent here" into an error.
with JwtSource(timeout_in_seconds=30) as jwt_source:

    def fetch_svid() -> str:
        return jwt_source.fetch_svid(audience={AUDIENCE}).token

    client = anthropic.Anthropic(
        credentials=WorkloadIdentityCredentials(
            identity_token_provider=fetch_svid,
            federation_rule_id=os.environ["ANTHROPIC_FEDERATION_RULE_ID"],
            organization_id=os.environ["ANTHROPIC_ORGANIZATION_ID"],
            service_account_id=os.environ["ANTHROPIC_SERVICE_ACCOUNT_ID"],
            workspace_id=os.environ.get("ANTHROPIC_WORKSPACE_ID") or None,
        ),
    )

    message = client.messages.create(
        model=os.environ.get("CLAUDE_MODEL", "claude-haiku-4-5"),
        max_tokens=1024,
        messages=[{"role": "user", "content": "Hello from a SPIFFE workload"}],
    )
    print(message.content[0].text)
