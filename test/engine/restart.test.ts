/** Stops and starts on the same database: graceful stops, interruptions, reruns, recovery. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/workflows/local/db/open.js";
import type { LocalEngine } from "../../src/workflows/local/index.js";
import { insertRun } from "../../src/workflows/local/transitions/insert-run.js";
import { startAttempt } from "../../src/workflows/local/transitions/start-attempt.js";
import { ADA, ALL, BOB, finished, reaches, until, workspace } from "./helpers.js";

let ws: ReturnType<typeof workspace>;
beforeEach(() => {
  ws = workspace();
});
afterEach(() => ws.cleanup());

const INTERRUPTED_RERUN =
  "interrupted: the server stopped while this attempt was running; it runs again, not counted as a retry (a run interrupted 3 times fails)";
const SERVER_STOPPED =
  "canceled: the server stopped while this subtask's parent was running; the root run runs again and starts its subtasks anew";

const running = (engine: LocalEngine, id: string) =>
  reaches(
    engine,
    id,
    (run) => run.status === "running" && run.attempts.at(-1)?.status === "running",
  );

describe("a graceful stop", () => {
  it("lets a running attempt finish within the grace period", async () => {
    const engine = await ws.open();
    const run = await engine.startRun("sleep", [300], ADA);
    await running(engine, run.id);
    await ws.close(engine, 20_000);
    const after = await (await ws.open()).getRun(run.id, ALL);
    expect(after).toMatchObject({ status: "succeeded", results: [300], retries: 0 });
    expect(after.attempts.map((a) => a.status)).toEqual(["succeeded"]);
  });

  it("still starts the subtasks running parents wait on", async () => {
    const engine = await ws.open({ maxThreads: 3, maxSubtaskDepth: 1 });
    const run = await engine.startRun("fanOut", [6], ADA);
    await running(engine, run.id);
    await ws.close(engine, 20_000);
    const after = await (await ws.open()).getRun(run.id, ALL);
    expect(after).toMatchObject({ status: "succeeded", results: [[0, 1, 2, 3, 4, 5]] });
  });

  it("starts no new root run, and keeps the ones accepted meanwhile for the next start", async () => {
    const engine = await ws.open();
    const first = await engine.startRun("sleep", [300], ADA);
    await running(engine, first.id);
    const closing = engine.close({ graceMs: 20_000 });
    const accepted = await engine.startRun("echo", ["later"], ADA);
    expect(accepted.status).toBe("pending");
    await closing;
    const reopened = await ws.open();
    expect(await finished(reopened, accepted.id)).toMatchObject({
      status: "succeeded",
      results: ["later"],
    });
  });
});

describe("an interrupted attempt", () => {
  it("runs again after the restart, not spending the retry budget", async () => {
    const engine = await ws.open();
    const run = await engine.startRun("flaky", ["k", 0, 1_000], ADA);
    await running(engine, run.id);
    await ws.close(engine, 50);
    const reopened = await ws.open();
    const done = await finished(reopened, run.id);
    expect(done).toMatchObject({
      status: "succeeded",
      retries: 0,
      results: ["k: succeeded on attempt 2"],
    });
    expect(done.attempts.map((a) => [a.attempt, a.status, a.error])).toEqual([
      [1, "failed", INTERRUPTED_RERUN],
      [2, "succeeded", undefined],
    ]);
  });

  it("runs again even for a task without retries", async () => {
    const engine = await ws.open();
    const run = await engine.startRun("sleep", [400], ADA);
    await running(engine, run.id);
    await ws.close(engine, 0);
    const done = await finished(await ws.open(), run.id);
    expect(done).toMatchObject({ status: "succeeded", retries: 0, results: [400] });
    expect(done.attempts).toHaveLength(2);
  });

  it("cancels its subtasks, and the rerun starts them anew", async () => {
    const engine = await ws.open();
    const root = await engine.startRun("chain", [1, 300], ADA);
    let first: string | undefined;
    await until(async () => {
      const { runs } = await engine.listRuns({ task: "chain", limit: 10, access: ALL });
      first = runs.find((run) => run.parentTaskRunId === root.id && run.status === "running")?.id;
      return first !== undefined;
    });
    await ws.close(engine, 0);
    const reopened = await ws.open();
    const done = await finished(reopened, root.id);
    expect(done).toMatchObject({ status: "succeeded", results: [1], retries: 0 });
    const { runs } = await reopened.listRuns({ task: "chain", limit: 10, access: ALL });
    const subtasks = runs.filter((run) => run.parentTaskRunId === root.id);
    expect(subtasks.map((run) => [run.id === first, run.status, run.error])).toEqual([
      [false, "succeeded", undefined],
      [true, "canceled", SERVER_STOPPED],
    ]);
  });

  it("fails the run at its third interruption, saying why", async () => {
    let engine = await ws.open();
    const run = await engine.startRun("sleep", [600_000], ADA);
    for (let stop = 1; stop <= 3; stop++) {
      await running(engine, run.id);
      await ws.close(engine, 0);
      engine = await ws.open();
    }
    const after = await engine.getRun(run.id, ALL);
    const third =
      "interrupted: the server stopped while this attempt was running, for the 3rd time; a run interrupted 3 times fails";
    expect(after).toMatchObject({ status: "failed", error: third, retries: 0 });
    expect(after.attempts.map((a) => a.error)).toEqual([
      INTERRUPTED_RERUN,
      INTERRUPTED_RERUN,
      third,
    ]);
    expect(engine.stats().held).toBe(0);
  });

  it("after a crash (a run left running in the file) runs again too", async () => {
    const db = openDatabase(ws.dbPath);
    insertRun(db, {
      id: "trn-crashed",
      task: "echo",
      input: ["again"],
      rootId: "trn-crashed",
      depth: 0,
      startedBy: ADA,
    });
    startAttempt(db, "trn-crashed", 1);
    insertRun(db, {
      id: "trn-orphan",
      task: "echo",
      input: [1],
      parentId: "trn-crashed",
      rootId: "trn-crashed",
      depth: 1,
      startedBy: ADA,
    });
    startAttempt(db, "trn-orphan", 1);
    db.close();
    const engine = await ws.open();
    expect(await finished(engine, "trn-crashed")).toMatchObject({
      status: "succeeded",
      results: ["again"],
      retries: 0,
    });
    expect(await engine.getRun("trn-orphan", ALL)).toMatchObject({
      status: "canceled",
      error: SERVER_STOPPED,
    });
  });
});

describe("runs waiting at a restart", () => {
  it("are queued again fairly between callers", async () => {
    // One root at a time, then two after the restart.
    let engine = await ws.open({ maxThreads: 2, maxSubtaskDepth: 1 });
    const ada = [];
    for (let i = 0; i < 4; i++) ada.push(await engine.startRun("sleep", [600_000], ADA));
    const bob = await engine.startRun("echo", ["bob"], BOB);
    await ws.close(engine, 0);
    engine = await ws.open({ maxThreads: 3, maxSubtaskDepth: 1 });
    expect(await finished(engine, bob.id)).toMatchObject({ status: "succeeded" });
    const statuses = await Promise.all(
      ada.map(async (run) => (await engine.getRun(run.id, ALL)).status),
    );
    // Ada's interrupted run and Bob's took the two root slots (not Ada's first two); when Bob's
    // ended, Ada's second did not take it: one caller holds at most one of two root slots.
    expect(statuses).toEqual(["running", "pending", "pending", "pending"]);
  });

  it("keep a retry's backoff across the restart", async () => {
    const db = openDatabase(ws.dbPath);
    insertRun(db, {
      id: "trn-later",
      task: "echo",
      input: [1],
      rootId: "trn-later",
      depth: 0,
      startedBy: ADA,
    });
    db.prepare("UPDATE attempts SET available_at = ? WHERE run_id = ?").run(
      new Date(Date.now() + 600_000).toISOString(),
      "trn-later",
    );
    insertRun(db, {
      id: "trn-now",
      task: "echo",
      input: [2],
      rootId: "trn-now",
      depth: 0,
      startedBy: ADA,
    });
    db.close();
    const engine = await ws.open();
    expect(await finished(engine, "trn-now")).toMatchObject({ status: "succeeded" });
    expect(await engine.getRun("trn-later", ALL)).toMatchObject({ status: "pending" });
    expect(engine.stats().queued).toBe(0);
  });
});
