/** What each caller stores, the quota on it, and retention run by the engine itself. */
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LimitReached, RunNotFound } from "../../src/workflows/errors.js";
import type { LocalEngine } from "../../src/workflows/local/index.js";
import type { StartedBy } from "../../src/workflows/run.js";
import { ADA, ALL, BOB, finished, own, refusal, until, workspace } from "./helpers.js";

const DAY_MS = 86_400_000;
const CAROL: StartedBy = { issuer: "https://issuer.test", subject: "carol", at: ADA.at };
const DAVE: StartedBy = { issuer: "https://issuer.test", subject: "dave", at: ADA.at };

let ws: ReturnType<typeof workspace>;
beforeEach(() => {
  ws = workspace();
});
afterEach(() => ws.cleanup());

/** Each caller's stored bytes, read from the file as another connection would. */
function totals(): { subject: string; bytes: number }[] {
  const db = new Database(ws.dbPath, { readonly: true });
  try {
    return db
      .prepare("SELECT owner_subject AS subject, bytes FROM caller_storage ORDER BY subject")
      .all() as { subject: string; bytes: number }[];
  } finally {
    db.close();
  }
}

const run = async (engine: LocalEngine, task: string, input: unknown[], owner: StartedBy) =>
  finished(engine, (await engine.startRun(task, input, owner)).id);

describe("what each caller stores", () => {
  it("is exact after starts, results, errors and logs, and after retention deletes runs", async () => {
    let engine = await ws.open();
    // Input and results as stored JSON, in UTF-8: ["héllo"] is 10 bytes.
    const hello = await run(engine, "echo", ["héllo"], ADA); // 10 + 10
    await run(engine, "chatty", [3, 10], ADA); // [3,10] 6, [3] 3, three 10-byte lines
    expect(await run(engine, "fail", ["boom"], ADA)).toMatchObject({
      status: "failed",
      error: "boom",
    }); // ["boom"] 8, error 4
    await run(engine, "fanOut", [2], BOB); // [2] 3, [[0,1]] 7; two echo subtasks of 3 + 3
    expect(totals()).toEqual([
      { subject: "ada", bytes: 71 },
      { subject: "bob", bytes: 22 },
    ]);
    const db = new Database(ws.dbPath, { readonly: true });
    expect(
      db.prepare("SELECT input_bytes, result_bytes FROM runs WHERE id = ?").get(hello.id),
    ).toEqual({ input_bytes: 10, result_bytes: 10 });
    db.close();

    // 30 days on: the start's pass deletes every run finished before; a run finished since stays.
    await ws.close(engine);
    await sleep(5);
    const cutoff = Date.now();
    await sleep(5);
    engine = await ws.open(undefined, { now: () => new Date(cutoff + 30 * DAY_MS) });
    const kept = await run(engine, "echo", [1], ADA); // 3 + 3
    await until(async () => (await engine.listRuns({ limit: 10, access: ALL })).runs.length === 1);
    await expect(engine.getRun(hello.id, ALL)).rejects.toBeInstanceOf(RunNotFound);
    expect((await engine.listRuns({ limit: 10, access: ALL })).runs.map((r) => r.id)).toEqual([
      kept.id,
    ]);
    expect(totals()).toEqual([{ subject: "ada", bytes: 6 }]);
  });

  it("is freed by retention on its interval while the engine runs", async () => {
    // 0.00002 days is 1.7 s; retention looks every second.
    const engine = await ws.open({ runRetentionDays: 0.00002 });
    const done = await run(engine, "echo", ["soon gone"], ADA);
    await until(
      () =>
        engine.getRun(done.id, ALL).then(
          () => false,
          (error) => error instanceof RunNotFound,
        ),
      10_000,
    );
    expect(totals()).toEqual([]);
  });
});

describe("the storage quota", () => {
  const NOW = Date.now() + DAY_MS;
  const open = () => ws.open({ maxStoredMbPerCaller: 1 }, { now: () => new Date(NOW) });
  const LARGE = "x".repeat(400_000); // ["x…"] is 400,004 bytes, and so are its results

  it("refuses the start that would take a caller past it, saying how much, and when it frees", async () => {
    const engine = await open();
    const first = await run(engine, "echo", [LARGE], ADA);
    // Deleted 30 days after it finished, at the latest by the pass an hour after that.
    const retryAfterSeconds =
      Math.ceil((Date.parse(first.completedAt as string) + 30 * DAY_MS - NOW) / 1000) + 3_600;
    expect(await refusal(engine.startRun("echo", [LARGE], ADA))).toEqual(
      new LimitReached(
        "You store 0.76 MB here (the input, results, errors and logs of your runs), and this run's input (0.38 MB) would take you past 1 MB, the most one caller may store; finished runs are deleted 30 days after they finish, which frees space: your oldest goes within 29 days",
        { retryAfterSeconds },
      ),
    );
    expect((await engine.listRuns({ limit: 10, access: own(ADA) })).runs).toHaveLength(1);
    // What still fits is accepted; another caller is not affected at all.
    expect(await run(engine, "echo", [1], ADA)).toMatchObject({ status: "succeeded" });
    expect(await run(engine, "echo", [LARGE], BOB)).toMatchObject({ status: "succeeded" });
    expect(totals()).toEqual([
      { subject: "ada", bytes: 800_014 },
      { subject: "bob", bytes: 800_008 },
    ]);
  });

  it("says when none of the caller's runs has finished yet, with no time to retry", async () => {
    const engine = await open();
    // A chain 0 deep sleeps, logging nothing: [0,60000,"y…"] is 700,012 bytes.
    const waiting = await engine.startRun("chain", [0, 60_000, "y".repeat(700_000)], CAROL);
    expect(await refusal(engine.startRun("echo", [LARGE], CAROL))).toEqual(
      new LimitReached(
        "You store 0.67 MB here (the input, results, errors and logs of your runs), and this run's input (0.38 MB) would take you past 1 MB, the most one caller may store; finished runs are deleted 30 days after they finish, which frees space (none of yours has finished yet)",
      ),
    );
    await engine.cancelRun(waiting.id, ALL);
  });

  it("fails a subtask's ctx.run that would take its root's owner past it", async () => {
    const engine = await open();
    // 2 × 524,286 = 1,048,572 bytes: 4 short of 1 MB. The root's [2] fits; a subtask's [0] does not.
    await run(engine, "echo", ["x".repeat(524_282)], DAVE);
    const root = await run(engine, "fanOut", [2], DAVE);
    expect(root).toMatchObject({
      status: "failed",
      error: `You store 1.00 MB here (the input, results, errors and logs of your runs), and this run's input (3 bytes) would take you past 1 MB, the most one caller may store; finished runs are deleted 30 days after they finish, which frees space: your oldest goes within 29 days`,
    });
    const echoes = await engine.listRuns({ task: "echo", limit: 10, access: own(DAVE) });
    expect(echoes.runs).toHaveLength(1);
  });
});
