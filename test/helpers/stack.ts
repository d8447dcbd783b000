import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startTestIssuer, type TestIssuer } from "./issuer.js";
import { type RunningServer, startServer } from "./server.js";

/** The public URL the server believes it has; tokens are minted for its /mcp. */
export const PUBLIC_URL = "http://mcp.test";
export const RESOURCE = `${PUBLIC_URL}/mcp`;
export const PRM_URL = `${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp`;
/** What a token for everyday use carries: reading, starting and cancelling (no :all, no admin). */
export const ALL_SCOPES = "workflows:read workflows:run workflows:cancel";
export const FIXTURE_TASKS = fileURLToPath(
  new URL("../../dist/test/fixtures/tasks.js", import.meta.url),
);

/**
 * The two protocol eras the server serves: `modern` is MCP 2026-07-28 (the v2
 * SDK client pinned to it), `legacy` a 2025-11-25 client (the v1 SDK's, as
 * clients in the field still are).
 */
export type Era = "modern" | "legacy";
export const ERAS: readonly Era[] = ["modern", "legacy"];
export const MODERN = "2026-07-28";

/** What the tests need of an MCP client, whichever SDK and era. */
export interface McpTestClient {
  era: Era;
  /** The bearer token it connected with (for raw requests as the same caller). */
  token: string;
  callTool(
    name: string,
    args?: Record<string, unknown>,
    options?: { onprogress?: (progress: { progress: number; message?: string }) => void },
  ): Promise<ToolResult>;
  listTools(): Promise<{ tools: ListedTool[] }>;
  close(): Promise<void>;
}

