import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import type { CallToolResultV2 } from "@modelcontextprotocol/ext-tasks/core/v2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Approval } from "../src/approvals/approval.js";
import type { TaskRun } from "../src/workflows/run.js";
import { codeOf, runOf, textOf } from "./helpers/results.js";
import {
  ERAS,
  type Era,
  lastMessage,
  type McpTestClient,
  MODERN,
  PUBLIC_URL,
  postMcp,
  postModern,
  type Stack,
  startStack,
  type ToolResult,
  taskMethod,
  toolCall,
} from "./helpers/stack.js";
import { connectTasksClient, RESULT, type TasksClient } from "./helpers/tasks-client.js";

/**
 * Approval requests over HTTP with real clients (the v2 SDK client in both
 * eras, the Tasks extension's client, raw 2026-07-28 requests) against the
 * built server on the embedded engine with the fixture tasks: `add` needs an
 * approver, `echo` its requester's confirmation (self).
 */

const ALICE =
  "workflows:read workflows:run:add workflows:run:echo workflows:run:sleep workflows:cancel";
const BOB = "workflows:read workflows:approve:add";

let stack: Stack;
const tasksClients: TasksClient[] = [];
beforeAll(async () => {
  stack = await startStack({ APPROVAL_TASKS: "add,echo=self" });
});
afterAll(async () => {
  await Promise.allSettled(tasksClients.map((c) => c.close()));
  await stack?.close();
});

const as = (sub: string, scopes: string, era: Era = "modern") =>
  stack.connect(scopes, era, { sub, client_id: `${sub}-client` });
const approvalOf = (result: ToolResult) =>
  (result.structuredContent as { approval: Approval }).approval;

async function ask(client: McpTestClient, task = "add", input: unknown = [2, 3]) {
  const result = await client.callTool("start_task_run", { task, input });
  expect(result.isError, textOf(result)).toBeFalsy();
  return approvalOf(result);
}

