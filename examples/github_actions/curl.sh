#!/usr/bin/env bash
# The raw flow in a GitHub Actions step, as the Claude guide's cURL tab gives it:
#   1. ask the runner for the job's OIDC token, audience https://api.anthropic.com;
#   2. exchange it for a Claude API access token at /v1/oauth/token (jwt-bearer);
#   3. call the Messages API with that bearer token.
#
# Configuration (environment):
#   ACTIONS_ID_TOKEN_REQUEST_URL, ACTIONS_ID_TOKEN_REQUEST_TOKEN   set by the runner (permissions: id-token: write)
#   ANTHROPIC_FEDERATION_RULE_ID, ANTHROPIC_ORGANIZATION_ID, ANTHROPIC_SERVICE_ACCOUNT_ID
#   ANTHROPIC_WORKSPACE_ID        optional: only when the rule covers several workspaces
#   ANTHROPIC_BASE_URL            optional (default: https://api.anthropic.com)
#   CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
#   CURL_CA_BUNDLE                optional CA bundle for curl (e.g. behind a TLS-inspecting proxy)
# Needs curl and jq. Tokens travel through stdin and file descriptors, never on a command line.
set -euo pipefail

# curl that stops on an HTTP error and shows the service's error body on stderr (it explains the refusal).
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

# 1. The request URL already carries ?api-version=2.0, hence the "&audience=".
GITHUB_TOKEN=$(call "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=https://api.anthropic.com" \
  -H @<(printf 'Authorization: Bearer %s\n' "$ACTIONS_ID_TOKEN_REQUEST_TOKEN") \
  | jq -er .value)

# 2. Exchange it (workspace_id only when set, as the SDKs do).
ACCESS_TOKEN=$(printf '%s' "$GITHUB_TOKEN" | jq -R --arg workspace "${ANTHROPIC_WORKSPACE_ID:-}" '{
    grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
    assertion: .,
    federation_rule_id: env.ANTHROPIC_FEDERATION_RULE_ID,
    organization_id: env.ANTHROPIC_ORGANIZATION_ID,
    service_account_id: env.ANTHROPIC_SERVICE_ACCOUNT_ID
  } + (if $workspace == "" then {} else {workspace_id: $workspace} end)' \
  | call "$BASE_URL/v1/oauth/token" -H "content-type: application/json" --data @- \
  | jq -er .access_token)

# 3. Call the Claude API.
jq -n --arg model "${CLAUDE_MODEL:-claude-haiku-4-5}" \
    '{model: $model, max_tokens: 1024, messages: [{role: "user", content: "Hello from GitHub Actions"}]}' \
  | call "$BASE_URL/v1/messages" \
    -H @<(printf 'authorization: Bearer %s\n' "$ACCESS_TOKEN") \
    -H "anthropic-version: 2023-06-01" \
    -H "content-type: application/json" \
    --data @- \
  | jq -r '.content[0].text'
