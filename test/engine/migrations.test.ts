/** The engine's schema: versioned steps, and an upgrade from a database the previous version wrote. */
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSqliteStore } from "../../src/store/sqlite.js";
import { RunNotFound } from "../../src/workflows/errors.js";
import { MIGRATIONS, migrateEngine } from "../../src/workflows/local/db/migrations.js";
import { createLocalBackend } from "../../src/workflows/local/index.js";
import { ADA, ALL, BOB, FIXTURE_TASKS, finished, own, silent, workspace } from "./helpers.js";

/** The schema the engine created before migrations existed (its store.ts, verbatim). */
const PREVIOUS_SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  task TEXT NOT NULL,
  status TEXT NOT NULL,
  input TEXT NOT NULL,
  results TEXT,
  error TEXT,
  parent_id TEXT,
  root_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  started_at TEXT,
  completed_at TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_task ON runs (task, seq);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, seq);
CREATE INDEX IF NOT EXISTS runs_by_parent ON runs (parent_id);
CREATE TABLE IF NOT EXISTS attempts (
  run_id TEXT NOT NULL REFERENCES runs (id),
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  enqueued_at TEXT NOT NULL,
  started_at TEXT,
  completed_at TEXT,
  error TEXT,
  results TEXT,
  PRIMARY KEY (run_id, attempt)
);
CREATE TABLE IF NOT EXISTS logs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL REFERENCES runs (id),
  timestamp TEXT NOT NULL,
  level TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_run ON logs (run_id, seq);
`;

const T = "2026-01-01T00:00:00.000Z";

/**
 * The engine's own runner before the store's and the engine's schemas shared
 * one (verbatim, but for reading each step's SQL): by MAX(version), each step
 * in its own transaction, no lock.
 */
function previousEngineRunner(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS engine_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`);
  const applied = db.prepare("SELECT MAX(version) AS version FROM engine_migrations").get() as {
    version: number | null;
  };
  const current = applied.version ?? 0;
  for (const migration of MIGRATIONS) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql.sqlite);
      db.prepare("INSERT INTO engine_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
        migration.version,
        migration.name,
        T,
      );
    })();
  }
}

let ws: ReturnType<typeof workspace>;
beforeEach(() => {
  ws = workspace();
});
afterEach(() => ws.cleanup());

