import { once } from "node:events";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.js";
import { createStore } from "../../src/store/index.js";
import { MIGRATIONS } from "../../src/store/migrations/index.js";
import { openSqliteStore } from "../../src/store/sqlite.js";
import { storeContract } from "./contract.js";

const logger = createLogger("silent");
let dir: string;
let count = 0;

beforeAll(() => {
  // Inside the repository (test-results/ is ignored by git), removed afterwards.
  const results = fileURLToPath(new URL("../../test-results/", import.meta.url));
  mkdirSync(results, { recursive: true });
  dir = mkdtempSync(join(results, "store-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const newFile = () => join(dir, `store-${++count}.sqlite`);

describe("SQLite store", () => {
  storeContract(async () => {
    const path = newFile();
    let raw: Database.Database | undefined;
    return {
      open: ({ migrations } = {}) => openSqliteStore({ path, logger, migrations }),
      async sql<T>(text: string) {
        raw ??= new Database(path);
        const statement = raw.prepare(text);
        if (statement.reader) return statement.all() as T[];
        statement.run();
        return [];
      },
      variable: "LOCAL_DB_PATH",
      description: path,
      async close() {
        raw?.close();
      },
    };
  });

  it("is what createStore opens without DATABASE_URL, beside the engine's own tables", async () => {
    const path = newFile();
    // The embedded engine's tables (and its own migrations table) share the file.
    const engine = new Database(path);
    engine.exec(
      "CREATE TABLE runs (id TEXT PRIMARY KEY); CREATE TABLE schema_migrations (v INTEGER)",
    );
    engine.close();

    const store = await createStore({ sqlitePath: path, logger });
    expect(store.kind).toBe("sqlite");
    expect(store.describe()).toBe(`SQLite ${path}`);
    await store.close();

    const tables = new Database(path, { readonly: true });
    const names = tables
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .pluck()
      .all();
    expect(tables.pragma("journal_mode", { simple: true })).toBe("wal");
    tables.close();
    expect(names).toEqual([
      "approval_requests",
      "audit_events",
      "owned_runs",
      "runs",
      "schema_migrations",
      "sqlite_sequence",
      "store_migrations",
    ]);
  });

  it("names LOCAL_DB_PATH when the file cannot be opened", async () => {
    const missingDir = join(dir, "no-such-dir", "x.sqlite");
    await expect(createStore({ sqlitePath: missingDir, logger })).rejects.toMatchObject({
      code: "ERR_STORE_UNREACHABLE",
      message: `LOCAL_DB_PATH: cannot open ${missingDir} (Cannot open database because the directory does not exist)`,
    });

    const notADatabase = join(dir, "not-a-database.sqlite");
    writeFileSync(notADatabase, "x".repeat(4096));
    await expect(createStore({ sqlitePath: notADatabase, logger })).rejects.toMatchObject({
      code: "ERR_STORE_UNREACHABLE",
      message: `LOCAL_DB_PATH: cannot open ${notADatabase} (file is not a database)`,
    });

    const aDirectory = join(dir, "a-directory");
    mkdirSync(aDirectory);
    await expect(createStore({ sqlitePath: aDirectory, logger })).rejects.toMatchObject({
      code: "ERR_STORE_UNREACHABLE",
      message: expect.stringMatching(/^LOCAL_DB_PATH: cannot open .*a-directory \(.+\)$/),
    });
  });

  /**
   * Two instances migrating one file at once, for real: another thread (a
   * second connection, as a second process would hold) takes the write lock
   * and, inside it, lays down the schema exactly as a store migrating it would
   * (copied from a store-migrated reference file), then holds the lock a
   * moment before committing. The store opened meanwhile must wait for that
   * lock, then find every version applied and apply none: applying one again
   * would fail (its tables exist). If the machine were so slow that the store
   * started only after the commit, the test would still pass, proving less.
   */
  it("waits for another connection's migration and then applies nothing", async () => {
    const reference = newFile();
    await (await openSqliteStore({ path: reference, logger })).close();
    const target = newFile();

    const holder = new Worker(HOLD_MIGRATION_LOCK, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve("better-sqlite3"),
        target,
        reference,
        holdMs: 500,
      },
    });
    const exited = once(holder, "exit");
    const [message] = await once(holder, "message");
    expect(message).toBe("holding the write lock");

    const store = await openSqliteStore({ path: target, logger });
    await exited;
    const raw = new Database(target, { readonly: true });
    const versions = raw.prepare("SELECT version FROM store_migrations").pluck().all();
    raw.close();
    expect(versions).toEqual(MIGRATIONS.map((m) => m.version));
    await store.recordRun({
      runId: "trn-1",
      task: "square",
      startedBy: { issuer: "https://i", subject: "s", at: "2026-01-01T00:00:00.000Z" },
    });
    expect((await store.ownedRun("trn-1"))?.runId).toBe("trn-1");
    await store.close();
  });
});

/** Runs in a worker thread: CommonJS, the driver by resolved path. */
const HOLD_MIGRATION_LOCK = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.target);
db.pragma("journal_mode = WAL");
db.prepare("ATTACH DATABASE ? AS reference").run(workerData.reference);
db.exec("BEGIN IMMEDIATE");
const schema = db
  .prepare("SELECT sql FROM reference.sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY type = 'index', rowid")
  .pluck()
  .all();
for (const sql of schema) db.exec(sql);
db.exec("INSERT INTO main.store_migrations SELECT * FROM reference.store_migrations");
parentPort.postMessage("holding the write lock");
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, workerData.holdMs);
db.exec("COMMIT");
db.close();
`;
