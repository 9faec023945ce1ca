#!/usr/bin/env bash
# The guide's CLI tab on an Azure VM: put the managed identity's Entra token in a file and let the SDK's
# own configuration do the rest.
#   1. ask the instance metadata service (IMDS) for the identity's token to the Claude API's app
#      registration, written to a file that only this user can read;
#   2. run a program with no credential code: the SDK finds ANTHROPIC_IDENTITY_TOKEN_FILE and the
#      ANTHROPIC_* IDs (or ANTHROPIC_PROFILE, see anthropic_profile.json) and exchanges the file's token
#      itself. The guide runs Anthropic's `ant` CLI at this step; it reads the same variables.
# The IMDS token lives about a day, and the SDK exchanges it again whenever its Claude API token nears
# expiry (it re-reads the file each time): a process that runs longer than that needs step 1 on a timer.
#
# Configuration (environment):
#   CLAUDE_API_RESOURCE           identifier URI of the app registration for the Claude API: api://<APP_ID>
#   AZURE_CLIENT_ID               optional: client ID of a user-assigned identity (default: system-assigned)
#   ANTHROPIC_FEDERATION_RULE_ID, ANTHROPIC_ORGANIZATION_ID, ANTHROPIC_SERVICE_ACCOUNT_ID
#                                 read by the SDK, or from a profile named by ANTHROPIC_PROFILE
#   ANTHROPIC_WORKSPACE_ID        optional: only when the rule covers several workspaces
#   ANTHROPIC_BASE_URL            optional (default: https://api.anthropic.com)
#   CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
#   SSL_CERT_FILE                 optional CA bundle for the SDK (e.g. behind a TLS-inspecting proxy)
#   AZURE_POD_IDENTITY_AUTHORITY_HOST  optional: another IMDS address (the one azure-identity reads)
# Needs curl, jq and python3 with the anthropic package. No token is ever on a command line.
set -euo pipefail

IMDS="${AZURE_POD_IDENTITY_AUTHORITY_HOST:-http://169.254.169.254}"

# 1. IMDS answers only on the VM itself, over plain HTTP to a link-local address: never via a proxy.
IDENTITY=()
if [ -n "${AZURE_CLIENT_ID:-}" ]; then IDENTITY=(--data-urlencode "client_id=$AZURE_CLIENT_ID"); fi
ANTHROPIC_IDENTITY_TOKEN_FILE=$(mktemp)
trap 'rm -f "$ANTHROPIC_IDENTITY_TOKEN_FILE"' EXIT
if ! RESPONSE=$(curl -sS --fail-with-body --noproxy '*' -G "${IMDS%/}/metadata/identity/oauth2/token" \
    -H "Metadata: true" \
    --data-urlencode "api-version=2018-02-01" \
    --data-urlencode "resource=$CLAUDE_API_RESOURCE" \
    "${IDENTITY[@]}"); then
  printf '%s\n' "$RESPONSE" >&2  # IMDS's error body says why it refused
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
    messages=[{"role": "user", "content": "Hello from Azure"}],
)
print(message.content[0].text)
PY
