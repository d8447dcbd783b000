/**
 * The requests the bench sends, byte for byte the same to every target: a
 * 2025-11-25 client's (plain JSON-RPC; `MCP-Protocol-Version` after
 * initialize) and a 2026-07-28 client's (the `_meta` envelope plus
 * `Mcp-Method`/`Mcp-Name`, from test/helpers/stack.ts). Only the
 * Authorization header differs: targets (b) and (c) authorize nothing, and
 * are sent none.
 */
import { randomBytes } from "node:crypto";
import { MODERN, modernRequest, TASKS_CAPABILITY } from "../helpers/stack.js";

export const LEGACY = "2025-11-25";

export type Era = "2025-11-25" | "2026-07-28";

/** What a request must answer for its run to count (anything else is an error). */
export type Expect = "result" | "401";

export interface BenchRequest {
  /** Stable key in the results file. */
  id: string;
  label: string;
  era: Era;
  body: string;
  /** Headers without Authorization. */
  headers: Record<string, string>;
  /** The token to send: the valid one, a forged one (the same each time), or a new forged one per request. */
  token: "valid" | "forged" | "forged-each";
  expect: Expect;
}

const CLIENT = { name: "workflows-mcp-bench", version: "1.0.0" };
const BASE_HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

function legacy(
  id: string,
  label: string,
  method: string,
  params: Record<string, unknown>,
  extra: Partial<BenchRequest> = {},
): BenchRequest {
  return {
    id,
    label,
    era: LEGACY,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    // A 2025-11-25 client sends MCP-Protocol-Version on every request after initialize.
    headers:
      method === "initialize"
        ? { ...BASE_HEADERS }
        : { ...BASE_HEADERS, "mcp-protocol-version": LEGACY },
    token: "valid",
    expect: "result",
    ...extra,
  };
}

function modern(
  id: string,
  label: string,
  method: string,
  params: Record<string, unknown>,
  capabilities?: Record<string, unknown>,
): BenchRequest {
  const request = modernRequest(method, params, capabilities ? { capabilities } : {});
  const meta = (request.body.params as { _meta: Record<string, unknown> })._meta;
  meta["io.modelcontextprotocol/clientInfo"] = CLIENT;
  return {
    id,
    label,
    era: MODERN as Era,
    body: JSON.stringify(request.body),
    headers: { ...BASE_HEADERS, ...request.headers },
    token: "valid",
    expect: "result",
  };
}

const LIST_TASKS = { name: "list_tasks", arguments: {} };
const WHOAMI = { name: "whoami", arguments: {} };

export const REQUESTS = {
  initialize: legacy("initialize", "initialize", "initialize", {
    protocolVersion: LEGACY,
    capabilities: {},
    clientInfo: CLIENT,
  }),
  toolsList: legacy("tools-list", "tools/list", "tools/list", {}),
  listTasks: legacy("call-list-tasks", "tools/call list_tasks", "tools/call", LIST_TASKS),
  whoami: legacy("call-whoami", "tools/call whoami", "tools/call", WHOAMI),
  rejected: legacy(
    "rejected",
    "rejected token (401, same forged token)",
    "tools/call",
    LIST_TASKS,
    {
      token: "forged",
      expect: "401",
    },
  ),
  rejectedEach: legacy(
    "rejected-each",
    "rejected token (401, a new forged token each)",
    "tools/call",
    LIST_TASKS,
    { token: "forged-each", expect: "401" },
  ),
  discover: modern("m-discover", "server/discover", "server/discover", {}),
  modernToolsList: modern("m-tools-list", "tools/list", "tools/list", {}),
  modernListTasks: modern("m-call-list-tasks", "tools/call list_tasks", "tools/call", LIST_TASKS),
  modernWhoami: modern("m-call-whoami", "tools/call whoami", "tools/call", WHOAMI),
} satisfies Record<string, BenchRequest>;

/**
 * What a client following a run sends, again and again while it works: a
 * Tasks client's `tasks/get`, and a plain client's `tools/call get_task_run`
 * (issue 18: the first is to be at least 0.9× as fast as the second). Made
 * once the run exists, in (a) only: the others serve no runs.
 */
export function pollingRequests(runId: string) {
  return {
    tasksGet: modern("m-tasks-get", "tasks/get", "tasks/get", { taskId: runId }, TASKS_CAPABILITY),
    getTaskRun: modern("m-call-get-task-run", "tools/call get_task_run", "tools/call", {
      name: "get_task_run",
      arguments: { id: runId },
    }),
  } satisfies Record<string, BenchRequest>;
}

/**
 * A token with the same header and claims as `token` and a signature that is
 * the right length and wrong: it passes every check but the signature's.
 */
export function forge(token: string): string {
  const [header, payload] = token.split(".");
  return `${header}.${payload}.${randomBytes(64).toString("base64url")}`;
}

/** Whether a response body is a successful JSON-RPC result (JSON or SSE), not an error or a tool error. */
export function isResult(body: string): boolean {
  return body.includes('"result"') && !body.includes('"isError":true');
}
