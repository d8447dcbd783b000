/** The engine through its WorkflowBackend methods: real SQLite files, real worker threads. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  InputTooLarge,
  InvalidCursor,
  InvalidInput,
  LimitReached,
  RunNotFound,
  UnknownTask,
} from "../../src/workflows/errors.js";
import type { LocalEngine } from "../../src/workflows/local/index.js";
import { MAX_INPUT_BYTES, type TaskRun, toSummary } from "../../src/workflows/run.js";
import { readsAs } from "../helpers/client-reads.js";
import { ADA, ALL, BOB, finished, own, reaches, refusal, until, workspace } from "./helpers.js";

let ws: ReturnType<typeof workspace>;
let engine: LocalEngine;
beforeEach(async () => {
  ws = workspace();
  engine = await ws.open();
});
afterEach(() => ws.cleanup());

const MISSING = "trn-00000000000000000000";
/** A run the caller cannot see, as a client reads it. */
const notFound = (message: string) => ({
  name: "RunNotFound",
  code: "ERR_RUN_NOT_FOUND",
  retryable: false,
  message,
});

describe("starting runs", () => {
  it("records who started a run, and shows it", async () => {
    const run = await finished(engine, (await engine.startRun("add", [2, 3], ADA)).id);
    expect(run).toMatchObject({
      task: "add",
      taskId: "tsk-local-add",
      status: "succeeded",
      input: [2, 3],
      results: [5],
      retries: 0,
      startedBy: ADA,
    });
    expect(run.rootTaskRunId).toBe(run.id);
    expect(run).not.toHaveProperty("parentTaskRunId");
    expect(run.attempts).toEqual([
      {
        attempt: 1,
        status: "succeeded",
        enqueuedAt: expect.any(String),
        startedAt: expect.any(String),
        completedAt: expect.any(String),
      },
    ]);
  });

  it("gives subtasks their root run's owner", async () => {
    const root = await finished(engine, (await engine.startRun("fanOut", [2], BOB)).id);
    expect(root.results).toEqual([[0, 1]]);
    const { runs } = await engine.listRuns({ task: "echo", limit: 10, access: own(BOB) });
    expect(runs).toHaveLength(2);
    for (const child of runs) {
      expect(child).toMatchObject({
        parentTaskRunId: root.id,
        rootTaskRunId: root.id,
        startedBy: BOB,
        status: "succeeded",
      });
    }
  });

  it("refuses input it cannot run, recording nothing", async () => {
    expect(await refusal(engine.startRun("add", ["x", 1], ADA))).toEqual(
      new InvalidInput(
        "add refused its input: input[0]: Invalid input: expected number, received string",
      ),
    );
    expect(await refusal(engine.startRun("add", { a: 1 }, ADA))).toEqual(
      new InvalidInput(
        "add is a TypeScript task: its input is an array of positional arguments (for example [3]), not an object of named parameters",
      ),
    );
    expect(await refusal(engine.startRun("echo", ["x".repeat(MAX_INPUT_BYTES)], ADA))).toEqual(
      new InputTooLarge(
        `The input to echo exceeds ${MAX_INPUT_BYTES} bytes as JSON; pass a reference (a URL or id) instead`,
      ),
    );
    const unknown = await refusal(engine.startRun("nope", [], ADA));
    expect(unknown).toBeInstanceOf(UnknownTask);
    expect(unknown.message).toMatch(/^Unknown task "nope"\. Tasks here: echo, add, fail, /);
    expect((await engine.listRuns({ limit: 10, access: ALL })).runs).toEqual([]);
  });

  it("fails a run whose result is over 4 MB, saying so", async () => {
    const run = await finished(engine, (await engine.startRun("big", [MAX_INPUT_BYTES], ADA)).id);
    expect(run.status).toBe("failed");
    expect(run.error).toBe(
      `the task's result is ${MAX_INPUT_BYTES + 2} bytes as JSON, over the ${MAX_INPUT_BYTES}-byte limit; return a reference (a URL or id) instead`,
    );
  });

  it("retries with Render's backoff and counts the retries", async () => {
    const run = await finished(engine, (await engine.startRun("flaky", ["k", 2], ADA)).id);
    expect(run).toMatchObject({
      status: "succeeded",
      retries: 2,
      results: ["k: succeeded on attempt 3"],
    });
    expect(run.attempts.map((a) => [a.attempt, a.status, a.error])).toEqual([
      [1, "failed", "k: failing attempt 1"],
      [2, "failed", "k: failing attempt 2"],
      [3, "succeeded", undefined],
    ]);
  });
});

