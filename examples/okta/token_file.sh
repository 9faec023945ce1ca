#!/usr/bin/env bash
# The guide's CLI tab: put an Okta access token in a file and let the SDK's own configuration do the rest.
#   1. sign an RFC 7523 client assertion and ask Okta for an access token (client_credentials,
#      private_key_jwt), written to a file that only this user can read;
#   2. run a program with no credential code: the SDK finds ANTHROPIC_IDENTITY_TOKEN_FILE and the
#      ANTHROPIC_* IDs (or ANTHROPIC_PROFILE, see anthropic_profile.json) and exchanges the file's token
#      itself. The guide runs Anthropic's `ant` CLI at this step; it reads the same variables.
# Okta puts no token into the runtime, so something has to keep the file fresh. An Okta token lives an
# hour and, carrying a jti, is exchanged once: for a long-running process, run step 1 on a timer more
# often than the Claude API token's lifetime, so that each exchange the SDK makes reads a new token.
#
# Configuration (environment):
#   OKTA_ISSUER                   https://<your-domain>.okta.com/oauth2/<auth-server-id>
#   OKTA_CLIENT_ID                the API Services app's client ID (0oa…)
#   OKTA_PRIVATE_KEY_FILE         PEM RSA private key whose public JWK is registered on the app
#   OKTA_KEY_ID                   the kid of that registered public key
#   OKTA_SCOPE                    optional (default: anthropic.access)
#   ANTHROPIC_FEDERATION_RULE_ID, ANTHROPIC_ORGANIZATION_ID, ANTHROPIC_SERVICE_ACCOUNT_ID
#                                 read by the SDK, or from a profile named by ANTHROPIC_PROFILE
#   ANTHROPIC_WORKSPACE_ID        optional: only when the rule covers several workspaces
#   ANTHROPIC_BASE_URL            optional (default: https://api.anthropic.com)
#   CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
#   CURL_CA_BUNDLE, SSL_CERT_FILE optional CA bundles for curl and the SDK (e.g. behind a TLS-inspecting proxy)
# Needs curl, jq, openssl and python3 with the anthropic package. No token is ever on a command line.
set -euo pipefail

TOKEN_ENDPOINT="${OKTA_ISSUER%/}/v1/token"
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# 1. The client assertion (iss = sub = client ID, aud = the token endpoint, 5 minutes, unique jti),
#    then Okta's access token into a private temporary file, removed when the script ends.
NOW=$(date +%s)
HEADER=$(jq -cjn --arg kid "$OKTA_KEY_ID" '{alg: "RS256", typ: "JWT", kid: $kid}' | b64url)
PAYLOAD=$(jq -cjn --arg cid "$OKTA_CLIENT_ID" --arg aud "$TOKEN_ENDPOINT" --arg jti "$(openssl rand -hex 16)" \
  --argjson now "$NOW" '{iss: $cid, sub: $cid, aud: $aud, iat: $now, exp: ($now + 300), jti: $jti}' | b64url)
SIGNATURE=$(printf '%s.%s' "$HEADER" "$PAYLOAD" | openssl dgst -sha256 -sign "$OKTA_PRIVATE_KEY_FILE" -binary | b64url)

ANTHROPIC_IDENTITY_TOKEN_FILE=$(mktemp)
trap 'rm -f "$ANTHROPIC_IDENTITY_TOKEN_FILE"' EXIT
if ! RESPONSE=$(printf '%s.%s.%s' "$HEADER" "$PAYLOAD" "$SIGNATURE" | curl -sS --fail-with-body "$TOKEN_ENDPOINT" \
    -H "accept: application/json" \
    -d grant_type=client_credentials \
    --data-urlencode "scope=${OKTA_SCOPE:-anthropic.access}" \
    -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    --data-urlencode "client_assertion@-"); then
  printf '%s\n' "$RESPONSE" >&2  # Okta's error body says why it refused
  exit 1
fi
printf '%s' "$RESPONSE" | jq -er .access_token > "$ANTHROPIC_IDENTITY_TOKEN_FILE"
export ANTHROPIC_IDENTITY_TOKEN_FILE

# 2. Call the Claude API with no credential code at all.
python3 - <<'PY'
import os

import anthropic

client = anthropic.Anthropic()  # federation settings from the environment (or ANTHROPIC_PROFILE)
message = client.messages.create(
    model=os.environ.get("CLAUDE_MODEL", "claude-haiku-4-5"),
    max_tokens=1024,
    messages=[{"role": "user", "content": "Hello, Claude"}],
)
print(message.content[0].text)
PY
