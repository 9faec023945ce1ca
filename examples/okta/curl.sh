#!/usr/bin/env bash
# The raw flow for a workload that signs in with Okta, as three HTTP requests:
#   1. sign an RFC 7523 client assertion with the app's private key and ask Okta for an access token
#      (client_credentials, private_key_jwt);
#   2. exchange the Okta token for a Claude API access token at /v1/oauth/token (jwt-bearer);
#   3. call the Messages API with that bearer token.
#
# Configuration (environment):
#   OKTA_ISSUER                   https://<your-domain>.okta.com/oauth2/<auth-server-id>
#   OKTA_CLIENT_ID                the API Services app's client ID (0oa…)
#   OKTA_PRIVATE_KEY_FILE         PEM RSA private key whose public JWK is registered on the app
#   OKTA_KEY_ID                   the kid of that registered public key
#   OKTA_SCOPE                    optional (default: anthropic.access)
#   ANTHROPIC_FEDERATION_RULE_ID, ANTHROPIC_ORGANIZATION_ID, ANTHROPIC_SERVICE_ACCOUNT_ID
#   ANTHROPIC_WORKSPACE_ID        optional: only when the rule covers several workspaces
#   ANTHROPIC_BASE_URL            optional (default: https://api.anthropic.com)
#   CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
#   CURL_CA_BUNDLE                optional CA bundle for curl (e.g. behind a TLS-inspecting proxy)
# Needs curl, jq and openssl. Tokens travel through stdin and files, never on a command line.
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

TOKEN_ENDPOINT="${OKTA_ISSUER%/}/v1/token"
BASE_URL="${ANTHROPIC_BASE_URL:-https://api.anthropic.com}"
BASE_URL="${BASE_URL%/}"

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# 1. The client assertion: iss = sub = client ID, aud = the token endpoint, 5 minutes, unique jti.
NOW=$(date +%s)
HEADER=$(jq -cjn --arg kid "$OKTA_KEY_ID" '{alg: "RS256", typ: "JWT", kid: $kid}' | b64url)
PAYLOAD=$(jq -cjn --arg cid "$OKTA_CLIENT_ID" --arg aud "$TOKEN_ENDPOINT" --arg jti "$(openssl rand -hex 16)" \
  --argjson now "$NOW" '{iss: $cid, sub: $cid, aud: $aud, iat: $now, exp: ($now + 300), jti: $jti}' | b64url)
SIGNATURE=$(printf '%s.%s' "$HEADER" "$PAYLOAD" | openssl dgst -sha256 -sign "$OKTA_PRIVATE_KEY_FILE" -binary | b64url)

OKTA_JWT=$(printf '%s.%s.%s' "$HEADER" "$PAYLOAD" "$SIGNATURE" | call "$TOKEN_ENDPOINT" \
  -H "accept: application/json" \
  -d grant_type=client_credentials \
  --data-urlencode "scope=${OKTA_SCOPE:-anthropic.access}" \
  -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
  --data-urlencode "client_assertion@-" \
  | jq -er .access_token)

# 2. Exchange it (workspace_id only when set, as the SDKs do).
ACCESS_TOKEN=$(printf '%s' "$OKTA_JWT" | jq -R --arg workspace "${ANTHROPIC_WORKSPACE_ID:-}" '{
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
    '{model: $model, max_tokens: 1024, messages: [{role: "user", content: "Hello, Claude"}]}' \
  | call "$BASE_URL/v1/messages" \
    -H @<(printf 'authorization: Bearer %s\n' "$ACCESS_TOKEN") \
    -H "anthropic-version: 2023-06-01" \
    -H "content-type: application/json" \
    --data @- \
  | jq -r '.content[0].text'
