import type { Position } from "./cursor.js";

/**
 * What the two databases share: statements are written once, with `?`
 * placeholders, and run by either. The only dialect difference in them is
 * placeholder syntax, which `numbered` converts for PostgreSQL; the schema
 * itself differs and lives in the migrations, per dialect.
 */

export type Dialect = "sqlite" | "postgres";

export type SqlValue = string | number | null;

export interface Statement {
  text: string;
  values: readonly SqlValue[];
}

/** `?` → `$1`, `$2`, … No statement here has a `?` anywhere but as a placeholder. */
export function numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

/** Runs the store's statements, each on its own (no transaction spans two). */
export interface SqlRunner {
  all<T>(statement: Statement): Promise<T[]>;
  run(statement: Statement): Promise<void>;
}

/** One step of a transaction, as data, so the database decides how to run it. */
export type Step =
  | { kind: "exec"; sql: string }
  | { kind: "all"; statement: Statement }
  | { kind: "run"; statement: Statement };

/**
 * A transaction written once for both databases: each `yield*` of a step
 * below hands it to the database and resumes with its result; a failed step
 * is thrown in at that point.
 */
export type Steps<T> = Generator<Step, T, unknown>;

export const step = {
  /** SQL without values, possibly several statements (a migration). */
  *exec(sql: string): Steps<void> {
    yield { kind: "exec", sql };
  },
  *all<T>(statement: Statement): Steps<T[]> {
    return (yield { kind: "all", statement }) as T[];
  },
  *run(statement: Statement): Steps<void> {
    yield { kind: "run", statement };
  },
};

/** Runs steps without ever giving the thread away (SQLite). */
export function runSteps<T>(steps: Steps<T>, execute: (step: Step) => unknown): T {
  let next = steps.next();
  while (!next.done) {
    let result: unknown;
    try {
      result = execute(next.value);
    } catch (error) {
      next = steps.throw(error);
      continue;
    }
    next = steps.next(result);
  }
  return next.value;
}

/** Runs steps one after another, awaiting each (PostgreSQL). */
export async function awaitSteps<T>(
  steps: Steps<T>,
  execute: (step: Step) => Promise<unknown>,
): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    let result: unknown;
    try {
      result = await execute(next.value);
    } catch (error) {
      next = steps.throw(error);
      continue;
    }
    next = steps.next(result);
  }
  return next.value;
}

/** One database, as the store and its migrations use it. */
export interface SqlDatabase extends SqlRunner {
  readonly dialect: Dialect;
  /**
   * Runs `steps` in one transaction that holds the store's migration lock
   * (SQLite: BEGIN IMMEDIATE, PostgreSQL: a transaction-scoped advisory lock),
   * so two instances starting at once take turns. Commits when the steps
   * return, rolls back when they throw. SQLite runs them synchronously: it
   * never yields the thread while holding the write lock, which another
   * connection in this process (the engine's) would otherwise wait on,
   * blocking the very thread that must release it.
   */
  exclusive<T>(steps: Steps<T>): Promise<T>;
  /** Whether a failure may pass if retried (connection lost, timeout, busy), rather than being a bug. */
  transient(error: unknown): boolean;
  close(): Promise<void>;
}

/** A time as SQLite (ISO text) or pg (Date, for timestamptz) returns it, as ISO 8601 UTC. */
export const iso = (value: string | Date): string => new Date(value).toISOString();

export interface PageQuery {
  /** Columns to read; `seq` and the time column are added. */
  columns: string;
  from: string;
  /** The column pages are ordered by, newest first (then by `seq`). */
  time: string;
  /** Conditions, each with its one value; an undefined value leaves the condition out. */
  where: readonly (readonly [sql: string, value: SqlValue | undefined])[];
  after?: Position;
  /** Rows to read: one more than the page holds, to know whether another page follows. */
  limit: number;
}

/** A keyset page, newest first: filters and position in the query, so pages stay full. */
export function pageStatement(query: PageQuery): Statement {
  const conditions: string[] = [];
  const values: SqlValue[] = [];
  for (const [sql, value] of query.where) {
    if (value === undefined) continue;
    conditions.push(sql);
    values.push(value);
  }
  if (query.after) {
    conditions.push(`(${query.time}, seq) < (?, ?)`);
    values.push(query.after.at, query.after.seq);
  }
  const where = conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : "";
  return {
    text: `SELECT ${query.columns}, ${query.time}, seq FROM ${query.from}${where} ORDER BY ${query.time} DESC, seq DESC LIMIT ?`,
    values: [...values, query.limit],
  };
}