describe("ownership", () => {
  it("answers a run started by someone else exactly like a run that does not exist", async () => {
    const bobs = await engine.startRun("echo", ["b"], BOB);
    const message = (id: string) =>
      `No task run with id "${id}" among the runs you started (list_task_runs shows them; runs started by others need workflows:read:all)`;
    for (const id of [bobs.id, MISSING]) {
      for (const call of [
        engine.getRun(id, own(ADA)),
        engine.waitForRun(id, { timeoutMs: 10, access: own(ADA) }),
        engine.getRunLogs(id, { limit: 10 }, own(ADA)),
      ]) {
        expect(await readsAs(call)).toEqual(notFound(message(id)));
      }
      expect(await readsAs(engine.cancelRun(id, own(ADA)))).toEqual(
        notFound(message(id).replace("workflows:read:all", "workflows:cancel:all")),
      );
    }
    expect((await engine.getRun(bobs.id, own(BOB))).id).toBe(bobs.id);
    expect((await engine.getRun(bobs.id, ALL)).id).toBe(bobs.id);
    expect(await refusal(engine.getRun(MISSING, ALL))).toEqual(
      new RunNotFound(`No task run with id "${MISSING}" (list_task_runs shows the runs there are)`),
    );
  });

  it("lists only the caller's runs, in full pages, with cursors that stay valid", async () => {
    const ids = { ada: [] as string[], bob: [] as string[] };
    for (let i = 0; i < 5; i++) {
      ids.ada.push((await engine.startRun("echo", [`a${i}`], ADA)).id);
      if (i < 4) ids.bob.push((await engine.startRun("echo", [`b${i}`], BOB)).id);
    }
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await engine.listRuns({ limit: 2, cursor, access: own(ADA) });
      pages.push(page.runs.map((run) => run.id));
      cursor = page.nextCursor;
    } while (cursor);
    const newestFirst = [...ids.ada].reverse();
    expect(pages).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);
    const all = await engine.listRuns({ limit: 100, access: ALL });
    expect(all.runs).toHaveLength(9);
    expect(all.nextCursor).toBeUndefined();
  });

  it("lets a caller cancel only its own runs", async () => {
    const bobs = await engine.startRun("sleep", [60_000], BOB);
    await refusal(engine.cancelRun(bobs.id, own(ADA)));
    expect((await engine.getRun(bobs.id, ALL)).status).not.toBe("canceled");
    const outcome = await engine.cancelRun(bobs.id, own(BOB));
    expect(outcome).toMatchObject({ alreadyFinished: false, run: { status: "canceled" } });
  });
});

describe("listing", () => {
  it("lists summaries: no input, no results", async () => {
    const run = await finished(engine, (await engine.startRun("echo", ["x".repeat(1000)], ADA)).id);
    const { runs } = await engine.listRuns({ limit: 10, access: ALL });
    expect(runs).toEqual([toSummary(run)]);
    expect(runs[0]).not.toHaveProperty("input");
    expect(runs[0]).not.toHaveProperty("results");
  });

  it("filters by status, each status once", async () => {
    const ok = await finished(engine, (await engine.startRun("echo", [1], ADA)).id);
    const failed = await finished(engine, (await engine.startRun("fail", ["no"], ADA)).id);
    const running = await engine.startRun("sleep", [60_000], ADA);
    expect([ok.status, failed.status, running.status]).toEqual(["succeeded", "failed", "running"]);
    const page = await engine.listRuns({
      status: ["failed", "failed", "succeeded"],
      limit: 10,
      access: ALL,
    });
    expect(page.runs.map((r) => r.id)).toEqual([failed.id, ok.id]);
    expect(
      await refusal(engine.listRuns({ status: ["done" as "failed"], limit: 10, access: ALL })),
    ).toEqual(
      new InvalidInput(
        'Unknown status "done"; statuses are pending, running, succeeded, failed, canceled, paused',
      ),
    );
    expect(await refusal(engine.listRuns({ limit: 0, access: ALL }))).toEqual(
      new InvalidInput("limit must be a whole number from 1 to 1000"),
    );
    expect(
      await refusal(engine.listRuns({ limit: 1, cursor: "bogus", access: ALL })),
    ).toBeInstanceOf(InvalidCursor);
  });
});

describe("limits on waiting runs", () => {
  it("refuses a caller's run beyond its bound and anyone's beyond the total, with when to retry", async () => {
    await ws.cleanup();
    ws = workspace();
    engine = await ws.open({
      maxThreads: 2,
      maxSubtaskDepth: 1,
      maxPendingPerCaller: 2,
      maxPending: 3,
    });
    const running = await engine.startRun("sleep", [60_000], ADA);
    expect(running.status).toBe("running");
    await engine.startRun("sleep", [60_000], ADA);
    await engine.startRun("sleep", [60_000], ADA);
    const perCaller = await refusal(engine.startRun("echo", [1], ADA));
    expect(perCaller).toEqual(
      new LimitReached(
        'You already have 2 runs waiting to start, the most one caller may have here; try again in 30 s, once some have started, or cancel some (list_task_runs with status ["pending"] shows them)',
        { retryAfterSeconds: 30 },
      ),
    );
    expect(perCaller).toMatchObject({
      code: "ERR_LIMIT_REACHED",
      retryable: true,
      retryAfterSeconds: 30,
    });
    await engine.startRun("echo", [1], BOB);
    expect(await refusal(engine.startRun("echo", [1], { ...BOB, subject: "carol" }))).toEqual(
      new LimitReached(
        "This server already has 3 runs waiting to start, the most it accepts; try again in 30 s",
        { retryAfterSeconds: 30 },
      ),
    );
    expect((await engine.listRuns({ limit: 10, access: ALL })).runs).toHaveLength(4);
  });
});