export interface ToolResult {
  isError?: boolean;
  content: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ListedTool {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
  _meta?: Record<string, unknown>;
}

export interface Stack {
  issuer: TestIssuer;
  server: RunningServer;
  dbPath: string;
  /** An MCP client connected with a token carrying these scopes (default: ALL_SCOPES). */
  connect(scopes?: string, era?: Era, claims?: Record<string, unknown>): Promise<McpTestClient>;
  /** Restarts the server on the same database. */
  restart(signal?: NodeJS.Signals): Promise<RunningServer>;
  close(): Promise<void>;
}

/** A server's environment for the embedded engine with the fixture tasks on `dbPath`, trusting `issuer`. */
export function localEnv(issuer: TestIssuer, dbPath: string): Record<string, string> {
  return {
    PUBLIC_URL,
    AUTH_ISSUER: issuer.issuer,
    LOCAL_DB_PATH: dbPath,
    LOCAL_TASKS_MODULE: FIXTURE_TASKS,
  };
}

/** A test issuer plus the real server using it, on the embedded engine with the fixture tasks. */
export async function startStack(
  env: Record<string, string> = {},
  options: { beforeServer?: (issuer: TestIssuer) => void } = {},
): Promise<Stack> {
  const issuer = await startTestIssuer({ audience: RESOURCE });
  options.beforeServer?.(issuer);
  const dir = mkdtempSync(join(tmpdir(), "workflows-mcp-"));
  const dbPath = join(dir, "runs.sqlite");
  const serverEnv = { ...localEnv(issuer, dbPath), ...env };
  const clients: McpTestClient[] = [];
  const stack: Stack = {
    issuer,
    server: await startServer(serverEnv),
    dbPath,
    async connect(scopes = ALL_SCOPES, era: Era = "modern", claims = {}) {
      const token = await issuer.sign({ scope: scopes, ...claims });
      const client = await connectClient(stack.server.url, token, era);
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

export async function connectClient(
  serverUrl: string,
  token: string,
  era: Era = "modern",
): Promise<McpTestClient> {
  const url = new URL(`${serverUrl}/mcp`);
  const requestInit = { headers: { Authorization: `Bearer ${token}` } };
  const info = { name: "workflows-mcp-tests", version: "1.0.0" };
  if (era === "modern") {
    const client = new Client(info, { versionNegotiation: { mode: { pin: MODERN } } });
    await client.connect(new StreamableHTTPClientTransport(url, { requestInit }));
    return {
      era,
      token,
      callTool: async (name, args = {}, options = {}) =>
        (await client.callTool({ name, arguments: args }, options)) as ToolResult,
      listTools: async () => (await client.listTools()) as { tools: ListedTool[] },
      close: () => client.close(),
    };
  }
  const client = new LegacyClient(info);
  await client.connect(new LegacyTransport(url, { requestInit }));
  return {
    era,
    token,
    callTool: async (name, args = {}, options = {}) =>
      (await client.callTool({ name, arguments: args }, undefined, options)) as ToolResult,
    listTools: async () => (await client.listTools()) as { tools: ListedTool[] },
    close: () => client.close(),
  };
}

/** Where SEP-2243 mirrors `Mcp-Name` from, per method. */
const NAME_FIELD: Record<string, string> = {
  "tools/call": "name",
  "tasks/get": "taskId",
  "tasks/update": "taskId",
  "tasks/cancel": "taskId",
};

/**
 * A 2026-07-28 request as a conforming client sends it: the `_meta` envelope
 * in params, and the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers.
 */
export function modernRequest(
  method: string,
  params: Record<string, unknown> = {},
  options: { id?: number; capabilities?: Record<string, unknown> } = {},
): { body: Record<string, unknown>; headers: Record<string, string> } {
  return {
    body: {
      jsonrpc: "2.0",
      id: options.id ?? 1,
      method,
      params: {
        ...params,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": MODERN,
          "io.modelcontextprotocol/clientCapabilities": options.capabilities ?? {},
          "io.modelcontextprotocol/clientInfo": { name: "workflows-mcp-tests", version: "1.0.0" },
        },
      },
    },
    headers: routingHeaders(method, params),
  };
}

/** The value SEP-2243 has `Mcp-Name` mirror for `method` with `params` (none for most methods). */
export function mirroredName(
  method: string,
  params: Record<string, unknown> = {},
): string | undefined {
  const field = Object.hasOwn(NAME_FIELD, method) ? NAME_FIELD[method] : undefined;
  const name = field ? params[field] : undefined;
  return typeof name === "string" ? name : undefined;
}

/**
 * The SEP-2243 headers of a 2026-07-28 request: `MCP-Protocol-Version`,
 * `Mcp-Method`, and `Mcp-Name` mirrored from the params where the method has one.
 */
export function routingHeaders(
  method: string,
  params: Record<string, unknown> = {},
): Record<string, string> {
  const name = mirroredName(method, params);
  return {
    "mcp-protocol-version": MODERN,
    "mcp-method": method,
    ...(name !== undefined ? { "mcp-name": name } : {}),
  };
}

/** The Tasks extension, as a client declares it per request. */
export const TASKS_CAPABILITY = { extensions: { "io.modelcontextprotocol/tasks": {} } };

/** POSTs a 2026-07-28 request; `headers` override the mirrored ones (to test mismatches). */
export function postModern(
  serverUrl: string,
  method: string,
  params: Record<string, unknown>,
  options: {
    token?: string;
    headers?: Record<string, string>;
    id?: number;
    capabilities?: Record<string, unknown>;
    signal?: AbortSignal;
  } = {},
): Promise<Response> {
  const request = modernRequest(method, params, options);
  return postMcp(
    serverUrl,
    request.body,
    {
      ...request.headers,
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    options.signal,
  );
}

/** POSTs one JSON-RPC message to /mcp as a plain HTTP client would. */
export function postMcp(
  serverUrl: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${serverUrl}/mcp`, {
    method: "POST",
    ...(signal ? { signal } : {}),
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

/** A JSON-RPC answer as a raw exchange reads it. */
export interface RpcAnswer {
  id?: unknown;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

/** The one JSON-RPC response of a raw exchange (the last message, after any notifications). */
export async function lastMessage(res: Response): Promise<RpcAnswer> {
  return (await rpcMessages(res)).at(-1) as RpcAnswer;
}

/** A Tasks extension request (`tasks/get`, `tasks/update`, `tasks/cancel`) for `taskId` with `token`, and its answer. */
export async function taskMethod(
  serverUrl: string,
  method: string,
  taskId: string,
  token: string,
): Promise<RpcAnswer> {
  return lastMessage(
    await postModern(serverUrl, method, { taskId }, { token, capabilities: TASKS_CAPABILITY }),
  );
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
