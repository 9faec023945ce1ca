#!/usr/bin/env bash
# The raw flow on AWS with the AWS CLI, as the guide's CLI step shows it:
#   1. `aws sts get-web-identity-token`: the role's web identity token for the Claude API;
#   2. exchange it for a Claude API access token at /v1/oauth/token (jwt-bearer);
#   3. call the Messages API with that bearer token.
#
# Configuration (environment):
#   AWS_REGION                    the region whose STS endpoint to ask (GetWebIdentityToken is regional only)
#   ANTHROPIC_FEDERATION_RULE_ID, ANTHROPIC_ORGANIZATION_ID, ANTHROPIC_SERVICE_ACCOUNT_ID
#   ANTHROPIC_WORKSPACE_ID        optional: only when the rule covers several workspaces
#   ANTHROPIC_BASE_URL            optional (default: https://api.anthropic.com)
#   CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
#   CURL_CA_BUNDLE, AWS_CA_BUNDLE optional CA bundles for curl and the CLI (e.g. behind a TLS-inspecting proxy)
# The CLI finds the role's credentials as boto3 does. Needs the AWS CLI, curl and jq. Tokens travel through
# stdin and variables, never on a command line.
set -euo pipefail

call() {
  local body
  if ! body=$(curl -sS --fail-with-body "$@"); then
    printf '%s\n' "$body" >&2
    return 1
  fi
  printf '%s' "$body"
}

BASE_URL="${ANTHROPIC_BASE_URL:-https://api.anthropic.com}"
BASE_URL="${BASE_URL%/}"

# 1. The regional STS endpoint signs a token for the role (sub = the role's ARN). The audience is given as
#    a JSON list: AWS CLI v1 reads a bare parameter value starting with https:// as a URL to download
#    (unless cli_follow_urlparam = false), and would fetch https://api.anthropic.com instead of sending it.
STS_TOKEN=$(aws sts get-web-identity-token --region "$AWS_REGION" \
  --audience '["https://api.anthropic.com"]' --signing-algorithm RS256 --duration-seconds 900 \
  --query WebIdentityToken --output text)

# 2. Exchange it (workspace_id only when set, as the SDKs do).
ACCESS_TOKEN=$(printf '%s' "$STS_TOKEN" | jq -R --arg workspace "${ANTHROPIC_WORKSPACE_ID:-}" '{
    grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
    assertion: .,
    federation_rule_id: env.ANTHROPIC_FEDERATION_RULE_ID,
    organization_id: env.ANTHROPIC_ORGANIZATION_ID,
    service_account_id: env.ANTHROPIC_SERVICE_ACCOUNT_ID
  } + (if $workspace == "" then {} else {workspace_id: $workspace} end)' \
  | call "$BASE_URL/v1/oauth/token" -H "content-type: application/json" --data @- \
  | jq -er .access_token)

# 3. Call the Claude API (the header is read from a file descriptor, so the token is not in argv).
jq -n --arg model "${CLAUDE_MODEL:-claude-haiku-4-5}" \
    '{model: $model, max_tokens: 1024, messages: [{role: "user", content: "Hello from AWS"}]}' \
  | call "$BASE_URL/v1/messages" \
    -H @<(printf 'authorization: Bearer %s\n' "$ACCESS_TOKEN") \
    -H "anthropic-version: 2023-06-01" \
    -H "content-type: application/json" \
    --data @- \
  | jq -r '.content[0].text'
