import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ALL_SCOPES,
  errorBody,
  MODERN,
  modernRequest,
  postMcp,
  postModern,
  rpcMessages,
  type Stack,
  startStack,
  TASKS_CAPABILITY,
  toolCall,
} from "./helpers/stack.js";

let stack: Stack;
let token: string;
beforeAll(async () => {
  stack = await startStack();
  token = await stack.issuer.sign({ scope: ALL_SCOPES });
});
afterAll(() => stack?.close());

/** The one JSON-RPC response of an exchange (after any notifications). */
async function answer(res: Response) {
  const messages = await rpcMessages(res);
  return messages.at(-1) as {
    id?: unknown;
    result?: Record<string, unknown>;
    error?: { code: number; message: string; data?: unknown };
  };
}

const modern = (
  method: string,
  params: Record<string, unknown> = {},
  options: Parameters<typeof postModern>[3] = {},
) => postModern(stack.server.url, method, params, { token, ...options });

describe("MCP 2026-07-28 on the modern path", () => {
  it("server/discover names the revisions, the capabilities (Tasks included) and cache hints", async () => {
    const res = await modern("server/discover");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const { result } = await answer(res);
    expect(result).toMatchObject({
      resultType: "complete",
      supportedVersions: expect.arrayContaining([MODERN]),
      capabilities: {
        tools: { listChanged: false },
        extensions: { "io.modelcontextprotocol/tasks": {} },
      },
      instructions: expect.stringContaining("list_tasks"),
      ttlMs: 300_000,
      cacheScope: "public",
      _meta: { "io.modelcontextprotocol/serverInfo": { name: "workflows-mcp" } },
    });
  });

  it("tools/list is cacheable by anyone: it is the same for every caller", async () => {
    const { result } = await answer(await modern("tools/list"));
    expect(result).toMatchObject({ ttlMs: 300_000, cacheScope: "public", resultType: "complete" });
    expect(result?.tools).toHaveLength(9);
  });

  it("a read-only call is a single JSON body, not a stream", async () => {
    const res = await modern("tools/call", { name: "whoami", arguments: {} });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect((await answer(res)).result).toMatchObject({ resultType: "complete" });
  });
});

describe("headers must agree with the body (SEP-2243), before anything is authorized or runs", () => {
  const runsOf = async (task: string) => {
    const admin = await stack.issuer.sign({ scope: "workflows:admin" });
    const res = await postModern(
      stack.server.url,
      "tools/call",
      { name: "list_task_runs", arguments: { task, limit: 100 } },
      { token: admin },
    );
    const structured = (await answer(res)).result?.structuredContent as { runs: unknown[] };
    return structured.runs.length;
  };

  it("Mcp-Name: list_tasks over a body calling start_task_run, with a read-only token: 400, nothing runs", async () => {
    const readOnly = await stack.issuer.sign({ scope: "workflows:read" });
    const before = await runsOf("echo");
    const res = await postModern(
      stack.server.url,
      "tools/call",
      { name: "start_task_run", arguments: { task: "echo", input: ["smuggled"] } },
      { token: readOnly, headers: { "mcp-name": "list_tasks" } },
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      jsonrpc: "2.0",
      id: 1,
      error: {
        code: -32020,
        message:
          'Bad Request: the Mcp-Name header names "list_tasks" but the body\'s params.name is "start_task_run"',
      },
    });
    expect(await runsOf("echo")).toBe(before);
  });

  it("the same with a token that could start runs: still 400, still nothing runs", async () => {
    const before = await runsOf("echo");
    const res = await modern(
      "tools/call",
      { name: "start_task_run", arguments: { task: "echo", input: ["smuggled"] } },
      { headers: { "mcp-name": "list_tasks" } },
    );
    expect(res.status).toBe(400);
    expect((await errorBody(res)).error.code).toBe(-32020);
    expect(await runsOf("echo")).toBe(before);
  });

  it("an Mcp-Name in the Base64 sentinel form is decoded before comparing", async () => {
    const res = await modern(
      "tools/call",
      { name: "whoami", arguments: {} },
      { headers: { "mcp-name": `=?base64?${Buffer.from("whoami").toString("base64")}?=` } },
    );
    expect(res.status).toBe(200);
  });

  it("Mcp-Method disagreeing with the body: 400", async () => {
    const res = await modern(
      "tools/call",
      { name: "whoami", arguments: {} },
      { headers: { "mcp-method": "tools/list" } },
    );
    expect(res.status).toBe(400);
    const body = await errorBody(res);
    expect(body.error.code).toBe(-32020);
    expect(body.error.message).toMatch(/Mcp-Method header names tools\/list/);
  });

  it("a missing Mcp-Name: 400", async () => {
    const res = await postMcp(
      stack.server.url,
      {
        jsonrpc: "2.0",
        id: 3,
        method: "tools/call",
        params: {
          name: "whoami",
          arguments: {},
          _meta: {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
          },
        },
      },
      {
        authorization: `Bearer ${token}`,
        "mcp-protocol-version": MODERN,
        "mcp-method": "tools/call",
      },
    );
    expect(res.status).toBe(400);
    expect((await errorBody(res)).error).toMatchObject({
      code: -32020,
      message:
        "Bad Request: the body carries params.name but the required Mcp-Name header is absent",
    });
  });
});