describe.each(ERAS)("%s clients", (era) => {
  let alice: McpTestClient;
  let bob: McpTestClient;
  beforeAll(async () => {
    alice = await as(`alice-${era}`, ALICE, era);
    bob = await as("bob", BOB, era);
  });

  it("a start of a task that needs approval records a request and starts nothing", async () => {
    const result = await alice.callTool("start_task_run", { task: "add", input: [2, 3] });
    const approval = approvalOf(result);
    expect(result.structuredContent).toEqual({ approval });
    expect(approval).toEqual({
      id: expect.stringMatching(/^apr-[0-9a-f]{32}$/),
      status: "pending",
      task: "add",
      mode: "approver",
      requestedBy: {
        issuer: stack.issuer.issuer,
        subject: `alice-${era}`,
        clientId: `alice-${era}-client`,
      },
      createdAt: expect.any(String),
      expiresAt: new Date(Date.parse(approval.createdAt) + 60 * 60_000).toISOString(),
      url: `${PUBLIC_URL}/approvals/${approval.id}`,
    });
    expect(textOf(result)).toBe(
      `Approval request ${approval.id}: a run of add asked for by alice-${era} waits for approval by a holder of workflows:approve:add (or workflows:approve), someone other than alice-${era}, at ${approval.url} or with decide_approval_request (until ${approval.expiresAt}); nothing runs until then`,
    );
    const runs = await alice.callTool("list_task_runs", { task: "add" });
    expect(runs.structuredContent).toEqual({ runs: [] });
  });

  it("an approver's approval starts the run for the requester, with the input as asked, once", async () => {
    const { id } = await ask(alice, "add", [20, 22]);
    const approved = await bob.callTool("decide_approval_request", {
      id,
      decision: "approve",
      reason: "looks right",
    });
    expect(approved.isError, textOf(approved)).toBeFalsy();
    const { approval, run } = approved.structuredContent as { approval: Approval; run: TaskRun };
    expect(approval).toMatchObject({
      id,
      status: "approved",
      decidedBy: { issuer: stack.issuer.issuer, subject: "bob", clientId: "bob-client" },
      reason: "looks right",
      runId: run.id,
    });
    // Bob may not read Alice's runs: he sees what a list shows, not her input.
    expect(run).not.toHaveProperty("input");
    expect(run.startedBy).toMatchObject({
      subject: `alice-${era}`,
      clientId: `alice-${era}-client`,
    });
    expect(textOf(approved)).toMatch(
      new RegExp(`^Approval request ${id}: approved by bob; run ${run.id} started\\. `),
    );
    const own = await alice.callTool("get_task_run", { id: run.id, wait_seconds: 30 });
    expect(runOf(own)).toMatchObject({
      id: run.id,
      task: "add",
      input: [20, 22],
      status: "succeeded",
      results: [42],
      startedBy: { subject: `alice-${era}` },
    });
    // Final and idempotent.
    const again = await bob.callTool("decide_approval_request", { id, decision: "approve" });
    expect((again.structuredContent as { approval: Approval }).approval).toEqual(approval);
    const deny = await bob.callTool("decide_approval_request", { id, decision: "deny" });
    expect(deny.isError).toBe(true);
    expect(codeOf(deny)).toBe("ERR_ALREADY_DECIDED");
    expect(textOf(deny)).toBe(
      `Approval request ${id} was approved by bob at ${approval.decidedAt}; decisions are final`,
    );
    const runs = await alice.callTool("list_task_runs", { task: "add" });
    expect((runs.structuredContent as { runs: TaskRun[] }).runs.map((r) => r.id)).toContain(run.id);
  });

  it("a denial starts nothing", async () => {
    const before = await alice.callTool("list_task_runs", { task: "add" });
    const { id } = await ask(alice);
    const denied = await bob.callTool("decide_approval_request", {
      id,
      decision: "deny",
      reason: "not today",
    });
    expect(denied.structuredContent).toEqual({
      approval: expect.objectContaining({ id, status: "denied", reason: "not today" }),
    });
    expect(textOf(denied)).toBe(`Approval request ${id}: denied by bob (not today); nothing ran`);
    const after = await alice.callTool("list_task_runs", { task: "add" });
    expect(after.structuredContent).toEqual(before.structuredContent);
  });
});

