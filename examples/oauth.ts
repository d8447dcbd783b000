/**
 * An MCP client (the TypeScript SDK v2) that authorizes itself with OAuth,
 * from the server's 401 alone, as Claude Code, Cursor or VS Code do: Protected
 * Resource Metadata → the authorization server's metadata → dynamic
 * registration → authorization code with PKCE → token. Then it steps up: a
 * call the token does not cover gets 403 naming the scope it needs, and the
 * client asks for it.
 *
 * A real client opens the authorization URL in a browser, where a person
 * approves. Against `npm start`'s development authorization server, this
 * example approves as the user `developer` itself, the way `npm run token`
 * does (the development server has no passwords).
 *
 *   MCP_URL=http://localhost:3000/mcp node dist/examples/oauth.js
 */
import {
  Client,
  type OAuthClientInformationMixed,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type OAuthDiscoveryState,
  type OAuthTokens,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from "@modelcontextprotocol/client";
import { consentAs } from "../src/auth/dev/consent-driver.js";

const url = new URL(process.env.MCP_URL ?? "http://localhost:3000/mcp");
// Never opened here: the code is read off the redirect. A desktop client listens on it.
const REDIRECT_URI = "http://127.0.0.1:8976/callback";

/** What the SDK asks of a client's OAuth state: kept in memory here, in a keychain by a real client. */
class InMemoryOAuthProvider implements OAuthClientProvider {
  private client?: OAuthClientInformationMixed;
  private saved?: OAuthTokens;
  private verifier = "";
  private discovered?: OAuthDiscoveryState;
  /** Where the person was sent, and came back from. */
  approved?: URLSearchParams;

  get redirectUrl() {
    return REDIRECT_URI;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "OAuth example",
      redirect_uris: [REDIRECT_URI],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(client: OAuthClientInformationMixed) {
    this.client = client;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  // Which authorization server the code is from, checked when it comes back (RFC 9207).
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovered = state;
  }
  discoveryState() {
    return this.discovered;
  }
  /** A real client opens `authorization` in a browser; here the consent page is approved as developer. */
  async redirectToAuthorization(authorization: URL) {
    console.log(`authorizing: ${authorization.searchParams.get("scope")}`);
    const { redirect } = await consentAs(authorization, REDIRECT_URI, { username: "developer" });
    this.approved = redirect.searchParams;
  }
}

const provider = new InMemoryOAuthProvider();
const newClient = () =>
  new Client(
    { name: "oauth-example", version: "1.0.0" },
    { versionNegotiation: { mode: { pin: "2026-07-28" } } },
  );

// 1. The first connection is refused (401); the SDK has the person authorize, then we finish.
let transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
await newClient()
  .connect(transport)
  .catch((error: unknown) => {
    if (!(error instanceof UnauthorizedError)) throw error;
  });
if (provider.approved) await transport.finishAuth(provider.approved);

// 2. Connected with a token for the minimal scope the 401 named.
const client = newClient();
transport = new StreamableHTTPClientTransport(url, { authProvider: provider });
await client.connect(transport);
const who = await client.callTool({ name: "whoami", arguments: {} });
console.log(`connected as ${(who.structuredContent as { subject: string }).subject}`);

// 3. Step-up: starting `square` needs workflows:run:square; the 403 says so, the client asks for it.
const start = () =>
  client.callTool({
    name: "start_task_run",
    arguments: { task: "square", input: [7], wait_seconds: 30 },
  });
let result = await start().catch(async (error: unknown) => {
  if (!(error instanceof UnauthorizedError) || !provider.approved) throw error;
  await transport.finishAuth(provider.approved);
  return start();
});
const { status, results } = (
  result.structuredContent as { run: { status: string; results?: unknown[] } }
).run;
console.log(`square ${status}: ${JSON.stringify(results)}`);
result = await client.callTool({ name: "whoami", arguments: {} });
console.log(
  `the token now holds: ${(result.structuredContent as { scopes: string[] }).scopes.join(" ")}`,
);
await client.close();
