import { afterAll, beforeAll, expect, it } from "vitest";
import type { TaskRun } from "../src/workflows/run.js";
import { runOf } from "./helpers/results.js";
import { type Stack, startStack } from "./helpers/stack.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

const INTERRUPTED =
  "interrupted: the server stopped while this attempt was running; it runs again, not counted as a retry (a run interrupted 3 times fails)";

it("a crash mid-run loses nothing: the interrupted run runs again, completed runs survive", async () => {
  let client = await stack.connect();
  const done = runOf(
    await client.callTool("start_task_run", { task: "echo", input: ["kept"], wait_seconds: 20 }),
  );
  expect(done.status).toBe("succeeded");
  const interrupted = runOf(
    await client.callTool("start_task_run", { task: "sleep", input: [60_000] }),
  );
  runOf(await client.callTool("get_task_run", { id: interrupted.id, wait_seconds: 1 }));
  await client.close();

  await stack.restart("SIGKILL");
  client = await stack.connect();
  const after = runOf(await client.callTool("get_task_run", { id: interrupted.id }));
  // sleep has no retries, and still runs again: an interruption is not a retry.
  expect(after.status).toBe("running");
  expect(after.retries).toBe(0);
  expect(after.attempts[0]).toMatchObject({ attempt: 1, status: "failed", error: INTERRUPTED });
  expect(after.attempts[1]?.attempt).toBe(2);
  const kept = runOf(await client.callTool("get_task_run", { id: done.id }));
  expect(kept).toMatchObject({ status: "succeeded", results: ["kept"] });
  const listed = await client.callTool("list_task_runs", { limit: 100 });
  const ids = (listed.structuredContent as { runs: TaskRun[] }).runs.map((r) => r.id);
  expect(ids).toEqual(expect.arrayContaining([done.id, interrupted.id]));
  const canceled = await client.callTool("cancel_task_run", { id: interrupted.id });
  expect(canceled.structuredContent).toMatchObject({ run: { status: "canceled" } });
});

it("an interrupted run with retries runs again without spending one", async () => {
  let client = await stack.connect();
  const run = runOf(
    await client.callTool("start_task_run", { task: "flaky", input: ["restart", 0, 1500] }),
  );
  runOf(await client.callTool("get_task_run", { id: run.id, wait_seconds: 1 }));
  await client.close();
  await stack.restart("SIGKILL");
  client = await stack.connect();
  const after = runOf(await client.callTool("get_task_run", { id: run.id, wait_seconds: 20 }));
  expect(after).toMatchObject({
    status: "succeeded",
    retries: 0,
    results: ["restart: succeeded on attempt 2"],
  });
  expect(after.attempts.map((a) => [a.status, a.error])).toEqual([
    ["failed", INTERRUPTED],
    ["succeeded", undefined],
  ]);
});

it("a graceful stop (SIGTERM, as on every deploy) lets a running attempt finish", async () => {
  let client = await stack.connect();
  const run = runOf(await client.callTool("start_task_run", { task: "sleep", input: [1500] }));
  runOf(await client.callTool("get_task_run", { id: run.id, wait_seconds: 1 }));
  await client.close();
  await stack.restart("SIGTERM");
  client = await stack.connect();
  const after = runOf(await client.callTool("get_task_run", { id: run.id }));
  expect(after).toMatchObject({ status: "succeeded", results: [1500], retries: 0 });
  expect(after.attempts.map((a) => a.status)).toEqual(["succeeded"]);
});
