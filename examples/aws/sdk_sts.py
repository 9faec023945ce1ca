"""Call the Claude API from AWS (Lambda, EC2, ECS or EKS with an IAM role) through outbound web identity
federation.

boto3 finds the role's credentials itself (Lambda's environment, the instance profile, the task role) and
asks the **regional** STS endpoint for a web identity token for the Claude API; the official SDK calls
``fetch_sts_token`` whenever it needs a new Claude API token and exchanges the STS token at
``/v1/oauth/token``. Each STS token is new (its own ``jti``), so none is ever presented twice.

The account must have outbound web identity federation enabled, and the role's policy must allow
``sts:GetWebIdentityToken``.

Configuration (environment):
  AWS_REGION                    the region whose STS endpoint to ask (GetWebIdentityToken is regional only)
  ANTHROPIC_FEDERATION_RULE_ID  fdrl_…
  ANTHROPIC_ORGANIZATION_ID     your organization's UUID
  ANTHROPIC_SERVICE_ACCOUNT_ID  svac_…
  ANTHROPIC_WORKSPACE_ID        optional: wrkspc_… when the rule covers several workspaces
  ANTHROPIC_BASE_URL            optional (the SDK's default is https://api.anthropic.com)
  CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
  SSL_CERT_FILE, AWS_CA_BUNDLE  optional CA bundles (the SDK's and boto3's), e.g. behind a TLS-inspecting proxy
  AWS_ENDPOINT_URL_STS          optional: another STS endpoint (boto3 reads it)
"""

import os

import anthropic
import boto3
from anthropic import WorkloadIdentityCredentials

sts = boto3.client("sts", region_name=os.environ["AWS_REGION"])


def fetch_sts_token() -> str:
    # 900 s covers one exchange with room to spare; it must not outlive the role's current credentials.
    answer = sts.get_web_identity_token(
        Audience=["https://api.anthropic.com"], SigningAlgorithm="RS256", DurationSeconds=900
    )
    return answer["WebIdentityToken"]


client = anthropic.Anthropic(
    credentials=WorkloadIdentityCredentials(
        identity_token_provider=fetch_sts_token,
        federation_rule_id=os.environ["ANTHROPIC_FEDERATION_RULE_ID"],
        organization_id=os.environ["ANTHROPIC_ORGANIZATION_ID"],
        service_account_id=os.environ["ANTHROPIC_SERVICE_ACCOUNT_ID"],
        workspace_id=os.environ.get("ANTHROPIC_WORKSPACE_ID") or None,
    ),
)

message = client.messages.create(
    model=os.environ.get("CLAUDE_MODEL", "claude-haiku-4-5"),
    max_tokens=1024,
    messages=[{"role": "user", "content": "Hello from AWS"}],
)
print(message.content[0].text)
