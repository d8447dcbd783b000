import type Database from "better-sqlite3";
import {
  MIGRATION_LOCK_WAIT_MS,
  runSteps,
  type SqlDatabase,
  type Statement,
  type Step,
  type Steps,
} from "./sql.js";

/** How long a write waits for another connection's (the engine's, the store's, another process's). */
export const BUSY_TIMEOUT_MS = 5_000;

/** Failures that may pass on a retry: the file busy, locked, full or briefly unreadable. */
const TRANSIENT = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|PROTOCOL)/;

/** A better-sqlite3 connection as a SqlDatabase: the store's, and the engine's for its migrations. */
export class SqliteDatabase implements SqlDatabase<"sqlite"> {
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
    return this.exclusiveNow(steps);
  }

  /** `exclusive`, synchronously: what it does anyway, for a caller that cannot await. */
  exclusiveNow<T>(steps: Steps<T>): T {
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