/** A database as the previous version left it: a finished tree, a run mid-attempt, a run waiting. */
function writePreviousDatabase(path: string) {
  const db = new Database(path);
  db.exec(PREVIOUS_SCHEMA);
  const run = db.prepare(
    "INSERT INTO runs (id, task, status, input, results, error, parent_id, root_id, created_at, started_at, completed_at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)",
  );
  const attempt = db.prepare(
    "INSERT INTO attempts (run_id, attempt, status, enqueued_at, started_at, completed_at, results) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  run.run("trn-old-root", "fanOut", "succeeded", "[1]", "[[0]]", null, "trn-old-root", T, T, T);
  attempt.run("trn-old-root", 1, "failed", T, T, T, null);
  attempt.run("trn-old-root", 2, "succeeded", T, T, T, "[[0]]");
  run.run(
    "trn-old-child",
    "echo",
    "succeeded",
    "[0]",
    "[0]",
    "trn-old-root",
    "trn-old-root",
    T,
    T,
    T,
  );
  attempt.run("trn-old-child", 1, "succeeded", T, T, T, "[0]");
  run.run(
    "trn-old-running",
    "echo",
    "running",
    '["resumed"]',
    null,
    null,
    "trn-old-running",
    T,
    T,
    null,
  );
  attempt.run("trn-old-running", 1, "running", T, T, null, null);
  run.run(
    "trn-old-pending",
    "echo",
    "pending",
    '["waited"]',
    null,
    null,
    "trn-old-pending",
    T,
    null,
    null,
  );
  attempt.run("trn-old-pending", 1, "pending", T, null, null, null);
  db.prepare("INSERT INTO logs (run_id, timestamp, level, message) VALUES (?, ?, ?, ?)").run(
    "trn-old-child",
    T,
    "info",
    "an old line",
  );
  db.close();
}

describe("migrations", () => {
  it("are numbered in order from 1", () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });

  it("upgrade a database the previous version wrote, keeping its runs", async () => {
    writePreviousDatabase(ws.dbPath);
    // Its runs finished long ago: kept here, where retention is not the subject.
    const engine = await ws.open({ runRetentionDays: 0 });

    const old = await engine.getRun("trn-old-root", ALL);
    expect(old).toMatchObject({ status: "succeeded", results: [[0]], retries: 1 });
    expect(old).not.toHaveProperty("startedBy");
    expect(old.attempts.map((a) => a.status)).toEqual(["failed", "succeeded"]);
    // Unowned: only callers who see every run see it.
    await expect(engine.getRun("trn-old-root", own(ADA))).rejects.toBeInstanceOf(RunNotFound);
    const logs = await engine.getRunLogs("trn-old-child", { limit: 10 }, ALL);
    expect(logs.lines.map((line) => line.message)).toEqual(["an old line"]);

    // The interrupted run runs again; the waiting one starts.
    expect(await finished(engine, "trn-old-running")).toMatchObject({
      status: "succeeded",
      results: ["resumed"],
      retries: 0,
    });
    expect(await finished(engine, "trn-old-pending")).toMatchObject({
      status: "succeeded",
      results: ["waited"],
    });
    await ws.close(engine);

    const db = new Database(ws.dbPath, { readonly: true });
    try {
      expect(
        db.prepare("SELECT version, name FROM engine_migrations ORDER BY version").all(),
      ).toEqual(MIGRATIONS.map(({ version, name }) => ({ version, name })));
      expect(
        db.prepare("SELECT id, depth FROM runs WHERE id LIKE 'trn-old-%' ORDER BY id").all(),
      ).toEqual([
        { id: "trn-old-child", depth: 1 },
        { id: "trn-old-pending", depth: 0 },
        { id: "trn-old-root", depth: 0 },
        { id: "trn-old-running", depth: 0 },
      ]);
      const columns = (db.prepare("PRAGMA table_info(attempts)").all() as { name: string }[]).map(
        (c) => c.name,
      );
      expect(columns).not.toContain("results");
      expect(columns).toEqual(expect.arrayContaining(["reason", "available_at"]));
    } finally {
      db.close();
    }
  });

  it("from the previous schema: fill in run sizes and callers' totals, and turn on incremental vacuum", async () => {
    const db = new Database(ws.dbPath);
    migrateEngine(db, ws.dbPath, MIGRATIONS.slice(0, 4));
    const run = db.prepare(
      "INSERT INTO runs (id, task, status, input, results, error, root_id, created_at, completed_at, owner_issuer, owner_subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    const attempt = db.prepare(
      "INSERT INTO attempts (run_id, attempt, status, enqueued_at) VALUES (?, 1, ?, ?)",
    );
    const log = db.prepare(
      "INSERT INTO logs (run_id, timestamp, level, message) VALUES (?, ?, 'info', ?)",
    );
    for (const [id, task, status, input, results, error, owner] of [
      ["trn-v4-done", "echo", "succeeded", '["héllo"]', '["héllo"]', null, ADA],
      ["trn-v4-failed", "fail", "failed", '["boom"]', null, "boom", ADA],
      ["trn-v4-bob", "echo", "succeeded", "[1]", "[1]", null, BOB],
      ["trn-v4-unowned", "echo", "succeeded", "[2]", "[2]", null, undefined],
    ] as const) {
      run.run(id, task, status, input, results, error, id, T, T, owner?.issuer, owner?.subject);
      attempt.run(id, status, T);
    }
    log.run("trn-v4-done", T, "wörld");
    log.run("trn-v4-unowned", T, "nobody's");
    expect(db.pragma("auto_vacuum", { simple: true })).toBe(0);
    db.close();

    const engine = await ws.open({ runRetentionDays: 0 });
    expect(await engine.getRun("trn-v4-done", own(ADA))).toMatchObject({ results: ["héllo"] });
    await ws.close(engine);

    const migrated = new Database(ws.dbPath, { readonly: true });
    try {
      expect(migrated.pragma("auto_vacuum", { simple: true })).toBe(2);
      expect(
        migrated.prepare("SELECT id, input_bytes, result_bytes FROM runs ORDER BY id").all(),
      ).toEqual([
        { id: "trn-v4-bob", input_bytes: 3, result_bytes: 3 },
        { id: "trn-v4-done", input_bytes: 10, result_bytes: 10 },
        { id: "trn-v4-failed", input_bytes: 8, result_bytes: 4 },
        { id: "trn-v4-unowned", input_bytes: 3, result_bytes: 3 },
      ]);
      // Ada: 10 + 10 + a 6-byte line, 8 + 4. Unowned runs count for no one.
      expect(
        migrated
          .prepare("SELECT owner_subject AS subject, bytes FROM caller_storage ORDER BY subject")
          .all(),
      ).toEqual([
        { subject: "ada", bytes: 38 },
        { subject: "bob", bytes: 6 },
      ]);
    } finally {
      migrated.close();
    }
  });

  it("version 6: a run keeps the trace id of its start, its subtask runs carry it; runs from before have none", async () => {
    const db = new Database(ws.dbPath);
    migrateEngine(db, ws.dbPath, MIGRATIONS.slice(0, 5));
    db.prepare(
      "INSERT INTO runs (id, task, status, input, root_id, created_at, owner_issuer, owner_subject, started_by_at) VALUES ('trn-v5', 'echo', 'succeeded', '[1]', 'trn-v5', ?, ?, ?, ?)",
    ).run(T, ADA.issuer, ADA.subject, T);
    db.prepare(
      "INSERT INTO attempts (run_id, attempt, status, enqueued_at) VALUES ('trn-v5', 1, 'succeeded', ?)",
    ).run(T);
    db.close();

    const engine = await ws.open();
    expect((await engine.getRun("trn-v5", ALL)).startedBy).toEqual({
      issuer: ADA.issuer,
      subject: ADA.subject,
      at: T,
    });
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const root = await finished(
      engine,
      (await engine.startRun("fanOut", [2], { ...ADA, traceId })).id,
    );
    expect(root.startedBy).toEqual({ ...ADA, traceId });
    const children = await engine.listRuns({ task: "echo", limit: 10, access: ALL });
    expect(
      children.runs.filter((run) => run.parentTaskRunId === root.id).map((run) => run.startedBy),
    ).toEqual([
      { ...ADA, traceId },
      { ...ADA, traceId },
    ]);
    await ws.close(engine);
  });

  it("upgrade a file the previous runner and the store wrote: nothing applied twice, a new version alone", async () => {
    // As a server of the previous version leaves LOCAL_DB_PATH: the store's tables, then the engine's.
    const store = await openSqliteStore({ path: ws.dbPath, logger: silent });
    await store.recordRun({ runId: "trn-recorded", task: "echo", startedBy: ADA });
    await store.close();
    const previous = new Database(ws.dbPath);
    previousEngineRunner(previous);
    previous.close();
    const before = new Database(ws.dbPath, { readonly: true });
    const tables = ["engine_migrations", "store_migrations"].map((table) =>
      before.prepare(`SELECT version, name, applied_at FROM ${table} ORDER BY version`).all(),
    );
    before.close();

    const engine = await ws.open();
    const run = await finished(engine, (await engine.startRun("echo", ["upgraded"], ADA)).id);
    expect(run).toMatchObject({ status: "succeeded", results: ["upgraded"] });
    await ws.close(engine);
    const reopened = await openSqliteStore({ path: ws.dbPath, logger: silent });
    expect(await reopened.ownedRun("trn-recorded")).toEqual({
      runId: "trn-recorded",
      task: "echo",
      startedBy: ADA,
    });
    await reopened.close();

    const db = new Database(ws.dbPath);
    try {
      // The records the previous runners wrote, untouched: no version was applied again.
      expect(
        ["engine_migrations", "store_migrations"].map((table) =>
          db.prepare(`SELECT version, name, applied_at FROM ${table} ORDER BY version`).all(),
        ),
      ).toEqual(tables);
      expect(tables[0]).toEqual(
        MIGRATIONS.map(({ version, name }) => ({ version, name, applied_at: T })),
      );
      const next = {
        version: MIGRATIONS.length + 1,
        name: "next",
        sql: { sqlite: "CREATE TABLE engine_next (id INTEGER)" },
      };
      expect(migrateEngine(db, ws.dbPath, [...MIGRATIONS, next])).toEqual([next.version]);
      expect(migrateEngine(db, ws.dbPath, [...MIGRATIONS, next])).toEqual([]);
      expect(db.prepare("SELECT COUNT(*) AS n FROM engine_next").get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
  });

  it("apply once: a second start changes nothing", async () => {
    await ws.close(await ws.open());
    await ws.close(await ws.open());
    const db = new Database(ws.dbPath, { readonly: true });
    try {
      expect(db.prepare("SELECT COUNT(*) AS n FROM engine_migrations").get()).toEqual({
        n: MIGRATIONS.length,
      });
    } finally {
      db.close();
    }
  });

  it("refuse a database a newer version wrote", async () => {
    await ws.close(await ws.open());
    const db = new Database(ws.dbPath);
    db.prepare(
      "INSERT INTO engine_migrations (version, name, applied_at) VALUES (99, 'future', ?)",
    ).run(T);
    db.close();
    await expect(
      createLocalBackend({ dbPath: ws.dbPath, tasksModule: FIXTURE_TASKS, logger: silent }),
    ).rejects.toThrow(
      `LOCAL_DB_PATH: ${ws.dbPath} has engine schema version 99, newer than this server knows (${MIGRATIONS.length}); run a server at least as new as the one that migrated it`,
    );
  });
});
