/**
 * An MCP client (the TypeScript SDK v2) calling workflows-mcp with a bearer
 * token, once as a 2025-era client (the SDK's default: `initialize`, then
 * requests) and once pinned to MCP 2026-07-28 (no handshake: every request
 * carries the version, and the server is asked what it is with
 * `server/discover`).
 *
 *   TOKEN=$(npm run -s token -- workflows:read workflows:run) \
 *     MCP_URL=http://localhost:3000/mcp node dist/examples/bearer-token.js
 */
import {
  type AuthProvider,
  Client,
  StreamableHTTPClientTransport,
} from "@modelcontextprotocol/client";

const url = new URL(process.env.MCP_URL ?? "http://localhost:3000/mcp");
const token = process.env.TOKEN;
if (!token) throw new Error("set TOKEN to an access token (npm run -s token -- workflows:read)");

// The SDK asks the provider before every request; a fixed token is the simplest one.
const authProvider: AuthProvider = { token: async () => token };

for (const pin of [undefined, "2026-07-28"]) {
  const client = new Client(
    { name: "bearer-token-example", version: "1.0.0" },
    pin ? { versionNegotiation: { mode: { pin } } } : {},
  );
  await client.connect(new StreamableHTTPClientTransport(url, { authProvider }));
  const who = await client.callTool({ name: "whoami", arguments: {} });
  const { subject, scopes } = who.structuredContent as { subject: string; scopes: string[] };
  const run = await client.callTool({
    name: "start_task_run",
    arguments: { task: "sumOfSquares", input: [[1, 2, 3]], wait_seconds: 30 },
  });
  const { status, results } = (
    run.structuredContent as { run: { status: string; results?: unknown[] } }
  ).run;
  console.log(
    `${client.getNegotiatedProtocolVersion()}: ${subject} (${scopes.join(" ")}) ran sumOfSquares: ${status} ${JSON.stringify(results)}`,
  );
  await client.close();
}
