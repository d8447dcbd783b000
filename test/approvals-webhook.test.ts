import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Approval } from "../src/approvals/approval.js";
import type { McpTestClient, Stack, ToolResult } from "./helpers/stack.js";
import { startStack } from "./helpers/stack.js";

/**
 * APPROVAL_WEBHOOK_URL against a loopback receiver: what is posted on a new
 * request and on each decision (never the task's input), bounded retries
 * with backoff, and a receiver that fails or hangs never delaying a start.
 */

interface Delivery {
  body: { text: string; approval: Approval };
  raw: string;
  headers: IncomingMessage["headers"];
}

type Behaviour = "ok" | "fail" | "hang";

let receiver: Server;
let behaviours: Behaviour[] = [];
const deliveries: Delivery[] = [];
let attempts = 0;
/** Requests the receiver holds without answering. */
const held: ServerResponse[] = [];

let stack: Stack;
let alice: McpTestClient;
let bob: McpTestClient;

const SECRET_INPUT = ["s3cr3t-token-in-the-input", 7];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk) => {
      raw += chunk;
    });
    req.on("end", () => {
      attempts++;
      const behaviour = behaviours.shift() ?? "ok";
      if (behaviour === "hang") {
        held.push(res);
        return;
      }
      if (behaviour === "fail") {
        res.writeHead(500).end("down for maintenance");
        return;
      }
      deliveries.push({ body: JSON.parse(raw), raw, headers: req.headers });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/approvals`;
  stack = await startStack({ APPROVAL_TASKS: "echo", APPROVAL_WEBHOOK_URL: url });
  alice = await stack.connect("workflows:read workflows:run:echo", "modern", { sub: "alice" });
  bob = await stack.connect("workflows:read workflows:approve:echo", "modern", { sub: "bob" });
});
afterAll(async () => {
  for (const res of held) res.destroy();
  await stack?.close();
  receiver?.closeAllConnections();
  receiver?.close();
});

const approvalOf = (result: ToolResult) =>
  (result.structuredContent as { approval: Approval }).approval;

async function until<T>(what: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = what();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting for the receiver");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const deliveryOf = (id: string, status: Approval["status"]) =>
  until(() =>
    deliveries.find((d) => d.body.approval.id === id && d.body.approval.status === status),
  );

it("posts each new request and each decision: a chat line and the request, never its input", async () => {
  const asked = approvalOf(
    await alice.callTool("start_task_run", { task: "echo", input: SECRET_INPUT }),
  );
  const requested = await deliveryOf(asked.id, "pending");
  expect(requested.headers["content-type"]).toBe("application/json");
  expect(requested.body).toEqual({
    text: `alice asks to run echo; a decision is needed by ${asked.expiresAt}: ${asked.url}`,
    approval: asked,
  });
  expect(requested.raw).not.toContain("s3cr3t");
  expect(requested.raw).not.toContain('"input"');

  await bob.callTool("decide_approval_request", {
    id: asked.id,
    decision: "approve",
    reason: "ok",
  });
  const approved = await deliveryOf(asked.id, "approved");
  expect(approved.body.text).toBe(`Run of echo asked by alice: approved by bob (ok): ${asked.url}`);
  expect(approved.body.approval).toMatchObject({
    id: asked.id,
    status: "approved",
    decidedBy: { subject: "bob" },
    reason: "ok",
  });
  expect(approved.raw).not.toContain("s3cr3t");
});

it("retries a failing receiver with backoff, and logs each failure", async () => {
  behaviours = ["fail", "fail"];
  const before = attempts;
  const asked = approvalOf(
    await alice.callTool("start_task_run", { task: "echo", input: SECRET_INPUT }),
  );
  await deliveryOf(asked.id, "pending");
  expect(attempts - before).toBe(3);
  const failures = stack.server.logs.filter(
    (line) => line.msg === "approval webhook failed; retrying" && line.approval === asked.id,
  );
  expect(failures.map((line) => [line.attempt, line.reason])).toEqual([
    [1, "HTTP 500"],
    [2, "HTTP 500"],
  ]);
  await bob.callTool("decide_approval_request", { id: asked.id, decision: "deny" });
  await deliveryOf(asked.id, "denied");
});

it("a receiver that hangs delays no start: the answer comes while the receiver still holds the request", async () => {
  behaviours = ["hang", "hang", "hang", "hang"];
  const first = await alice.callTool("start_task_run", { task: "echo", input: ["a"] });
  expect(first.isError).toBeFalsy();
  await until(() => (held.length > 0 ? true : undefined));
  // The webhook is stuck on the first announcement; starts go on being answered.
  const started = await Promise.all(
    [1, 2, 3].map(() => alice.callTool("start_task_run", { task: "echo", input: ["b"] })),
  );
  for (const result of started) expect(approvalOf(result).status).toBe("pending");
  expect(held.every((res) => !res.writableEnded)).toBe(true);
});