describe("who may decide", () => {
  it("a reader is challenged for the approve scope of the request's task, narrowest first", async () => {
    const alice = await as("alice", ALICE);
    const { id } = await ask(alice);
    const reader = await stack.issuer.sign({ sub: "rita", scope: "workflows:read" });
    const res = await postModern(
      stack.server.url,
      "tools/call",
      { name: "decide_approval_request", arguments: { id, decision: "approve" } },
      { token: reader },
    );
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toBe(
      `Bearer error="insufficient_scope", error_description="decide_approval_request requires workflows:approve:add or workflows:approve or workflows:admin; the token has workflows:read", scope="workflows:read workflows:approve:add", resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp"`,
    );
    const body = await lastMessage(res);
    expect(body.error?.data).toEqual({
      tool: "decide_approval_request",
      missingScopes: ["workflows:approve:add"],
      allowedBy: {
        "workflows:approve:add": ["workflows:approve:add", "workflows:approve", "workflows:admin"],
      },
      grantedScopes: ["workflows:read"],
    });
    // Another task's approve scope is no more use.
    const carol = await as("carol", "workflows:read workflows:approve:echo");
    await expect(
      carol.callTool("decide_approval_request", { id, decision: "approve" }),
    ).rejects.toThrow(/403|insufficient_scope|workflows:approve:add/);
  });

  it("a batch (2025-03-26 clients) naming more than 20 requests to decide is refused before any is read", async () => {
    const bob = await stack.issuer.sign({ sub: "bob", scope: BOB });
    const batch = Array.from({ length: 21 }, (_, i) =>
      toolCall("decide_approval_request", { id: `apr-${i}`, decision: "approve" }, i + 1),
    );
    const res = await postMcp(stack.server.url, batch, { authorization: `Bearer ${bob}` });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      jsonrpc: "2.0",
      id: 1,
      error: {
        code: -32600,
        message:
          "The request names 21 approval requests; at most 20 may be decided in one HTTP request",
      },
    });
  });

  it("the requester can never decide their own request, whatever scope they hold", async () => {
    const root = await as("root", "workflows:admin");
    const { id } = await ask(root);
    const own = await root.callTool("decide_approval_request", { id, decision: "approve" });
    expect(own.isError).toBe(true);
    expect(codeOf(own)).toBe("ERR_DECISION_NOT_ALLOWED");
    expect(textOf(own)).toBe(
      `You asked for approval request ${id}: someone else holding workflows:approve:add (or workflows:approve) decides it`,
    );
  });

  it("an unknown id is not found, with what to do", async () => {
    const bob = await as("bob", BOB);
    const result = await bob.callTool("decide_approval_request", {
      id: "apr-00000000000000000000000000000000",
      decision: "approve",
    });
    expect(codeOf(result)).toBe("ERR_APPROVAL_NOT_FOUND");
    expect(textOf(result)).toBe(
      'No approval request "apr-00000000000000000000000000000000" among those you asked for or may decide (list_approval_requests shows them)',
    );
  });

  it("a self-mode request is confirmed on the page by its requester, never by a tool", async () => {
    const alice = await as("alice", ALICE);
    const approval = await ask(alice, "echo", ["hello"]);
    expect(approval.mode).toBe("self");
    const tried = await alice.callTool("decide_approval_request", {
      id: approval.id,
      decision: "approve",
    });
    expect(codeOf(tried)).toBe("ERR_DECISION_NOT_ALLOWED");
    expect(textOf(tried)).toBe(
      `Approval request ${approval.id} is confirmed by the person who asked (alice) in a browser, signed in as themselves: open ${approval.url}`,
    );
  });
});

describe("withdrawing", () => {
  it("the requester cancels a pending request (cancel_task_run with its id); nobody else can", async () => {
    const alice = await as("alice", ALICE);
    const { id } = await ask(alice);
    const admin = await as("root", "workflows:admin");
    const theirs = await admin.callTool("cancel_task_run", { id });
    expect(codeOf(theirs)).toBe("ERR_DECISION_NOT_ALLOWED");
    const withdrawn = await alice.callTool("cancel_task_run", { id });
    expect(withdrawn.structuredContent).toEqual({
      approval: expect.objectContaining({ id, status: "canceled" }),
      already_finished: false,
    });
    expect(textOf(withdrawn)).toBe(`Approval request ${id}: withdrawn by alice; nothing ran`);
    const again = await alice.callTool("cancel_task_run", { id });
    expect(again.structuredContent).toMatchObject({ already_finished: true });
    const bob = await as("bob", BOB);
    const late = await bob.callTool("decide_approval_request", { id, decision: "approve" });
    expect(codeOf(late)).toBe("ERR_ALREADY_DECIDED");
  });
});

