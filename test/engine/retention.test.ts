/** Retention on a real database file: which runs go, in what batches, and the space given back. */
import { statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type Database from "better-sqlite3";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/workflows/local/db/open.js";
import { Retention, type RetentionOptions } from "../../src/workflows/local/retention.js";
import { appendLogs } from "../../src/workflows/local/transitions/append-logs.js";
import { cancelRuns } from "../../src/workflows/local/transitions/cancel-runs.js";
import { deleteExpiredRuns } from "../../src/workflows/local/transitions/delete-expired-runs.js";
import { failAttempt } from "../../src/workflows/local/transitions/fail-attempt.js";
import { insertRun } from "../../src/workflows/local/transitions/insert-run.js";
import { startAttempt } from "../../src/workflows/local/transitions/start-attempt.js";
import { succeedAttempt } from "../../src/workflows/local/transitions/succeed-attempt.js";
import type { StartedBy } from "../../src/workflows/run.js";
import { ADA, BOB, silent, workspace } from "./helpers.js";

const DAY_MS = 86_400_000;
const T = "2026-01-01T00:00:00.000Z";

let ws: ReturnType<typeof workspace>;
let db: Database.Database;
beforeEach(() => {
  ws = workspace();
  db = openDatabase(ws.dbPath);
});
afterEach(async () => {
  db.close();
  await ws.cleanup();
});

/** A run as the engine records it (input `[id]`, or `input`), pending. */
function run(
  id: string,
  owner: StartedBy,
  tree?: { parentId: string; rootId: string },
  input?: unknown[],
) {
  insertRun(db, {
    id,
    task: "echo",
    input: input ?? [id],
    ...(tree ?? { rootId: id }),
    depth: tree ? 1 : 0,
    startedBy: owner,
  });
}

/** Its attempt ran and returned `[id]` (or `results`). */
function succeed(id: string, results: unknown[] = [id]) {
  startAttempt(db, id, 1);
  succeedAttempt(db, id, 1, JSON.stringify(results));
}

function log(runId: string, ...messages: string[]) {
  appendLogs(
    db,
    messages.map((message) => ({ runId, line: { timestamp: T, level: "info", message } })),
  );
}

const column = (sql: string) => db.prepare(sql).pluck().all();
const runIds = () => column("SELECT id FROM runs ORDER BY id");
const totals = () =>
  db.prepare("SELECT owner_subject AS subject, bytes FROM caller_storage ORDER BY subject").all();

/** Retention whose clock reads `at`, 30 days. */
const retention = (at: Date, options: Partial<RetentionOptions> = {}) =>
  new Retention({ db, logger: silent, days: 30, now: () => at, ...options });

const afterThirtyDays = (from: Date) => new Date(from.getTime() + 30 * DAY_MS);

describe("retention", () => {
  it("deletes exactly the finished trees whose root finished before the period, with their attempts and logs", async () => {
    // Byte counts: input ["<id>"] is the id's length + 4, and so are results ["<id>"].
    run("old1", ADA);
    run("old1.a", ADA, { parentId: "old1", rootId: "old1" });
    run("old1.b", ADA, { parentId: "old1", rootId: "old1" });
    run("old1.b.x", ADA, { parentId: "old1.b", rootId: "old1" });
    for (const id of ["old1.b.x", "old1.b", "old1.a", "old1"]) succeed(id); // 24 + 20 + 20 + 16
    log("old1", "one", "two"); // 6
    log("old1.b.x", "é"); // 2 (UTF-8)
    run("old2", BOB);
    startAttempt(db, "old2", 1);
    failAttempt(db, { runId: "old2", attempt: 1, error: "boom" }); // 8 + 4
    run("open", ADA);
    run("open.a", ADA, { parentId: "open", rootId: "open" });
    succeed("open"); // 16: finished, but its subtask is not
    startAttempt(db, "open.a", 1); // 10
    log("open", "kept"); // 4
    run("waiting", ADA); // 11
    // Clearly after the runs above finished, and before the next one does (times are in ms).
    await sleep(5);
    const cutoff = new Date();
    await sleep(5);
    run("new1", ADA);
    succeed("new1"); // 16
    expect(totals()).toEqual([
      { subject: "ada", bytes: 88 + 57 },
      { subject: "bob", bytes: 12 },
    ]);

    const pass = await retention(afterThirtyDays(cutoff)).pass();
    expect(pass).toEqual({
      runs: 5,
      logLines: 3,
      bytes: 100,
      more: false,
      fileBytesFreed: pass.fileBytesFreed,
    });
    expect(runIds()).toEqual(["new1", "open", "open.a", "waiting"]);
    expect(column("SELECT DISTINCT run_id FROM attempts ORDER BY run_id")).toEqual([
      "new1",
      "open",
      "open.a",
      "waiting",
    ]);
    expect(column("SELECT message FROM logs")).toEqual(["kept"]);
    // Bob has nothing left: his row goes too.
    expect(totals()).toEqual([{ subject: "ada", bytes: 57 }]);
  });

  it("runs short batches with the event loop free between them, and a bounded pass", async () => {
    for (const id of ["r1", "r2", "r3", "r4", "r5"]) {
      run(id, ADA);
      succeed(id);
    }
    const later = retention(afterThirtyDays(new Date(Date.now() + 1_000)), {
      batch: { runs: 2, logLines: 100, bytes: 1_000_000 },
      batchesPerPass: 2,
    });
    const first = later.pass();
    // One batch, then the pass yields: requests would be served here.
    expect(runIds()).toEqual(["r3", "r4", "r5"]);
    expect(await first).toMatchObject({ runs: 4, more: true });
    expect(runIds()).toEqual(["r5"]);
    expect(await later.pass()).toMatchObject({ runs: 1, more: false });
    expect(runIds()).toEqual([]);
    expect(totals()).toEqual([]);
  });

  it("takes a tree larger than a batch over several: logs first, subtasks, its root last", () => {
    run("root", ADA);
    for (const id of ["s1", "s2", "s3"]) {
      run(id, ADA, { parentId: "root", rootId: "root" });
      succeed(id);
    }
    succeed("root");
    log("root", "a", "b", "c");
    const cutoff = new Date(Date.now() + 1_000).toISOString();
    const batch = { runs: 2, logLines: 2, bytes: 1_000_000 };

    expect(deleteExpiredRuns(db, cutoff, batch)).toEqual({ runs: 2, logLines: 0, bytes: 24 });
    expect(runIds()).toEqual(["root", "s3"]);
    expect(deleteExpiredRuns(db, cutoff, batch)).toEqual({ runs: 0, logLines: 2, bytes: 2 });
    expect(runIds()).toEqual(["root", "s3"]);
    expect(deleteExpiredRuns(db, cutoff, batch)).toEqual({ runs: 2, logLines: 1, bytes: 29 });
    expect(runIds()).toEqual([]);
    expect(deleteExpiredRuns(db, cutoff, batch)).toEqual({ runs: 0, logLines: 0, bytes: 0 });
  });

  it("holds a batch to its bytes, and still deletes one run larger than that", () => {
    run("big", ADA, undefined, ["x".repeat(1_000)]);
    succeed("big", ["y"]);
    run("small", ADA);
    succeed("small");
    const cutoff = new Date(Date.now() + 1_000).toISOString();
    const batch = { runs: 10, logLines: 10, bytes: 100 };
    expect(deleteExpiredRuns(db, cutoff, batch)).toEqual({ runs: 1, logLines: 0, bytes: 1_009 });
    expect(deleteExpiredRuns(db, cutoff, batch)).toEqual({ runs: 1, logLines: 0, bytes: 18 });
  });

  it("logs one line per pass that deleted something, and none for a pass that did not", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: "info" },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    run("r1", ADA);
    succeed("r1");
    log("r1", "hello");
    run("r2", BOB);
    succeed("r2");
    const later = retention(afterThirtyDays(new Date(Date.now() + 1_000)), { logger });
    const pass = await later.pass();
    await later.pass();
    expect(
      lines.map(({ level, msg, runs, logLines, bytes, fileBytesFreed }) => ({
        level,
        msg,
        runs,
        logLines,
        bytes,
        fileBytesFreed,
      })),
    ).toEqual([
      {
        level: 30,
        msg: "deleted runs past their retention",
        runs: 2,
        logLines: 1,
        bytes: 29,
        fileBytesFreed: pass.fileBytesFreed,
      },
    ]);
  });

  it("gives the space back: the file shrinks by at least what was deleted", async () => {
    const MB = 1024 * 1024;
    for (let i = 0; i < 8; i++) {
      run(`big${i}`, ADA, undefined, ["x".repeat(MB)]);
      succeed(`big${i}`, ["y".repeat(MB)]);
    }
    const onDisk = () => statSync(ws.dbPath).size + statSync(`${ws.dbPath}-wal`).size;
    const before = onDisk();
    const pass = await retention(afterThirtyDays(new Date(Date.now() + 1_000))).pass();
    expect(pass).toMatchObject({ runs: 8, bytes: 8 * 2 * (MB + 4) });
    expect(before).toBeGreaterThan(pass.bytes);
    expect(onDisk()).toBeLessThanOrEqual(before - pass.bytes);
    expect(pass.fileBytesFreed).toBeGreaterThanOrEqual(pass.bytes);
    expect(db.pragma("freelist_count", { simple: true })).toBe(0);
    expect(statSync(`${ws.dbPath}-wal`).size).toBe(0);
  });

  it("keeps everything when the period is 0", async () => {
    run("r1", ADA);
    succeed("r1");
    const forever = retention(new Date(Date.now() + 365_000 * DAY_MS), { days: 0 });
    expect(await forever.pass()).toEqual({
      runs: 0,
      logLines: 0,
      bytes: 0,
      more: false,
      fileBytesFreed: 0,
    });
    expect(runIds()).toEqual(["r1"]);
  });
});

describe("what each caller stores", () => {
  it("counts a run's input, its results or error, and a reason the engine cancels it with", () => {
    run("a", ADA, undefined, ["héllo"]); // 10 bytes: é is two
    run("b", ADA);
    run("c", BOB);
    expect(totals()).toEqual([
      { subject: "ada", bytes: 15 },
      { subject: "bob", bytes: 5 },
    ]);
    succeed("a", ["wörld"]); // 10
    cancelRuns(db, ["b"], "because"); // 7
    cancelRuns(db, ["c"]); // no reason: nothing stored
    expect(totals()).toEqual([
      { subject: "ada", bytes: 32 },
      { subject: "bob", bytes: 5 },
    ]);
    expect(db.prepare("SELECT id, input_bytes, result_bytes FROM runs ORDER BY id").all()).toEqual([
      { id: "a", input_bytes: 10, result_bytes: 10 },
      { id: "b", input_bytes: 5, result_bytes: 7 },
      { id: "c", input_bytes: 5, result_bytes: 0 },
    ]);
  });
});
