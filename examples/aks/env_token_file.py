"""Call the Claude API from a Kubernetes pod with no credential code at all (the direct path).

The pod's projected service-account token, minted for the audience https://api.anthropic.com, is the
identity token: no Entra hop. ``anthropic.Anthropic()`` finds its federation settings itself, in one
of two places (configuration only; this code is the same for both):

1. Environment variables (the Kubernetes guide's pod spec):
     ANTHROPIC_IDENTITY_TOKEN_FILE  /var/run/secrets/anthropic.com/token (re-read on every exchange)
     ANTHROPIC_FEDERATION_RULE_ID, ANTHROPIC_ORGANIZATION_ID, ANTHROPIC_SERVICE_ACCOUNT_ID
     ANTHROPIC_WORKSPACE_ID         optional: when the rule covers several workspaces
   Each process exchanges the token file's current content. Projected tokens carry a jti, which
   Anthropic accepts once: a second process started before the kubelet rotates the file (at about
   80 % of its lifetime) is refused, unless the issuer's check_jti is off.

2. A federation profile: ANTHROPIC_PROFILE=<name> selects <config dir>/configs/<name>.json (config
   dir: ANTHROPIC_CONFIG_DIR, default ~/.config/anthropic); see anthropic_profile.json next to this
   file. Empty fields in it are filled from the variables above. The SDK caches the Claude API token
   in <config dir>/credentials/<name>.json (mode 0600), so later processes reuse it until it expires
   instead of exchanging the same projected token again.

Either way: ANTHROPIC_BASE_URL optional (default https://api.anthropic.com), CLAUDE_MODEL optional,
SSL_CERT_FILE optional (a CA bundle, e.g. behind a TLS-inspecting proxy). ANTHROPIC_API_KEY and
ANTHROPIC_AUTH_TOKEN must be unset: either one takes precedence over federation.
"""

import os

import anthropic

client = anthropic.Anthropic()

message = client.messages.create(
    model=os.environ.get("CLAUDE_MODEL", "claude-haiku-4-5"),
    max_tokens=1024,
    messages=[{"role": "user", "content": "Hello from Kubernetes"}],
)
print(message.content[0].text)