describe("what each caller sees", () => {
  it("list_approval_requests: one's own, and those one may decide; filtered; paged", async () => {
    const dave = await as("dave", ALICE);
    const mine = [await ask(dave), await ask(dave, "echo", ["x"]), await ask(dave)];
    const own = await dave.callTool("list_approval_requests", { limit: 2 });
    const page = own.structuredContent as { approvals: Approval[]; next_cursor?: string };
    expect(page.approvals.map((a) => a.id)).toEqual([mine[2]?.id, mine[1]?.id]);
    expect(page.next_cursor).toEqual(expect.any(String));
    const next = await dave.callTool("list_approval_requests", {
      limit: 2,
      cursor: page.next_cursor,
    });
    expect((next.structuredContent as { approvals: Approval[] }).approvals[0]?.id).toBe(
      mine[0]?.id,
    );
    // Bob decides add: Dave's add requests, not his self-mode one.
    const bob = await as("bob", BOB);
    const pending = await bob.callTool("list_approval_requests", { status: "pending", limit: 100 });
    const ids = (pending.structuredContent as { approvals: Approval[] }).approvals.map((a) => a.id);
    expect(ids).toContain(mine[0]?.id);
    expect(ids).toContain(mine[2]?.id);
    expect(ids).not.toContain(mine[1]?.id);
    // A reader with no approve scope sees only their own.
    const rita = await as("rita", "workflows:read");
    expect((await rita.callTool("list_approval_requests", {})).structuredContent).toEqual({
      approvals: [],
    });
  });

  it("whoami says which startable tasks need approval and what one may decide", async () => {
    const alice = await as("alice", ALICE);
    const me = (await alice.callTool("whoami", {})).structuredContent as {
      approvals: { needed: unknown; decides: unknown; waiting: Approval[] };
      allowedTools: string[];
    };
    expect(me.approvals.needed).toEqual([
      { task: "add", mode: "approver" },
      { task: "echo", mode: "self" },
    ]);
    expect(me.approvals.decides).toEqual([]);
    expect(me.approvals.waiting).toEqual([]);
    const bob = await as("bob", BOB);
    const them = (await bob.callTool("whoami", {})).structuredContent as typeof me;
    expect(them.approvals.decides).toEqual(["add"]);
    expect(them.approvals.waiting.every((a) => a.task === "add" && a.status === "pending")).toBe(
      true,
    );
    expect(them.allowedTools).toContain("decide_approval_request");
  });

  it("Protected Resource Metadata offers the approve scope of each task an approver decides", async () => {
    const res = await fetch(`${stack.server.url}/.well-known/oauth-protected-resource/mcp`);
    const { scopes_supported: scopes } = (await res.json()) as { scopes_supported: string[] };
    expect(scopes).toContain("workflows:approve");
    expect(scopes).toContain("workflows:approve:add");
    // A self-mode task is confirmed by its requester: no scope decides it.
    expect(scopes).not.toContain("workflows:approve:echo");
    expect(scopes.filter((scope) => scope.startsWith("workflows:approve:"))).toEqual([
      "workflows:approve:add",
    ]);
  });

  it("the tools say so: start_task_run names the tasks; the approval tools are listed with their scopes", async () => {
    const alice = await as("alice", ALICE);
    const { tools } = await alice.listTools();
    const start = tools.find((t) => t.name === "start_task_run");
    expect(start?.description).toContain(
      "Runs of add, echo need a person's approval before they start: such a start answers with an approval request (structuredContent.approval) and its URL, not a run; the run starts once a person approves it.",
    );
    const decide = tools.find((t) => t.name === "decide_approval_request");
    expect(decide?._meta).toEqual({ requiredScopes: ["workflows:approve:<task>"] });
    expect(decide?.annotations).toMatchObject({ destructiveHint: true, readOnlyHint: false });
    expect(tools.find((t) => t.name === "list_approval_requests")?._meta).toEqual({
      requiredScopes: ["workflows:read"],
    });
  });

  it("the audit trail records requests and decisions, naming requester and decider", async () => {
    const alice = await as("erin", ALICE);
    const { id } = await ask(alice);
    const bob = await as("bob", BOB);
    const approved = await bob.callTool("decide_approval_request", { id, decision: "approve" });
    const runId = (approved.structuredContent as { approval: Approval }).approval.runId;
    const admin = await as("root", "workflows:admin");
    const trail = await admin.callTool("list_audit_events", { limit: 100 });
    const events = (trail.structuredContent as { events: Record<string, unknown>[] }).events.filter(
      (e) => e.approvalId === id,
    );
    expect(events.map((e) => [e.outcome, e.subject, e.requester, e.tool])).toEqual([
      ["started", "erin", undefined, "approval"],
      ["approval_approved", "bob", "erin", "decide_approval_request"],
      ["approval_requested", "erin", "erin", "start_task_run"],
    ]);
    expect(events[0]).toMatchObject({ runId, task: "add", clientId: "erin-client" });
    const byTask = await admin.callTool("list_audit_events", { subject: "bob", task: "add" });
    expect(
      (byTask.structuredContent as { events: Record<string, unknown>[] }).events.some(
        (e) => e.approvalId === id && e.outcome === "approval_approved",
      ),
    ).toBe(true);
  });
});

