/**
 * A client of the MCP Tasks extension (`@modelcontextprotocol/ext-tasks`) on
 * the TypeScript SDK v2, pinned to MCP 2026-07-28: `start_task_run` answers
 * with a task handle (its id is the run's id), and the session follows the
 * task (`tasks/get`) until the run's result.
 *
 * The SDK's Client cannot send the extension's requests itself, so the
 * session is given `rawDispatch`: one JSON-RPC request per HTTP POST, with
 * the token and the headers a 2026-07-28 request carries.
 *
 *   TOKEN=$(npm run -s token -- workflows:read workflows:run) \
 *     MCP_URL=http://localhost:3000/mcp node dist/examples/tasks-extension.js
 */
import {
  type AuthProvider,
  Client,
  StreamableHTTPClientTransport,
} from "@modelcontextprotocol/client";
import {
  createTaskSessionFromClient,
  type RawClientDispatch,
} from "@modelcontextprotocol/ext-tasks/client";
import type { JsonValue } from "@modelcontextprotocol/ext-tasks/core";

const VERSION = "2026-07-28";
const CLIENT_INFO = { name: "tasks-extension-example", version: "1.0.0" };
const TASKS = { extensions: { "io.modelcontextprotocol/tasks": {} } };

const url = new URL(process.env.MCP_URL ?? "http://localhost:3000/mcp");
const token = process.env.TOKEN;
if (!token)
  throw new Error(
    "set TOKEN to an access token (npm run -s token -- workflows:read workflows:run)",
  );
const authProvider: AuthProvider = { token: async () => token };

let nextId = 1;
/** One request, one POST: MCP-Protocol-Version, Mcp-Method and Mcp-Name say what the body does. */
const rawDispatch: RawClientDispatch = async (request, options = {}) => {
  const { method, params } = request as { method: string; params?: Record<string, JsonValue> };
  const name = params?.name ?? params?.taskId;
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    authorization: `Bearer ${token}`,
    "mcp-protocol-version": VERSION,
    "mcp-method": method,
    ...(typeof name === "string" ? { "mcp-name": name } : {}),
  };
  for (const [key, value] of Object.entries(options.context?.headers ?? {})) {
    headers[key.toLowerCase()] = value;
  }
  const id = nextId++;
  const res = await fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id, ...(request as object) }),
    signal: options.signal ?? null,
  });
  // Without a progress token the answer is one JSON body (a refusal carries a JSON-RPC error too).
  const answer = (await res.json()) as {
    result?: JsonValue;
    error?: { code: number; message: string };
  };
  return answer.error
    ? { kind: "error", error: answer.error }
    : { kind: "result", result: answer.result ?? null };
};

const client = new Client(CLIENT_INFO, { versionNegotiation: { mode: { pin: VERSION } } });
await client.connect(new StreamableHTTPClientTransport(url, { authProvider }));
const session = createTaskSessionFromClient(client, {
  endpointId: url.href,
  rawDispatch,
  v2RequestFraming: {
    protocolVersion: VERSION,
    clientInfo: CLIENT_INFO,
    clientCapabilities: TASKS,
  },
});

const execution = await session.callTool("start_task_run", {
  task: "sumOfSquares",
  input: [[1, 2, 3]],
});
if (execution.kind !== "task")
  throw new Error("expected a task handle: does the server offer the Tasks extension?");
console.log(`task started; its id is the run's: ${execution.handle.taskId.slice(0, 4)}…`);
const { outcome } = await execution.settle();
if (outcome.status !== "completed") throw new Error(`the task ended ${outcome.status}`);
const { run } = outcome.result.structuredContent as {
  run: { status: string; results?: unknown[] };
};
console.log(`task completed: the run ${run.status} with ${JSON.stringify(run.results)}`);
await session.close();
await client.close();
