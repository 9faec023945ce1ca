#!/usr/bin/env bash
# The raw flow on an Azure VM with a managed identity, as three HTTP requests:
#   1. ask the instance metadata service (IMDS) for the identity's Entra token;
#   2. exchange it for a Claude API access token at /v1/oauth/token (jwt-bearer);
#   3. call the Messages API with that bearer token.
#
# Configuration (environment):
#   CLAUDE_API_RESOURCE           identifier URI of the app registration for the Claude API: api://<APP_ID>
#   AZURE_CLIENT_ID               optional: client ID of a user-assigned identity (default: system-assigned)
#   ANTHROPIC_FEDERATION_RULE_ID, ANTHROPIC_ORGANIZATION_ID, ANTHROPIC_SERVICE_ACCOUNT_ID
#   ANTHROPIC_WORKSPACE_ID        optional: only when the rule covers several workspaces
#   ANTHROPIC_BASE_URL            optional (default: https://api.anthropic.com)
#   CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
#   CURL_CA_BUNDLE                optional CA bundle for curl (e.g. behind a TLS-inspecting proxy)
#   AZURE_POD_IDENTITY_AUTHORITY_HOST  optional: another IMDS address (the one azure-identity reads)
# Needs curl and jq. Tokens travel through stdin, never on a command line.
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

IMDS="${AZURE_POD_IDENTITY_AUTHORITY_HOST:-http://169.254.169.254}"
BASE_URL="${ANTHROPIC_BASE_URL:-https://api.anthropic.com}"
BASE_URL="${BASE_URL%/}"

# 1. IMDS answers only on the VM itself, over plain HTTP to a link-local address: never via a proxy.
IDENTITY=()
if [ -n "${AZURE_CLIENT_ID:-}" ]; then IDENTITY=(--data-urlencode "client_id=$AZURE_CLIENT_ID"); fi
ENTRA_TOKEN=$(call --noproxy '*' -G "${IMDS%/}/metadata/identity/oauth2/token" \
  -H "Metadata: true" \
  --data-urlencode "api-version=2018-02-01" \
  --data-urlencode "resource=$CLAUDE_API_RESOURCE" \
  "${IDENTITY[@]}" \
  | jq -er .access_token)

# 2. Exchange it (workspace_id only when set, as the SDKs do).
ACCESS_TOKEN=$(printf '%s' "$ENTRA_TOKEN" | jq -R --arg workspace "${ANTHROPIC_WORKSPACE_ID:-}" '{
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
    '{model: $model, max_tokens: 1024, messages: [{role: "user", content: "Hello from Azure"}]}' \
  | call "$BASE_URL/v1/messages" \
    -H @<(printf 'authorization: Bearer %s\n' "$ACCESS_TOKEN") \
    -H "anthropic-version: 2023-06-01" \
    -H "content-type: application/json" \
    --data @- \
  | jq -r '.content[0].text'
