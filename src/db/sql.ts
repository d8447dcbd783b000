/**
 * What SQLite and PostgreSQL share here: statements are written once, with
 * `?` placeholders, and run by either. The only dialect difference in them is
 * placeholder syntax, which `numbered` converts for PostgreSQL; schemas
 * differ, and live in each schema's migrations, per dialect.
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

/** How long a database waits for another instance's migrations before giving up. */
export const MIGRATION_LOCK_WAIT_MS = 30_000;

/** One database, as the store and the migration runner use it. */
export interface SqlDatabase<D extends Dialect = Dialect> extends SqlRunner {
  readonly dialect: D;
  /**
   * Runs `steps` in one transaction that holds the migration lock
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
