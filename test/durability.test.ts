import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { TaskRun } from "../src/workflows/run.js";
import { type Stack, startStack } from "./helpers/stack.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

const runOf = (result: unknown) =>
  ((result as CallToolResult).structuredContent as { run: TaskRun }).run;

it("a crash mid-run leaves no run running forever, and completed runs survive", async () => {
  let client = await stack.connect();
  const done = runOf(
    await client.callTool({
      name: "start_task_run",
      arguments: { task: "echo", input: ["kept"], wait_seconds: 20 },
    }),
  );
  expect(done.status).toBe("succeeded");
  const interrupted = runOf(
    await client.callTool({
      name: "start_task_run",
      arguments: { task: "sleep", input: [60_000] },
    }),
  );
  runOf(
    await client.callTool({
      name: "get_task_run",
      arguments: { id: interrupted.id, wait_seconds: 1 },
    }),
  );
  await client.close();

  await stack.restart("SIGKILL");
  client = await stack.connect();
  const after = runOf(
    await client.callTool({ name: "get_task_run", arguments: { id: interrupted.id } }),
  );
  // sleep has no retries: the interrupted attempt is failed with a reason
  expect(after.status).toBe("failed");
  expect(after.error).toMatch(/interrupted/i);
  const kept = runOf(await client.callTool({ name: "get_task_run", arguments: { id: done.id } }));
  expect(kept).toMatchObject({ status: "succeeded", results: ["kept"] });
  const listed = (await client.callTool({
    name: "list_task_runs",
    arguments: { limit: 100 },
  })) as CallToolResult;
  const ids = (listed.structuredContent as { runs: TaskRun[] }).runs.map((r) => r.id);
  expect(ids).toEqual(expect.arrayContaining([done.id, interrupted.id]));
});

it("an interrupted run with retries left is retried after a restart", async () => {
  let client = await stack.connect();
  const run = runOf(
    await client.callTool({
      name: "start_task_run",
      arguments: { task: "flaky", input: ["restart", 0, 1500] },
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  await client.close();
  await stack.restart("SIGKILL");
  client = await stack.connect();
  const after = runOf(
    await client.callTool({ name: "get_task_run", arguments: { id: run.id, wait_seconds: 20 } }),
  );
  expect(after.status).toBe("succeeded");
  expect(after.attempts.length).toBeGreaterThanOrEqual(2);
  expect(after.attempts[0]?.error).toMatch(/interrupted/i);
});