describe("Tasks clients", () => {
  const tasksAs = async (sub: string, scopes: string) => {
    const client = await connectTasksClient(
      stack.server.url,
      await stack.issuer.sign({ sub, scope: scopes, client_id: `${sub}-client` }),
    );
    tasksClients.push(client);
    return client;
  };

  it("a start that needs approval is a task with the request's id: working until approved, then the run", async () => {
    const alice = await tasksAs("alice", ALICE);
    const execution = await alice.session.callTool(
      "start_task_run",
      { task: "add", input: [1, 2] },
      RESULT,
    );
    expect(execution.kind).toBe("task");
    if (execution.kind !== "task") return;
    const { taskId } = execution.handle;
    expect(taskId).toMatch(/^apr-/);
    const working = await taskMethod(stack.server.url, "tasks/get", taskId, alice.token);
    expect(working.result).toMatchObject({
      taskId,
      status: "working",
      pollIntervalMs: 2000,
      statusMessage: expect.stringContaining(
        "waits for approval by a holder of workflows:approve:add",
      ),
    });
    const settled = execution.settle();
    const bob = await as("bob", BOB);
    await bob.callTool("decide_approval_request", { id: taskId, decision: "approve" });
    const { outcome, lastTask } = await settled;
    expect(outcome.status).toBe("completed");
    if (outcome.status !== "completed") return;
    const { run, approval } = (outcome.result as CallToolResultV2).structuredContent as {
      run: TaskRun;
      approval: Approval;
    };
    expect(run).toMatchObject({ task: "add", status: "succeeded", results: [3] });
    expect(approval).toMatchObject({ id: taskId, status: "approved", runId: run.id });
    expect(lastTask).toMatchObject({ taskId, status: "completed" });
  });

  it("denied, and withdrawn with tasks/cancel: completed tasks whose result says so", async () => {
    const alice = await tasksAs("alice", ALICE);
    const denied = await alice.session.callTool(
      "start_task_run",
      { task: "add", input: [1, 1] },
      RESULT,
    );
    if (denied.kind !== "task") throw new Error("expected a task");
    const bob = await as("bob", BOB);
    await bob.callTool("decide_approval_request", { id: denied.handle.taskId, decision: "deny" });
    const { outcome } = await denied.settle();
    expect(outcome).toMatchObject({
      status: "completed",
      result: {
        structuredContent: { approval: { id: denied.handle.taskId, status: "denied" } },
        content: [
          {
            type: "text",
            text: `Approval request ${denied.handle.taskId}: denied by bob; nothing ran`,
          },
        ],
      },
    });

    const withdrawn = await alice.session.callTool(
      "start_task_run",
      { task: "add", input: [1, 1] },
      RESULT,
    );
    if (withdrawn.kind !== "task") throw new Error("expected a task");
    const { taskId } = withdrawn.handle;
    await withdrawn.cancel();
    // The client ends its own side at the server's acknowledgement; the server's task says why.
    const task = await taskMethod(stack.server.url, "tasks/get", taskId, alice.token);
    expect(task.result).toMatchObject({
      taskId,
      status: "completed",
      statusMessage: `Approval request ${taskId}: withdrawn by alice; nothing ran`,
      result: {
        resultType: "complete",
        structuredContent: { approval: { id: taskId, status: "canceled" } },
      },
    });
  });
});