describe("a 2026-07-28 request missing a required header is 400 whoever sends it (before the scope check)", () => {
  /** A tools/call starting a run (it needs workflows:run:echo), with the envelope, without `header`. */
  const without = async (header: string, scope: string) => {
    const request = modernRequest("tools/call", {
      name: "start_task_run",
      arguments: { task: "echo", input: ["unseen"] },
    });
    const { [header]: _left, ...headers } = request.headers;
    const token = await stack.issuer.sign({ scope });
    return postMcp(stack.server.url, request.body, {
      ...headers,
      authorization: `Bearer ${token}`,
    });
  };
  /** The SDK's answer (its standard-header validation), word for word. */
  const mismatch = (body: string) => ({
    jsonrpc: "2.0",
    id: 1,
    error: {
      code: -32020,
      message: `Bad Request: the request headers and body disagree: ${body}`,
      data: { mismatch: { header: "(missing)", body } },
    },
  });

  it.each([
    [
      "mcp-protocol-version",
      `the body envelope names protocol version ${MODERN} but the required MCP-Protocol-Version header is absent`,
    ],
    ["mcp-method", "the body names method tools/call but the required Mcp-Method header is absent"],
  ])(
    "without %s: 400 -32020, the same for a token lacking the scope and one holding it",
    async (header, body) => {
      for (const scope of ["workflows:read", ALL_SCOPES]) {
        const res = await without(header, scope);
        expect(res.status).toBe(400);
        expect(res.headers.get("www-authenticate")).toBeNull();
        expect(await res.json()).toEqual(mismatch(body));
      }
    },
  );
});

describe("2025-era clients through the stateless fallback", () => {
  it.each(["2025-11-25", "2025-06-18"])("initialize with %s, then a tool", async (version) => {
    const auth = { authorization: `Bearer ${token}` };
    const init = await postMcp(
      stack.server.url,
      {
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: {
          protocolVersion: version,
          capabilities: {},
          clientInfo: { name: "old", version: "1" },
        },
      },
      auth,
    );
    expect(init.status).toBe(200);
    const { result } = await answer(init);
    expect(result).toMatchObject({
      protocolVersion: version,
      serverInfo: { name: "workflows-mcp" },
      capabilities: { tools: { listChanged: false } },
    });
    // No Tasks extension for 2025 clients: tasks are a 2026-07-28 extension.
    expect(result?.capabilities).not.toHaveProperty("extensions");
    const call = await postMcp(stack.server.url, toolCall("whoami"), {
      ...auth,
      "mcp-protocol-version": version,
    });
    expect(call.status).toBe(200);
    expect((await answer(call)).result).toMatchObject({
      structuredContent: { subject: "user-123" },
    });
  });
});

