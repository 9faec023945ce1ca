"""Call the Claude API with the JWT-SVID spiffe-helper keeps in a file: no credential code at all.

spiffe-helper runs beside the workload (a sidecar sharing an in-memory emptyDir) with helper.conf
(see helper.conf next to this file) and rewrites /var/run/secrets/anthropic.com/token before the SVID
expires. ``anthropic.Anthropic()`` reads its federation settings from the environment and re-reads the
file on every exchange:

  ANTHROPIC_IDENTITY_TOKEN_FILE  /var/run/secrets/anthropic.com/token
  ANTHROPIC_FEDERATION_RULE_ID, ANTHROPIC_ORGANIZATION_ID, ANTHROPIC_SERVICE_ACCOUNT_ID
  ANTHROPIC_WORKSPACE_ID         optional: when the rule covers several workspaces
  ANTHROPIC_BASE_URL             optional (default https://api.anthropic.com); CLAUDE_MODEL optional
  SSL_CERT_FILE                  optional CA bundle, e.g. behind a TLS-inspecting proxy

ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN must be unset: either one takes precedence over federation.
"""

import os

import anthropic

client = anthropic.Anthropic()

message = client.messages.create(
    model=os.environ.get("CLAUDE_MODEL", "claude-haiku-4-5"),
    max_tokens=1024,
    messages=[{"role": "user", "content": "Hello from a SPIFFE workload"}],
)
print(message.content[0].text)
