"""Call the Claude API from a GitHub Actions job: the official SDK federates with the job's OIDC token.

The job needs `permissions: id-token: write`; the runner then sets ACTIONS_ID_TOKEN_REQUEST_URL and
ACTIONS_ID_TOKEN_REQUEST_TOKEN. ``id.detect_credential`` (the `id` package, the client PyPI's trusted
publishing uses) asks the runner for a token with the audience https://api.anthropic.com. GitHub's tokens
live five minutes and each is accepted by Anthropic once, so the SDK is given a function that asks the
runner again whenever it needs a new Claude API token (the request URL works for the whole job).

Configuration (environment):
  GITHUB_ACTIONS, ACTIONS_ID_TOKEN_REQUEST_URL, ACTIONS_ID_TOKEN_REQUEST_TOKEN   set by the runner
  ANTHROPIC_FEDERATION_RULE_ID  fdrl_…
  ANTHROPIC_ORGANIZATION_ID     your organization's UUID
  ANTHROPIC_SERVICE_ACCOUNT_ID  svac_…
  ANTHROPIC_WORKSPACE_ID        optional: wrkspc_… when the rule covers several workspaces
  ANTHROPIC_BASE_URL            optional (the SDK's default is https://api.anthropic.com)
  CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
  SSL_CERT_FILE                 optional CA bundle, e.g. behind a TLS-inspecting proxy
"""

import os

import anthropic
import id as oidc
from anthropic import WorkloadIdentityCredentials

AUDIENCE = "https://api.anthropic.com"


def fetch_github_token() -> str:
    token = oidc.detect_credential(AUDIENCE)
    if token is None:
        raise SystemExit("not running in GitHub Actions (GITHUB_ACTIONS is not set)")
    return token


client = anthropic.Anthropic(
    credentials=WorkloadIdentityCredentials(
        identity_token_provider=fetch_github_token,
        federation_rule_id=os.environ["ANTHROPIC_FEDERATION_RULE_ID"],
        organization_id=os.environ["ANTHROPIC_ORGANIZATION_ID"],
        service_account_id=os.environ["ANTHROPIC_SERVICE_ACCOUNT_ID"],
        workspace_id=os.environ.get("ANTHROPIC_WORKSPACE_ID") or None,
    ),
)

message = client.messages.create(
    model=os.environ.get("CLAUDE_MODEL", "claude-haiku-4-5"),
    max_tokens=1024,
    messages=[{"role": "user", "content": "Hello from GitHub Actions"}],
)
print(message.content[0].text)
