/**
 * Call the Claude API from a workload that signs in with Okta, in TypeScript: the guide's TypeScript tab.
 *
 * Okta puts no token in the workload's runtime, so the workload asks Okta itself: a client_credentials
 * request to the custom authorization server, authenticated with private_key_jwt (an RFC 7523 client
 * assertion signed with the app's private key). `oidcFederationProvider` from `@anthropic-ai/sdk` calls
 * `fetchOktaToken` whenever the client needs a Claude API token, exchanges the Okta access token at
 * /v1/oauth/token, and the client caches the result until shortly before it expires. Every call signs a
 * fresh assertion and gets a fresh Okta token: both are single-use.
 *
 * Configuration (environment), the same as the Python program beside this file:
 *   OKTA_ISSUER                   https://<your-domain>.okta.com/oauth2/<auth-server-id>
 *   OKTA_CLIENT_ID                the API Services app's client ID (0oa…)
 *   OKTA_PRIVATE_KEY_FILE         PEM private key whose public JWK is registered on the app
 *   OKTA_KEY_ID                   the kid of that registered public key
 *   OKTA_SCOPE                    a scope the access policy grants the app (default: anthropic.access)
 *   ANTHROPIC_FEDERATION_RULE_ID  fdrl_…
 *   ANTHROPIC_ORGANIZATION_ID     your organization's UUID
 *   ANTHROPIC_SERVICE_ACCOUNT_ID  svac_…
 *   ANTHROPIC_WORKSPACE_ID        optional: wrkspc_… when the rule covers several workspaces
 *   ANTHROPIC_BASE_URL            optional (default: https://api.anthropic.com)
 *   CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
 *   NODE_EXTRA_CA_CERTS           optional CA bundle Node adds to its trust store (a TLS-inspecting proxy)
 *
 * Needs Node.js 20 or later, `@anthropic-ai/sdk` and `jose` (versions pinned in examples/package.json).
 */

import { createPrivateKey, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";

import Anthropic from "@anthropic-ai/sdk";
import { oidcFederationProvider } from "@anthropic-ai/sdk/lib/credentials/oidc-federation";
import { SignJWT } from "jose";

function setting(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

const oktaIssuer = setting("OKTA_ISSUER").replace(/\/+$/, "");
const tokenEndpoint = `${oktaIssuer}/v1/token`;
const oktaClientId = setting("OKTA_CLIENT_ID");
const oktaKeyId = setting("OKTA_KEY_ID");
const oktaScope = process.env.OKTA_SCOPE || "anthropic.access";
const privateKey = createPrivateKey(readFileSync(setting("OKTA_PRIVATE_KEY_FILE")));
const baseURL = (process.env.ANTHROPIC_BASE_URL || "https://api.anthropic.com").replace(/\/+$/, "");

/** The app proves who it is: iss = sub = client ID, aud = the token endpoint, five minutes, a unique jti. */
function buildClientAssertion(): Promise<string> {
  return new SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: "RS256", kid: oktaKeyId })
    .setIssuer(oktaClientId)
    .setSubject(oktaClientId)
    .setAudience(tokenEndpoint)
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(privateKey);
}

async function fetchOktaToken(): Promise<string> {
  const response = await fetch(tokenEndpoint, {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      scope: oktaScope,
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: await buildClientAssertion(),
    }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
  if (!response.ok || !body.access_token) {
    throw new Error(`Okta refused the token request (${response.status}): ${body.error} ${body.error_description}`);
  }
  return body.access_token;
}

const client = new Anthropic({
  baseURL,
  credentials: oidcFederationProvider({
    identityTokenProvider: fetchOktaToken,
    federationRuleId: setting("ANTHROPIC_FEDERATION_RULE_ID"),
    organizationId: setting("ANTHROPIC_ORGANIZATION_ID"),
    serviceAccountId: setting("ANTHROPIC_SERVICE_ACCOUNT_ID"),
    workspaceId: process.env.ANTHROPIC_WORKSPACE_ID || undefined,
    baseURL,
    fetch,
  }),
});

const message = await client.messages.create({
  model: process.env.CLAUDE_MODEL || "claude-haiku-4-5",
  max_tokens: 1024,
  messages: [{ role: "user", content: "Hello, Claude" }],
});
for (const block of message.content) {
  if (block.type === "text") {
    console.log(block.text);
  }
}
