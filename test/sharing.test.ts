/**
 * Issue 17, item 1: one caller's runs cannot take what every caller needs —
 * the engine's root slots, and (on both backends) the number of runs one
 * caller may have unfinished. Over HTTP, with the real server and clients.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskRun } from "../src/workflows/run.js";
import { startTestIssuer, type TestIssuer } from "./helpers/issuer.js";
import { codeOf, runOf, textOf } from "./helpers/results.js";
import { type RunningServer, startServer } from "./helpers/server.js";
import {
  connectClient,
  type McpTestClient,
  PUBLIC_URL,
  RESOURCE,
  type ToolResult,
} from "./helpers/stack.js";
import { startRenderStack } from "./render/stack.js";

const SCOPES = "workflows:read workflows:run workflows:cancel";
const refusal = (limit: number) =>
  `You have ${limit} runs that have not finished, the most one caller may have at once here (MAX_ACTIVE_RUNS_PER_CALLER); wait for one to finish or cancel one (list_task_runs with status ["pending", "running"] shows them), then try again`;

function expectLimitRefusal(result: ToolResult, limit: number) {
  expect(result.isError).toBe(true);
  expect(textOf(result)).toBe(refusal(limit));
  expect(result._meta?.["workflows-mcp/error"]).toEqual({
    code: "ERR_LIMIT_REACHED",
    retryable: true,
    retryAfterSeconds: 30,
  });
}

describe("with the defaults (bundled tasks, 6 threads, subtasks 3 deep, 10 unfinished runs a caller)", () => {
  let issuer: TestIssuer;
  let server: RunningServer;
  let dir: string;
  let alice: McpTestClient;
  let bob: McpTestClient;
  const aliceRuns: TaskRun[] = [];

  beforeAll(async () => {
    issuer = await startTestIssuer({ audience: RESOURCE });
    dir = mkdtempSync(join(tmpdir(), "workflows-mcp-sharing-"));
    // Nothing but what any deployment must set: the defaults decide everything else.
    server = await startServer({
      PUBLIC_URL,
      AUTH_ISSUER: issuer.issuer,
      LOCAL_DB_PATH: join(dir, "runs.sqlite"),
    });
    alice = await connectClient(server.url, await issuer.sign({ sub: "alice", scope: SCOPES }));
    bob = await connectClient(server.url, await issuer.sign({ sub: "bob", scope: SCOPES }));
  });
  afterAll(async () => {
    // Cancelled, Alice's runs do not hold the shutdown for its grace period.
    await Promise.allSettled(
      aliceRuns.map((run) => alice.callTool("cancel_task_run", { id: run.id })),
    );
    await Promise.allSettled([alice?.close(), bob?.close()]);
    await server?.stop();
    await issuer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("while Alice holds eight longRunning runs, Bob's greet starts within 2 s and finishes within its 15 s wait", async () => {
    for (let i = 0; i < 8; i++) {
      const result = await alice.callTool("start_task_run", { task: "longRunning", input: [60] });
      expect(result.isError, textOf(result)).toBeFalsy();
      aliceRuns.push(runOf(result));
    }
    // Alice's runs have taken what they may: two of the three root slots.
    let running: TaskRun[] = [];
    for (let waited = 0; waited < 10_000 && running.length < 2; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      running = (
        (await alice.callTool("list_task_runs", { status: ["running"] })).structuredContent as {
          runs: TaskRun[];
        }
      ).runs;
    }
    expect(running).toHaveLength(2);

    const asked = performance.now();
    const result = await bob.callTool("start_task_run", {
      task: "greet",
      input: ["Bob"],
      wait_seconds: 15,
    });
    const answeredMs = performance.now() - asked;
    const run = runOf(result);
    expect(run).toMatchObject({ status: "succeeded", results: ["Hello, Bob!"] });
    expect(Date.parse(run.startedAt as string) - Date.parse(run.createdAt as string)).toBeLessThan(
      2_000,
    );
    expect(answeredMs).toBeLessThan(15_000);
    // Alice still has two running and six waiting: nothing of hers was displaced.
    const statuses = await Promise.all(
      aliceRuns.map(async (r) => runOf(await alice.callTool("get_task_run", { id: r.id })).status),
    );
    expect(statuses.filter((s) => s === "running")).toHaveLength(2);
    expect(statuses.filter((s) => s === "pending")).toHaveLength(6);
  });

  it("refuses Alice's eleventh unfinished run with ERR_LIMIT_REACHED naming the limit, not Bob's", async () => {
    for (let i = aliceRuns.length; i < 10; i++) {
      const result = await alice.callTool("start_task_run", { task: "longRunning", input: [60] });
      expect(result.isError, textOf(result)).toBeFalsy();
      aliceRuns.push(runOf(result));
    }
    expectLimitRefusal(
      await alice.callTool("start_task_run", { task: "greet", input: ["again"] }),
      10,
    );
    // A rerun starts a run too.
    expectLimitRefusal(
      await alice.callTool("rerun_task_run", { id: aliceRuns[0]?.id as string }),
      10,
    );
    const bobs = await bob.callTool("start_task_run", {
      task: "greet",
      input: ["B"],
      wait_seconds: 15,
    });
    expect(runOf(bobs).status).toBe("succeeded");
    // One of Alice's runs cancelled: she may start one more.
    const cancelled = await alice.callTool("cancel_task_run", { id: aliceRuns[9]?.id as string });
    expect(runOf(cancelled).status).toBe("canceled");
    const next = await alice.callTool("start_task_run", { task: "greet", input: ["next"] });
    expect(next.isError, textOf(next)).toBeFalsy();
    aliceRuns.push(runOf(next));
  });
});

describe("on Render, the bound counts the caller's runs Render has not finished", () => {
  let stack: Awaited<ReturnType<typeof startRenderStack>>;
  let alice: McpTestClient;
  let bob: McpTestClient;
  beforeAll(async () => {
    stack = await startRenderStack({
      env: { MAX_ACTIVE_RUNS_PER_CALLER: "2" },
      prepare: (fake) => fake.addTask("square"),
    });
    alice = await stack.connect(SCOPES, { sub: "alice" });
    bob = await stack.connect(SCOPES, { sub: "bob" });
  });
  afterAll(() => stack?.close());

  const statusLookups = () =>
    stack.fake.requests.filter((r) => r.method === "GET" && r.path === "/task-runs").length;

  it("refuses the start past MAX_ACTIVE_RUNS_PER_CALLER until one of the caller's runs finishes at Render", async () => {
    const first = runOf(await alice.callTool("start_task_run", { task: "square", input: [1] }));
    const second = runOf(await alice.callTool("start_task_run", { task: "square", input: [2] }));
    // Below the bound, Render is not asked about the caller's runs.
    expect(statusLookups()).toBe(0);
    expectLimitRefusal(await alice.callTool("start_task_run", { task: "square", input: [3] }), 2);
    expect(stack.fake.requests.filter((r) => r.method === "POST")).toHaveLength(2);
    const bobs = await bob.callTool("start_task_run", { task: "square", input: [4] });
    expect(bobs.isError, textOf(bobs)).toBeFalsy();

    stack.fake.apply(first.id, { do: "start" });
    stack.fake.apply(first.id, { do: "succeed", result: 1 });
    const third = await alice.callTool("start_task_run", { task: "square", input: [3] });
    expect(third.isError, textOf(third)).toBeFalsy();
    // The finished run was asked about once and marked: the next check does not ask again about it.
    const lookups = statusLookups();
    expectLimitRefusal(await alice.callTool("start_task_run", { task: "square", input: [5] }), 2);
    const asked = stack.fake.requests
      .filter((r) => r.method === "GET" && r.path === "/task-runs")
      .slice(lookups)
      .flatMap((r) => r.query.getAll("rootTaskRunId"));
    expect(asked.sort()).toEqual([second.id, runOf(third).id].sort());
    expect(codeOf(await alice.callTool("start_task_run", { task: "square", input: [6] }))).toBe(
      "ERR_LIMIT_REACHED",
    );
  });
});
