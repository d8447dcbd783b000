import pg from "pg";
import { type Migration, migrate } from "../db/migrate.js";
import {
  awaitSteps,
  MIGRATION_LOCK_WAIT_MS,
  numbered,
  type SqlDatabase,
  type Statement,
  type Step,
  type Steps,
} from "../db/sql.js";
import { reasonOf } from "../error-message.js";
import type { Logger } from "../logger.js";
import { StoreStartupError, StoreUnreachable } from "./errors.js";
import { MIGRATIONS } from "./migrations/index.js";
import { SqlStore } from "./sql-store.js";
import type { Store } from "./types.js";

/**
 * Connections per instance. Small: every instance of the service holds its
 * own pool, and a small Render Postgres accepts about a hundred in all.
 */
const POOL_SIZE = 5;
const CONNECT_TIMEOUT_MS = 5_000;
/** Server-side bound on any one statement; the store's are single-row writes and indexed pages. */
const STATEMENT_TIMEOUT_MS = 5_000;
/** A connection left idle inside a transaction (a stuck caller) is closed by the server. */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 30_000;

/** The advisory lock migrations take: ('WMCP', 1), a key no other application is likely to use. */
export const MIGRATION_LOCK: readonly [number, number] = [0x574d4350, 1];

/** SQLSTATE classes a retry may pass: connection, rollback (serialization, deadlock), resources, operator intervention (incl. statement timeout), system. */
const TRANSIENT_SQLSTATE = /^(08|40|53|57|58)/;

export interface PostgresStoreOptions {
  /** DATABASE_URL: postgres:// or postgresql://, with its credentials. */
  url: string;
  logger: Logger;
  /** The schema to bring the database to; tests pass their own lists. */
  migrations?: readonly Migration[];
}

/** The store in PostgreSQL (a bounded pool), migrated before it is returned. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const { display, password } = describeUrl(options.url);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: IDLE_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
    keepAlive: true,
    application_name: "workflows-mcp",
  });
  // An idle connection the server drops must not take the process with it;
  // the pool replaces it on next use.
  pool.on("error", (error) =>
    options.logger.warn({ err: error, store: "postgres" }, "idle database connection failed"),
  );
  try {
    await pool.query("SELECT 1");
  } catch (error) {
    await pool.end().catch(() => {});
    throw new StoreUnreachable(
      `DATABASE_URL: cannot connect to ${display} (${reasonOf(error, password)})`,
      { cause: error },
    );
  }
  const database = new PostgresDatabase(pool);
  try {
    const applied = await migrate(
      database,
      { name: "store", migrations: options.migrations ?? MIGRATIONS },
      { variable: "DATABASE_URL", description: display },
    );
    if (applied.length > 0) options.logger.info({ store: "postgres", applied }, "store migrated");
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  return new SqlStore("postgres", database, `PostgreSQL ${display}`, options.logger);
}

/**
 * `postgres://user@host:5432/db`, for messages and the banner: no password,
 * no query string (which may carry one). Refuses what is not a postgres URL.
 */
export function describeUrl(url: string): { display: string; password?: string } {
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || !/^postgres(ql)?:$/.test(parsed.protocol)) {
    throw new StoreStartupError("DATABASE_URL: must be a postgres:// or postgresql:// URL");
  }
  const user = parsed.username ? `${parsed.username}@` : "";
  const host = parsed.hostname || parsed.searchParams.get("host") || "localhost";
  const display = `${parsed.protocol}//${user}${host}:${parsed.port || 5432}${parsed.pathname}`;
  const password = parsed.password ? decodeURIComponent(parsed.password) : undefined;
  return password ? { display, password } : { display };
}

/** Runs one statement or step on the pool or on a transaction's connection. */
function query(on: pg.Pool | pg.PoolClient, statement: Statement) {
  return on.query({ text: numbered(statement.text), values: [...statement.values] });
}

async function execute(on: pg.PoolClient, step: Step): Promise<unknown> {
  if (step.kind === "exec") return on.query(step.sql);
  const { rows } = await query(on, step.statement);
  return rows;
}

class PostgresDatabase implements SqlDatabase<"postgres"> {
  readonly dialect = "postgres";

  constructor(private readonly pool: pg.Pool) {}

  async all<T>(statement: Statement): Promise<T[]> {
    return (await query(this.pool, statement)).rows as T[];
  }

  async run(statement: Statement): Promise<void> {
    await query(this.pool, statement);
  }

  async exclusive<T>(steps: Steps<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      // Waiting for another instance's migrations may take longer than a statement may.
      await client.query(`SET LOCAL lock_timeout = ${MIGRATION_LOCK_WAIT_MS}`);
      await client.query(`SET LOCAL statement_timeout = ${2 * MIGRATION_LOCK_WAIT_MS}`);
      // Held until COMMIT or ROLLBACK: a second instance waits here, then reads
      // the versions the first committed.
      await client.query("SELECT pg_advisory_xact_lock($1, $2)", [...MIGRATION_LOCK]);
      const result = await awaitSteps(steps, (s) => execute(client, s));
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw error;
    } finally {
      // A connection that could not roll back is discarded, not reused.
      client.release(broken);
    }
  }

  transient(error: unknown): boolean {
    if (error instanceof pg.DatabaseError) return TRANSIENT_SQLSTATE.test(error.code ?? "");
    // Not from the server: the network (ECONNRESET, ETIMEDOUT, …) or pg's own timeouts.
    const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
    return (
      (typeof code === "string" && /^E[A-Z]+$/.test(code)) ||
      (typeof message === "string" && /timeout|terminated|connection/i.test(message))
    );
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
