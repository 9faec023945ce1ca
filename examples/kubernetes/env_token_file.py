"""Call the Claude API from a pod on a self-managed cluster, with no credential code at all.

The pod spec (pod.yaml next to this file) projects a service-account token for the audience
https://api.anthropic.com into /var/run/secrets/anthropic.com/token and sets:

    ANTHROPIC_IDENTITY_TOKEN_FILE  /var/run/secrets/anthropic.com/token
    ANTHROPIC_FEDERATION_RULE_ID, ANTHROPIC_ORGANIZATION_ID, ANTHROPIC_SERVICE_ACCOUNT_ID
    ANTHROPIC_WORKSPACE_ID         optional: when the rule covers several workspaces

``anthropic.Anthropic()`` finds these itself and reads the token file on every exchange, so the
kubelet's rotations (at about 80 % of the token's lifetime) need nothing from the program. Each file
content carries its own jti, which Anthropic accepts once: a second process that exchanges before the
kubelet has rewritten the file is refused, so run one exchanging process per pod or keep the rule's
token_lifetime_seconds at least as long as the file's refresh interval.

Optional: ANTHROPIC_BASE_URL (default https://api.anthropic.com), CLAUDE_MODEL, SSL_CERT_FILE (a CA
bundle, e.g. behind a TLS-inspecting proxy). ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN must be unset:
either one takes precedence over federation.
"""

import os

import anthropic

client = anthropic.Anthropic()

message = client.messages.create(
    model=os.environ.get("CLAUDE_MODEL", "claude-haiku-4-5"),
    max_tokens=1024,
    messages=[{"role": "user", "content": "Hello from a self-managed Kubernetes cluster"}],
)
print(message.content[0].text)