describe("fair scheduling", () => {
  it("starts another caller's run before the rest of one caller's batch", async () => {
    await ws.cleanup();
    ws = workspace();
    // One root at a time.
    engine = await ws.open({ maxThreads: 2, maxSubtaskDepth: 1 });
    const first = await engine.startRun("sleep", [200], ADA);
    const batch = [
      await engine.startRun("sleep", [60_000], ADA),
      await engine.startRun("sleep", [60_000], ADA),
    ];
    const greet = await engine.startRun("echo", ["hi"], BOB);
    expect(greet.status).toBe("pending");
    expect((await finished(engine, first.id)).status).toBe("succeeded");
    // Had Ada's next run gone first, Bob's would still be waiting behind its minute of sleep.
    expect((await finished(engine, greet.id)).status).toBe("succeeded");
    const [second, third] = await Promise.all(batch.map((run) => engine.getRun(run.id, ALL)));
    expect([second?.status, third?.status]).toEqual(["running", "pending"]);
  });
});

describe("cancellation", () => {
  it("cancels a run and its whole subtree, terminating their work", async () => {
    const root = await engine.startRun("chain", [2, 600_000], ADA);
    const leaf = await waitForLeaf(engine, root.id, 2);
    const outcome = await engine.cancelRun(root.id, ALL);
    expect(outcome).toMatchObject({ alreadyFinished: false, run: { status: "canceled" } });
    const { runs } = await engine.listRuns({ task: "chain", limit: 10, access: ALL });
    expect(runs.map((run) => run.status)).toEqual(["canceled", "canceled", "canceled"]);
    expect(runs[0]?.id).toBe(leaf.id);
    await until(() => engine.stats().held === 0);
    const again = await engine.cancelRun(root.id, ALL);
    expect(again.alreadyFinished).toBe(true);
  });

  it("fails a parent's waiting ctx.run when its subtask is canceled on its own", async () => {
    const root = await engine.startRun("chain", [1, 600_000], ADA);
    const leaf = await waitForLeaf(engine, root.id, 1);
    await engine.cancelRun(leaf.id, ALL);
    const done = await finished(engine, root.id);
    expect(done).toMatchObject({
      status: "failed",
      error: `subtask ${leaf.id} (chain) was canceled`,
    });
  });
});

describe("logs", () => {
  it("keeps what a run logged, oldest first, in pages", async () => {
    const run = await finished(engine, (await engine.startRun("logs", [], ADA)).id);
    const first = await engine.getRunLogs(run.id, { limit: 3 }, own(ADA));
    expect(first.lines.map((line) => [line.level, line.message])).toEqual([
      ["info", "info from context"],
      ["warn", "warn from context"],
      ["info", "console.log line"],
    ]);
    const rest = await engine.getRunLogs(run.id, { limit: 3, cursor: first.nextCursor }, ALL);
    expect(rest.lines.map((line) => line.message)).toEqual(["console.error line"]);
    expect(rest.nextCursor).toBeUndefined();
    expect(
      await refusal(engine.getRunLogs(run.id, { limit: 3, startTime: "yesterday" }, ALL)),
    ).toEqual(
      new InvalidInput(
        'The start time "yesterday" is not an ISO 8601 time; use one like 2026-01-31T12:00:00Z',
      ),
    );
  });
});

describe("waiting", () => {
  it("answers the moment the run finishes, reporting each change on the way", async () => {
    const run = await engine.startRun("flaky", ["w", 1, 50], ADA);
    const seen: string[] = [];
    const done = await engine.waitForRun(run.id, {
      timeoutMs: 20_000,
      access: own(ADA),
      onChange: (changed) => seen.push(`${changed.status}:${changed.attempts.length}`),
    });
    expect(done.status).toBe("succeeded");
    expect(seen.at(-1)).toBe("succeeded:2");
    expect(seen).toContain("running:2");
  });
});

/** The deepest run of a chain once it is running (its parents are then all waiting on it). */
async function waitForLeaf(engine: LocalEngine, rootId: string, depth: number): Promise<TaskRun> {
  let leaf: TaskRun | undefined;
  await until(async () => {
    const { runs } = await engine.listRuns({ task: "chain", limit: 10, access: ALL });
    const tree = runs.filter((run) => run.rootTaskRunId === rootId);
    if (tree.length === depth + 1) leaf = tree[0] as TaskRun;
    return leaf !== undefined;
  });
  return reaches(engine, (leaf as TaskRun).id, (run) => run.status === "running");
}