describe("URL elicitation (2026-07-28 clients that declare it)", () => {
  /** A v2 client declaring URL-mode elicitation; `onUrl` answers each elicitation. */
  async function elicitingClient(
    sub: string,
    onUrl: (params: { url: string; message: string }) => string,
  ) {
    const token = await stack.issuer.sign({ sub, scope: ALICE, client_id: `${sub}-client` });
    const client = new Client(
      { name: "eliciting", version: "1" },
      {
        versionNegotiation: { mode: { pin: MODERN } },
        capabilities: { elicitation: { url: {} } },
      },
    );
    const asked: { url: string; message: string; mode?: string }[] = [];
    client.setRequestHandler("elicitation/create", async (request) => {
      const params = request.params as { url: string; message: string; mode?: string };
      asked.push(params);
      return { action: onUrl(params) as "accept" };
    });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${stack.server.url}/mcp`), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    return { client, asked, token };
  }

  it("a self-mode start sends the person to the approval page; declining withdraws the request", async () => {
    const { client, asked } = await elicitingClient("frank", () => "decline");
    const result = (await client.callTool({
      name: "start_task_run",
      arguments: { task: "echo", input: ["hi"] },
    })) as ToolResult;
    expect(asked).toHaveLength(1);
    const approval = approvalOf(result);
    expect(asked[0]).toEqual({
      mode: "url",
      url: `${PUBLIC_URL}/approvals/${approval.id}`,
      message: `Confirm the run of echo in your browser, signed in as yourself (frank): it starts once you do. The request expires at ${approval.expiresAt}.`,
    });
    expect(approval.status).toBe("canceled");
    await client.close();
  });

  it("accepting without confirming on the page starts nothing: the server checks its own record", async () => {
    const { client, asked } = await elicitingClient("grace", () => "accept");
    const result = (await client.callTool({
      name: "start_task_run",
      arguments: { task: "echo", input: ["hi"] },
    })) as ToolResult;
    expect(asked).toHaveLength(1);
    expect(approvalOf(result)).toMatchObject({ status: "pending", mode: "self" });
    expect(result.structuredContent).not.toHaveProperty("run");
    await client.close();
  });

  it("an approver-mode start is answered as for every client: no elicitation", async () => {
    const { client, asked } = await elicitingClient("heidi", () => "accept");
    const result = (await client.callTool({
      name: "start_task_run",
      arguments: { task: "add", input: [1, 1] },
    })) as ToolResult;
    expect(asked).toEqual([]);
    expect(approvalOf(result).status).toBe("pending");
    await client.close();
  });

  it("state that was tampered with, or minted for someone else, is refused (-32602)", async () => {
    const ivan = await stack.issuer.sign({ sub: "ivan", scope: ALICE });
    const capabilities = { elicitation: { url: {} } };
    const first = await lastMessage(
      await postModern(
        stack.server.url,
        "tools/call",
        { name: "start_task_run", arguments: { task: "echo", input: ["x"] } },
        { token: ivan, capabilities },
      ),
    );
    expect(first.result?.resultType).toBe("input_required");
    const state = first.result?.requestState as string;
    const retry = (token: string, requestState: string) =>
      postModern(
        stack.server.url,
        "tools/call",
        {
          name: "start_task_run",
          arguments: { task: "echo", input: ["x"] },
          requestState,
          inputResponses: { confirm: { action: "accept" } },
        },
        { token, capabilities, id: 2 },
      );
    const judy = await stack.issuer.sign({ sub: "judy", scope: ALICE });
    for (const [token, value] of [
      [judy, state],
      [ivan, `${state.slice(0, -2)}xx`],
    ] as const) {
      const answer = await lastMessage(await retry(token, value));
      expect(answer.error).toMatchObject({
        code: -32602,
        message: "Invalid or expired requestState",
      });
    }
    const own = await lastMessage(await retry(ivan, state));
    expect(own.result?.structuredContent).toMatchObject({ approval: { status: "pending" } });
  });
});