describe("workflow runs as MCP Tasks (io.modelcontextprotocol/tasks)", () => {
  const withTasks = { capabilities: TASKS_CAPABILITY };
  const start = async (
    task: string,
    input: unknown[],
    options: { capabilities: Record<string, unknown> } = withTasks,
    id = 1,
  ) =>
    (
      await answer(
        await modern(
          "tools/call",
          { name: "start_task_run", arguments: { task, input } },
          { ...options, id },
        ),
      )
    ).result as Record<string, unknown>;
  const getTask = async (taskId: string, options: Parameters<typeof postModern>[3] = withTasks) =>
    answer(await modern("tasks/get", { taskId }, { ...withTasks, ...options }));

  it("start_task_run answers with a task handle whose id is the run's", async () => {
    const result = await start("sleep", [200]);
    expect(result).toMatchObject({
      resultType: "task",
      status: "working",
      ttlMs: null,
      pollIntervalMs: 2000,
    });
    const run = (result.structuredContent as { run: { id: string } }).run;
    expect(result.taskId).toBe(run.id);
    expect(Date.parse(result.createdAt as string)).not.toBeNaN();
    // Polled until it completes, the task carries the tool's result: the run.
    let task: Record<string, unknown> | undefined;
    for (let i = 0; i < 100; i++) {
      task = (await getTask(run.id)).result;
      if (task?.status !== "working") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(task).toMatchObject({
      resultType: "complete",
      taskId: run.id,
      status: "completed",
      result: { structuredContent: { run: { id: run.id, status: "succeeded", results: [200] } } },
    });
    expect(task).not.toHaveProperty("pollIntervalMs");
  });

  it("a run that fails is a completed task whose result says so (failed is for JSON-RPC errors)", async () => {
    const result = await start("fail", ["boom"]);
    const runId = result.taskId as string;
    let task: Record<string, unknown> | undefined;
    for (let i = 0; i < 100; i++) {
      task = (await getTask(runId)).result;
      if (task?.status !== "working") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(task).toMatchObject({
      status: "completed",
      result: { structuredContent: { run: { status: "failed" } } },
    });
    expect(task?.statusMessage).toMatch(/failed/);
  });

  it("tasks/cancel cancels the run; tasks/get then says cancelled", async () => {
    const runId = (await start("sleep", [60_000])).taskId as string;
    const cancel = await answer(await modern("tasks/cancel", { taskId: runId }, withTasks));
    expect(cancel.result).toMatchObject({ resultType: "complete" });
    expect((await getTask(runId)).result).toMatchObject({ taskId: runId, status: "cancelled" });
  });

  it("tasks/update is acknowledged (a run never asks for input)", async () => {
    const runId = (await start("echo", ["x"])).taskId as string;
    const update = await answer(
      await modern("tasks/update", { taskId: runId, inputResponses: {} }, withTasks),
    );
    expect(update.result).toMatchObject({ resultType: "complete" });
  });

  it("without the extension declared: a plain result, and task methods refused with -32021", async () => {
    const plain = await start("echo", ["x"], { capabilities: {} });
    expect(plain.resultType).toBe("complete");
    expect(plain).not.toHaveProperty("taskId");
    const runId = (plain.structuredContent as { run: { id: string } }).run.id;
    const { error } = await getTask(runId, { capabilities: {} });
    expect(error).toMatchObject({
      code: -32021,
      data: { requiredCapabilities: { extensions: { "io.modelcontextprotocol/tasks": {} } } },
    });
  });

  it("task methods are authorized like their tools: cancelling needs workflows:cancel", async () => {
    const runId = (await start("sleep", [60_000])).taskId as string;
    const readOnly = await stack.issuer.sign({ scope: "workflows:read" });
    const res = await modern(
      "tasks/cancel",
      { taskId: runId },
      { ...withTasks, token: readOnly, id: 9 },
    );
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toMatch(
      /^Bearer error="insufficient_scope", error_description="tasks\/cancel requires workflows:cancel or workflows:cancel:all or workflows:admin; the token has workflows:read", scope="workflows:read workflows:cancel", resource_metadata="/,
    );
    expect((await errorBody(res)).error).toMatchObject({
      code: -32003,
      data: {
        method: "tasks/cancel",
        missingScopes: ["workflows:cancel"],
        allowedBy: {
          "workflows:cancel": ["workflows:cancel", "workflows:cancel:all", "workflows:admin"],
        },
      },
    });
    await modern("tasks/cancel", { taskId: runId }, withTasks);
  });

  it("someone else's task is not found, exactly like one that never was", async () => {
    const runId = (await start("echo", ["mine"])).taskId as string;
    const bob = await stack.issuer.sign({ sub: "bob", scope: ALL_SCOPES });
    const theirs = await getTask(runId, { token: bob });
    const none = await getTask("trn-00000000000000000000", { token: bob });
    expect(theirs.error?.code).toBe(-32602);
    expect(none.error?.code).toBe(-32602);
    expect(theirs.error?.message.replace(runId, "<id>")).toBe(
      none.error?.message.replace("trn-00000000000000000000", "<id>"),
    );
    expect(theirs.error?.message).toMatch(/workflows:read:all/);
    const bobCancels = await answer(
      await modern("tasks/cancel", { taskId: runId }, { ...withTasks, token: bob }),
    );
    expect(bobCancels.error?.code).toBe(-32602);
    expect((await getTask(runId)).result?.status).not.toBe("cancelled");
  });

  it("Mcp-Name must name the task the body names", async () => {
    const res = await modern(
      "tasks/get",
      { taskId: "trn-a" },
      { ...withTasks, headers: { "mcp-name": "trn-b" } },
    );
    expect(res.status).toBe(400);
    expect((await errorBody(res)).error.code).toBe(-32020);
  });
});
