/**
 * Call the Claude API with an Azure managed identity, in TypeScript: the guide's TypeScript tab.
 *
 * The guide's sample asks the VM's instance metadata service (IMDS) for the identity's Entra token with a
 * plain `fetch`. This one also covers the other hosts the guide lists: on App Service, Azure Functions and
 * Container Apps there is no IMDS; the platform sets IDENTITY_ENDPOINT and IDENTITY_HEADER, and the token
 * comes from that endpoint instead (api-version 2019-08-01, header X-IDENTITY-HEADER). Both hand out the
 * same Entra token for the same identity, and both cache it, so `fetchEntraToken` simply asks again
 * whenever `oidcFederationProvider` from `@anthropic-ai/sdk` needs a new Claude API token.
 *
 * Configuration (environment), the same as the Python program beside this file:
 *   CLAUDE_API_RESOURCE           identifier URI of the app registration for the Claude API: api://<APP_ID>
 *   AZURE_CLIENT_ID               optional on a VM (default: the system-assigned identity); on App Service
 *                                 the client ID of the app's user-assigned identity, unless it has its own
 *   ANTHROPIC_FEDERATION_RULE_ID  fdrl_…
 *   ANTHROPIC_ORGANIZATION_ID     your organization's UUID
 *   ANTHROPIC_SERVICE_ACCOUNT_ID  svac_…
 *   ANTHROPIC_WORKSPACE_ID        optional: wrkspc_… when the rule covers several workspaces
 *   ANTHROPIC_BASE_URL            optional (default: https://api.anthropic.com)
 *   CLAUDE_MODEL                  optional (default: claude-haiku-4-5)
 *   NODE_EXTRA_CA_CERTS           optional CA bundle Node adds to its trust store (a TLS-inspecting proxy)
 *   AZURE_POD_IDENTITY_AUTHORITY_HOST  optional: another IMDS address (as azure-identity reads it)
 *   IDENTITY_ENDPOINT, IDENTITY_HEADER  set by App Service / Functions / Container Apps, never by hand
 *
 * Needs Node.js 20 or later and `@anthropic-ai/sdk` (version pinned in examples/package.json).
 */

import Anthropic from "@anthropic-ai/sdk";
import { oidcFederationProvider } from "@anthropic-ai/sdk/lib/credentials/oidc-federation";

function setting(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

const resource = setting("CLAUDE_API_RESOURCE").replace(/\/+$/, "");
const identityClientId = process.env.AZURE_CLIENT_ID || undefined;
const baseURL = (process.env.ANTHROPIC_BASE_URL || "https://api.anthropic.com").replace(/\/+$/, "");

/** Where this host hands out managed-identity tokens, and how a request proves it comes from the host. */
function tokenRequest(): { url: URL; headers: Record<string, string> } {
  const endpoint = process.env.IDENTITY_ENDPOINT;
  const secret = process.env.IDENTITY_HEADER;
  let url: URL;
  let headers: Record<string, string>;
  if (endpoint && secret) {
    url = new URL(endpoint); // App Service, Functions, Container Apps
    url.searchParams.set("api-version", "2019-08-01");
    headers = { "X-IDENTITY-HEADER": secret };
  } else {
    const imds = (process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST || "http://169.254.169.254").replace(/\/+$/, "");
    url = new URL(`${imds}/metadata/identity/oauth2/token`); // a VM or scale set
    url.searchParams.set("api-version", "2018-02-01");
    headers = { Metadata: "true" };
  }
  url.searchParams.set("resource", resource);
  if (identityClientId) {
    url.searchParams.set("client_id", identityClientId);
  }
  return { url, headers };
}

async function fetchEntraToken(): Promise<string> {
  const { url, headers } = tokenRequest();
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  const body = (await response.json()) as { access_token?: string; error_description?: string; message?: string };
  if (!response.ok || !body.access_token) {
    // IMDS explains in error_description, the hosting services' endpoint in message.
    throw new Error(`managed identity endpoint refused (${response.status}): ${body.error_description ?? body.message}`);
  }
  return body.access_token;
}

const client = new Anthropic({
  baseURL,
  credentials: oidcFederationProvider({
    identityTokenProvider: fetchEntraToken,
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
  messages: [{ role: "user", content: "Hello from Azure" }],
});
for (const block of message.content) {
  if (block.type === "text") {
    console.log(block.text);
  }
}
