"""Call the Claude API from a workload that signs in with Okta: the official SDK federates for you.

Okta puts no token in the workload's runtime, so the workload asks Okta itself: a client_credentials
request to the custom authorization server, authenticated with private_key_jwt (an RFC 7523 client
assertion signed with the app's private key). The SDK calls ``fetch_okta_token`` whenever it needs a
new Claude API token, exchanges the Okta access token at ``/v1/oauth/token`` and caches the result.
Every call builds a fresh assertion and gets a fresh Okta token: both are single-use.

Configuration (environment):
  OKTA_ISSUER                   https://<your-domain>.okta.com/oauth2/<auth-server-id>
  OKTA_CLIENT_ID                the API Services app's client ID (0oa…)
  OKTA_PRIVATE_KEY_FILE         PEM private key whose public JWK is registered on the app
  OKTA_KEY_ID                   the kid of that registered public key
  OKTA_SCOPE                    a scope the access policy grants the app (default: anthropic.access)
  ANTHROPIC_FEDERATION_RULE_ID  fdrl_…
  ANTHROPIC_ORGANIZATION_ID     your organization's UUID
  ANTHROPIC_SERVICE_ACCOUNT_ID  svac_…
  ANTHROPIC_WORKSPACE_ID        optional: wrkspc_… when the rule covers several workspaces
  ANTHROPIC_BASE_URL            optional (the SDK's default is https://api.anthropic.com)
  CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
  SSL_CERT_FILE                 optional CA bundle, e.g. behind a TLS-inspecting proxy (httpx reads it)
"""

import os
import time
import uuid
from pathlib import Path

import anthropic
import httpx
import jwt
from anthropic import WorkloadIdentityCredentials

OKTA_ISSUER = os.environ["OKTA_ISSUER"].rstrip("/")
OKTA_CLIENT_ID = os.environ["OKTA_CLIENT_ID"]
OKTA_KEY_ID = os.environ["OKTA_KEY_ID"]
OKTA_SCOPE = os.environ.get("OKTA_SCOPE", "anthropic.access")
TOKEN_ENDPOINT = f"{OKTA_ISSUER}/v1/token"
PRIVATE_KEY = Path(os.environ["OKTA_PRIVATE_KEY_FILE"]).read_text()


def build_client_assertion() -> str:
    """The app proves who it is: iss = sub = client ID, aud = the token endpoint, short-lived, unique jti."""
    now = int(time.time())
    claims = {
        "iss": OKTA_CLIENT_ID,
        "sub": OKTA_CLIENT_ID,
        "aud": TOKEN_ENDPOINT,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, PRIVATE_KEY, algorithm="RS256", headers={"kid": OKTA_KEY_ID})


def fetch_okta_token() -> str:
    response = httpx.post(
        TOKEN_ENDPOINT,
        data={
            "grant_type": "client_credentials",
            "scope": OKTA_SCOPE,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": build_client_assertion(),
        },
        headers={"accept": "application/json"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["access_token"]


client = anthropic.Anthropic(
    credentials=WorkloadIdentityCredentials(
        identity_token_provider=fetch_okta_token,
        federation_rule_id=os.environ["ANTHROPIC_FEDERATION_RULE_ID"],
        organization_id=os.environ["ANTHROPIC_ORGANIZATION_ID"],
        service_account_id=os.environ["ANTHROPIC_SERVICE_ACCOUNT_ID"],
        workspace_id=os.environ.get("ANTHROPIC_WORKSPACE_ID") or None,
    ),
)

message = client.messages.create(
    model=os.environ.get("CLAUDE_MODEL", "claude-haiku-4-5"),
    max_tokens=1024,
    messages=[{"role": "user", "content": "Hello, Claude"}],
)
print(message.content[0].text)
