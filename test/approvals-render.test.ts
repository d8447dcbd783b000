import { afterAll, beforeAll, expect, it } from "vitest";
import type { Approval } from "../src/approvals/approval.js";
import type { TaskRun } from "../src/workflows/run.js";
import { codeOf, textOf } from "./helpers/results.js";
import type { McpTestClient, ToolResult } from "./helpers/stack.js";
import { type RenderStack, startRenderStack } from "./render/stack.js";

/**
 * Approvals on the Render backend, against the loopback fake of Render's
 * API: a start that needs approval sends Render nothing; the run is created
 * once a person approves — once, however often approving is repeated — with
 * the request's id as its idempotency key, as the requester's run.
 */

let stack: RenderStack;
let alice: McpTestClient;
let bob: McpTestClient;
beforeAll(async () => {
  stack = await startRenderStack({
    env: { APPROVAL_TASKS: "deploy" },
    prepare(fake) {
      fake.addTask("deploy");
      fake.addTask("square");
    },
  });
  alice = await stack.connect("workflows:read workflows:run workflows:cancel", {
    sub: "alice",
    client_id: "alice-client",
  });
  bob = await stack.connect("workflows:read workflows:approve:deploy", { sub: "bob" });
});
afterAll(() => stack?.close());

const posts = () => stack.fake.requests.filter((r) => r.method === "POST");
const approvalOf = (result: ToolResult) =>
  (result.structuredContent as { approval: Approval }).approval;

it("a start that needs approval creates no run at Render; approving creates exactly one, as the requester's", async () => {
  const before = posts().length;
  // Named as on Render, with the workflow: the policy names the task as per-task scopes do.
  const asked = await alice.callTool("start_task_run", {
    task: `${stack.fake.workflow.slug}/deploy`,
    input: { env: "prod" },
  });
  const approval = approvalOf(asked);
  expect(approval).toMatchObject({ status: "pending", task: "deploy", mode: "approver" });
  expect(posts()).toHaveLength(before);

  const decided = await Promise.all([
    bob.callTool("decide_approval_request", { id: approval.id, decision: "approve" }),
    bob.callTool("decide_approval_request", { id: approval.id, decision: "approve" }),
  ]);
  const again = await bob.callTool("decide_approval_request", {
    id: approval.id,
    decision: "approve",
  });
  const created = posts().slice(before);
  expect(created).toHaveLength(1);
  expect(created[0]?.body).toEqual({
    task: `${stack.fake.workflow.slug}/deploy`,
    input: { env: "prod" },
    idempotencyKey: approval.id,
  });
  const runId = approvalOf(again).runId;
  expect(runId).toMatch(/^trn-/);
  for (const result of decided) {
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(approvalOf(result).status).toBe("approved");
  }
  // Alice's run: she reads it with her own scopes, input and all.
  const run = (await alice.callTool("get_task_run", { id: runId })).structuredContent as {
    run: TaskRun;
  };
  expect(run.run).toMatchObject({
    id: runId,
    task: `${stack.fake.workflow.slug}/deploy`,
    input: { env: "prod" },
    startedBy: { subject: "alice", clientId: "alice-client" },
  });
  // A task outside the policy starts at once, as before.
  const square = await alice.callTool("start_task_run", { task: "square", input: [3] });
  expect((square.structuredContent as { run: TaskRun }).run.status).toBe("pending");
  expect(posts()).toHaveLength(before + 2);
});

it("a denied request never reaches Render", async () => {
  const before = posts().length;
  const approval = approvalOf(
    await alice.callTool("start_task_run", { task: "deploy", input: { env: "staging" } }),
  );
  const denied = await bob.callTool("decide_approval_request", {
    id: approval.id,
    decision: "deny",
  });
  expect(approvalOf(denied).status).toBe("denied");
  const late = await bob.callTool("decide_approval_request", {
    id: approval.id,
    decision: "approve",
  });
  expect(codeOf(late)).toBe("ERR_ALREADY_DECIDED");
  expect(posts()).toHaveLength(before);
});
