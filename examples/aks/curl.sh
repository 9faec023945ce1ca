#!/usr/bin/env bash
# The raw two-hop flow from an AKS pod with Microsoft Entra Workload ID:
#   1. present the projected service-account token to Entra (federated client_credentials) and get the
#      identity's Entra access token;
#   2. exchange the Entra token for a Claude API access token at /v1/oauth/token (jwt-bearer);
#   3. call the Messages API with that bearer token.
#
# Configuration (environment):
#   AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE   set by the workload-identity webhook
#   AZURE_AUTHORITY_HOST          set by the webhook (default: https://login.microsoftonline.com/)
#   CLAUDE_API_RESOURCE           identifier URI of the app registration for the Claude API: api://<APP_ID>
#   ANTHROPIC_FEDERATION_RULE_ID, ANTHROPIC_ORGANIZATION_ID, ANTHROPIC_SERVICE_ACCOUNT_ID
#   ANTHROPIC_WORKSPACE_ID        optional: only when the rule covers several workspaces
#   ANTHROPIC_BASE_URL            optional (default: https://api.anthropic.com)
#   CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
#   CURL_CA_BUNDLE                optional CA bundle for curl (e.g. behind a TLS-inspecting proxy)
# Needs curl and jq. Tokens travel through files and stdin, never on a command line.
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

AUTHORITY="${AZURE_AUTHORITY_HOST:-https://login.microsoftonline.com/}"
BASE_URL="${ANTHROPIC_BASE_URL:-https://api.anthropic.com}"
BASE_URL="${BASE_URL%/}"

# 1. Hop 1: the projected token is read from its file at request time (the kubelet rotates it).
ENTRA_TOKEN=$(call "${AUTHORITY%/}/$AZURE_TENANT_ID/oauth2/v2.0/token" \
  -d grant_type=client_credentials \
  --data-urlencode "client_id=$AZURE_CLIENT_ID" \
  --data-urlencode "scope=${CLAUDE_API_RESOURCE%/}/.default" \
  -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
  --data-urlencode "client_assertion@$AZURE_FEDERATED_TOKEN_FILE" \
  | jq -er .access_token)

# 2. Hop 2: exchange the Entra token (workspace_id only when set, as the SDKs do).
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
    '{model: $model, max_tokens: 1024, messages: [{role: "user", content: "Hello from AKS"}]}' \
  | call "$BASE_URL/v1/messages" \
    -H @<(printf 'authorization: Bearer %s\n' "$ACCESS_TOKEN") \
    -H "anthropic-version: 2023-06-01" \
    -H "content-type: application/json" \
    --data @- \
  | jq -r '.content[0].text'
