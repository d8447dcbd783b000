import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import {
  createTaskSessionFromClient,
  DispatchError,
  type JsonRpcResponse,
  type RawClientDispatch,
  type TaskEnabledSession,
} from "@modelcontextprotocol/ext-tasks/client";
import {
  type JsonValue,
  ProtocolDecodeError,
  type RuntimeCodec,
} from "@modelcontextprotocol/ext-tasks/core";
import {
  type CallToolResultV2,
  CallToolResultV2Schema,
} from "@modelcontextprotocol/ext-tasks/core/v2";
import { MODERN, routingHeaders, rpcMessages, TASKS_CAPABILITY } from "./stack.js";

// A Tasks-aware client — @modelcontextprotocol/ext-tasks' requester session on
// a v2 SDK Client pinned to 2026-07-28 — over real HTTP with real tokens. The
// SDK Client cannot send the extension's wire shapes itself, so the session
// takes a host-owned `rawDispatch`: here, one JSON-RPC request per HTTP POST
// with the token and the SEP-2243 routing headers.

const CLIENT_INFO = { name: "workflows-mcp-tasks-client", version: "1.0.0" };

/** One HTTP exchange the host's dispatcher made. */
export interface Exchange {
  method: string;
  headers: Record<string, string>;
  status: number;
  wwwAuthenticate: string | null;
}

export interface TasksClient {
  session: TaskEnabledSession;
  client: Client;
  token: string;
  /** Every exchange `rawDispatch` made, in order. */
  exchanges: Exchange[];
  close(): Promise<void>;
}

/**
 * A v2 Client connected with `token`, and a Tasks session over it. The
 * session's endpoint identity is the server and the token's caller: another
 * connection with the same identity may resume its handed-off tasks.
 */
export async function connectTasksClient(
  serverUrl: string,
  token: string,
  endpointId?: string,
): Promise<TasksClient> {
  const url = new URL(`${serverUrl}/mcp`);
  const client = new Client(CLIENT_INFO, { versionNegotiation: { mode: { pin: MODERN } } });
  await client.connect(
    new StreamableHTTPClientTransport(url, {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  const exchanges: Exchange[] = [];
  const session = createTaskSessionFromClient(client, {
    endpointId: endpointId ?? `${url.href}#${token.slice(-12)}`,
    rawDispatch: httpDispatch(url, token, exchanges),
    v2RequestFraming: {
      protocolVersion: MODERN,
      clientInfo: CLIENT_INFO,
      clientCapabilities: TASKS_CAPABILITY,
    },
  });
  const handle: TasksClient = {
    session,
    client,
    token,
    exchanges,
    async close() {
      await session.close();
      await client.close();
    },
  };
  return handle;
}

let nextId = 1;

/**
 * The host's request coordinator: sends one framed request (the session has
 * put the 2026-07-28 `_meta` envelope, Tasks extension included, in params)
 * as one POST, and answers with its JSON-RPC response. An HTTP refusal
 * carries a JSON-RPC error body (403 insufficient_scope does), which is the
 * answer; anything else is a transport failure.
 */
function httpDispatch(url: URL, token: string, exchanges: Exchange[]): RawClientDispatch {
  return async (request, options = {}) => {
    const { method, params } = request as { method: string; params?: Record<string, JsonValue> };
    const id = nextId++;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${token}`,
      ...routingHeaders(method, params),
    };
    // Headers the session adds (it sets Mcp-Name on task requests) override ours, whatever their case.
    for (const [key, value] of Object.entries(options.context?.headers ?? {})) {
      headers[key.toLowerCase()] = value;
    }
    const res = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", id, ...(request as object) }),
      signal: options.signal ?? null,
    });
    exchanges.push({
      method,
      headers,
      status: res.status,
      wwwAuthenticate: res.headers.get("www-authenticate"),
    });
    let messages: Record<string, unknown>[];
    try {
      messages = await rpcMessages(res);
    } catch (error) {
      throw new DispatchError(`${method}: HTTP ${res.status} without a JSON-RPC body`, false, {
        cause: error,
      });
    }
    const answer = messages.find((m) => m.id === id) ?? messages.find((m) => m.id === null);
    if (answer && "result" in answer) {
      return { kind: "result", result: answer.result as JsonValue } satisfies JsonRpcResponse;
    }
    if (answer && "error" in answer) {
      return { kind: "error", error: answer.error } as JsonRpcResponse;
    }
    throw new DispatchError(`${method}: HTTP ${res.status} without a response to request ${id}`);
  };
}

/**
 * The extension's result codec for a tools/call, except that a result without
 * `resultType` is read as `"complete"` (what 2026-07-28 tells clients to do
 * with results of servers that predate the field). The server's completed
 * tasks carry such a result today — see "the completed task's result is a
 * 2026-07-28 CallToolResult" below, which pins that bug with the default
 * codec — so the other tests read results with this one.
 */
export const RESULT: { resultCodec: RuntimeCodec<CallToolResultV2> } = {
  resultCodec: {
    parse(value) {
      const parsed = CallToolResultV2Schema.safeParse(
        typeof value === "object" && value !== null && !Array.isArray(value)
          ? { resultType: "complete", ...value }
          : value,
      );
      return parsed.success
        ? { success: true, value: parsed.data }
        : {
            success: false,
            error: new ProtocolDecodeError("not a CallToolResult", {}, { cause: parsed.error }),
          };
    },
  },
};
