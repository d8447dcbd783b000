import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startTestIssuer, type TestIssuer } from "./issuer.js";
import { type RunningServer, startServer } from "./server.js";

/** The public URL the server believes it has; tokens are minted for its /mcp. */
export const PUBLIC_URL = "http://mcp.test";
export const RESOURCE = `${PUBLIC_URL}/mcp`;
export const PRM_URL = `${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp`;
export const ALL_SCOPES = "workflows:read workflows:run workflows:cancel";
export const FIXTURE_TASKS = fileURLToPath(
  new URL("../../dist/test/fixtures/tasks.js", import.meta.url),
);

export interface Stack {
  issuer: TestIssuer;
  server: RunningServer;
  dbPath: string;
  /** An MCP client connected with a token carrying these scopes (default: all). */
  connect(scopes?: string): Promise<Client>;
  /** Restarts the server on the same database. */
  restart(signal?: NodeJS.Signals): Promise<RunningServer>;
  close(): Promise<void>;
}

/** A test issuer plus the real server using it, on the embedded engine with the fixture tasks. */
export async function startStack(env: Record<string, string> = {}): Promise<Stack> {
  const issuer = await startTestIssuer({ audience: RESOURCE });
  const dir = mkdtempSync(join(tmpdir(), "workflows-mcp-"));
  const dbPath = join(dir, "runs.sqlite");
  const serverEnv = {
    PUBLIC_URL,
    AUTH_ISSUER: issuer.issuer,
    LOCAL_DB_PATH: dbPath,
    LOCAL_TASKS_MODULE: FIXTURE_TASKS,
    ...env,
  };
  const clients: Client[] = [];
  const stack: Stack = {
    issuer,
    server: await startServer(serverEnv),
    dbPath,
    async connect(scopes = ALL_SCOPES) {
      const token = await issuer.sign({ scope: scopes });
      const client = await connectClient(stack.server.url, token);
      clients.push(client);
      return client;
    },
    async restart(signal = "SIGTERM") {
      await stack.server.stop(signal);
      stack.server = await startServer(serverEnv);
      return stack.server;
    },
    async close() {
      await Promise.allSettled(clients.map((c) => c.close()));
      await stack.server.stop();
      await issuer.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}

export async function connectClient(serverUrl: string, token: string): Promise<Client> {
  const client = new Client({ name: "workflows-mcp-tests", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${serverUrl}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

/** POSTs one JSON-RPC message to /mcp as a plain HTTP client would. */
export function postMcp(
  serverUrl: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${serverUrl}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The JSON-RPC messages of a response, whether sent as JSON or as SSE events. */
export async function rpcMessages(res: Response): Promise<Record<string, unknown>[]> {
  const text = await res.text();
  if (!res.headers.get("content-type")?.includes("text/event-stream")) {
    const parsed = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : [parsed];
  }
  return text
    .split("\n")
    .filter((line) => line.startsWith("data: "))
    .map((line) => JSON.parse(line.slice("data: ".length)));
}

export interface ErrorBody {
  jsonrpc?: string;
  id?: unknown;
  error: { code: number; message: string; data?: unknown };
}

/** A JSON-RPC error response's body. */
export const errorBody = async (res: Response) => (await res.json()) as ErrorBody;

export const toolCall = (name: string, args: Record<string, unknown> = {}, id = 1) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});
