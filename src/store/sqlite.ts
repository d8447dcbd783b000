import { resolve } from "node:path";
import Database from "better-sqlite3";
import type { Logger } from "../logger.js";
import { reasonOf, StoreUnreachable } from "./errors.js";
import { MIGRATION_LOCK_WAIT_MS, migrate } from "./migrate.js";
import { MIGRATIONS, type Migration } from "./migrations/index.js";
import { runSteps, type SqlDatabase, type Statement, type Step, type Steps } from "./sql.js";
import { SqlStore } from "./sql-store.js";
import type { Store } from "./types.js";

/** How long a write waits for another connection's (the engine's, another process's). */
const BUSY_TIMEOUT_MS = 5_000;

/** Failures that may pass on a retry: the file busy, locked, full or briefly unreadable. */
const TRANSIENT = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL)/;

export interface SqliteStoreOptions {
  /** LOCAL_DB_PATH: the embedded engine's file, which keeps its own tables beside these. */
  path: string;
  logger: Logger;
  /** The schema to bring the file to; tests pass their own lists. */
  migrations?: readonly Migration[];
}

/**
 * The store in a SQLite file (WAL, so the engine and readers do not block
 * each other), migrated before it is returned.
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const file = resolve(options.path);
  let db: Database.Database | undefined;
  try {
    db = new Database(file);
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // The first read of the file: a file that is not a database fails here.
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
  } catch (error) {
    db?.close();
    throw new StoreUnreachable(`LOCAL_DB_PATH: cannot open ${file} (${reasonOf(error)})`, {
      cause: error,
    });
  }
  const database = new SqliteDatabase(db);
  try {
    const applied = await migrate(database, options.migrations ?? MIGRATIONS, {
      variable: "LOCAL_DB_PATH",
      description: file,
    });
    if (applied.length > 0) options.logger.info({ store: "sqlite", applied }, "store migrated");
  } catch (error) {
    db.close();
    throw error;
  }
  return new SqlStore("sqlite", database, `SQLite ${file}`, options.logger);
}

class SqliteDatabase implements SqlDatabase {
  readonly dialect = "sqlite";
  /** Prepared once per text; the texts are the store's own few, so this stays small. */
  private readonly prepared = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  async all<T>(statement: Statement): Promise<T[]> {
    return this.execute({ kind: "all", statement }) as T[];
  }

  async run(statement: Statement): Promise<void> {
    this.execute({ kind: "run", statement });
  }

  async exclusive<T>(steps: Steps<T>): Promise<T> {
    // IMMEDIATE takes the write lock at once: a second instance (another
    // process) waits here, then reads what the first committed, instead of
    // failing to upgrade a read. Everything inside runs without yielding.
    this.db.pragma(`busy_timeout = ${MIGRATION_LOCK_WAIT_MS}`);
    try {
      return this.db.transaction(() => runSteps(steps, (s) => this.execute(s))).immediate();
    } finally {
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  transient(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    return typeof code === "string" && TRANSIENT.test(code);
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private execute(step: Step): unknown {
    switch (step.kind) {
      case "exec":
        return this.db.exec(step.sql);
      case "all":
        return this.prepare(step.statement.text).all(...step.statement.values);
      case "run":
        return this.prepare(step.statement.text).run(...step.statement.values);
    }
  }

  private prepare(text: string): Database.Statement {
    let statement = this.prepared.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.prepared.set(text, statement);
    }
    return statement;
  }
}
