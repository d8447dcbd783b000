import type { ErrorCode } from "../error-codes.js";
import { reasonOf } from "../error-message.js";
import { type Dialect, type SqlDatabase, type Steps, step } from "./sql.js";
import type { SqliteDatabase } from "./sqlite.js";

/**
 * The one migration runner, for every schema this server keeps (the store's
 * in SQLite or PostgreSQL, the engine's in SQLite). A schema is an ordered
 * list of versioned steps; the database records which versions it has in the
 * schema's own table (`store_migrations`, `engine_migrations`), so two
 * schemas can share one file.
 */

/**
 * One schema change: a version, a name, and its SQL for each dialect the
 * schema is kept in. Once released it never changes: a new change is a new
 * version.
 */
export interface Migration<D extends Dialect = Dialect> {
  version: number;
  name: string;
  sql: Record<D, string>;
}

export interface Schema<D extends Dialect = Dialect> {
  /** Named in messages ("store schema version 2") and in its table, `<name>_migrations`. */
  name: "store" | "engine";
  /** Oldest first. Append only. */
  migrations: readonly Migration<D>[];
}

/** What a failure message names: the variable to fix and the database, without credentials. */
export interface MigrationTarget {
  variable: "DATABASE_URL" | "LOCAL_DB_PATH";
  description: string;
}

/** Why a schema could not be brought up to date; the message is one line naming the variable to fix. */
export abstract class MigrationError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A migration failed; it was rolled back, with every other one of that start. */
export class MigrationFailed extends MigrationError {
  readonly code = "ERR_MIGRATION_FAILED";
}

/** The database was migrated by a newer server: this one does not know its schema. */
export class SchemaTooNew extends MigrationError {
  readonly code = "ERR_SCHEMA_TOO_NEW";
}

/**
 * Brings the database to the newest version of `schema`, applying only the
 * versions it lacks, oldest first, in one transaction that holds the
 * migration lock (see SqlDatabase.exclusive): each step commits with its
 * version's record, and with the rest of that start or not at all.
 * Instances starting at once take turns, and whichever comes second finds
 * the work done. Refuses a database carrying a version this code does not
 * know (a newer server migrated it). Returns the versions applied.
 */
export async function migrate<D extends Dialect>(
  db: SqlDatabase<D>,
  schema: Schema<D>,
  target: MigrationTarget,
): Promise<number[]> {
  checkOrder(schema);
  try {
    return await db.exclusive(applyMissing(db.dialect, schema, target));
  } catch (error) {
    throw asMigrationError(error, target);
  }
}

/** `migrate`, synchronously, on a SQLite connection (the engine opens its file synchronously). */
export function migrateNow(
  db: SqliteDatabase,
  schema: Schema<"sqlite">,
  target: MigrationTarget,
): number[] {
  checkOrder(schema);
  try {
    return db.exclusiveNow(applyMissing("sqlite", schema, target));
  } catch (error) {
    throw asMigrationError(error, target);
  }
}

function* applyMissing<D extends Dialect>(
  dialect: D,
  { name, migrations }: Schema<D>,
  target: MigrationTarget,
): Steps<number[]> {
  const table = `${name}_migrations`;
  // Created under the lock: two instances creating it at once could collide.
  yield* step.exec(`
    CREATE TABLE IF NOT EXISTS ${table} (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at text NOT NULL
    )`);
  const rows = yield* step.all<{ version: number | string }>({
    text: `SELECT version FROM ${table} ORDER BY version`,
    values: [],
  });
  const applied = new Set(rows.map((row) => Number(row.version)));
  const known = new Set(migrations.map((m) => m.version));
  const unknown = [...applied].filter((version) => !known.has(version));
  if (unknown.length > 0) {
    throw new SchemaTooNew(
      `${target.variable}: ${target.description} has ${name} schema version ${Math.max(...unknown)}, newer than this server knows (${Math.max(0, ...known)}); run a server at least as new as the one that migrated it`,
    );
  }
  const missing = migrations.filter((m) => !applied.has(m.version));
  for (const migration of missing) {
    try {
      yield* step.exec(migration.sql[dialect]);
      yield* step.run({
        text: `INSERT INTO ${table} (version, name, applied_at) VALUES (?, ?, ?)`,
        values: [migration.version, migration.name, new Date().toISOString()],
      });
    } catch (error) {
      throw new MigrationFailed(
        `${target.variable}: migrating ${target.description} to ${name} schema version ${migration.version} (${migration.name}) failed (${reasonOf(error)})`,
        { cause: error },
      );
    }
  }
  return missing.map((m) => m.version);
}

/** A list out of order is this code's bug, not the database's: thrown as is, before the lock. */
function checkOrder({
  name,
  migrations,
}: Pick<Schema, "name"> & { migrations: readonly { version: number }[] }): void {
  migrations.forEach((migration, i) => {
    const previous = migrations[i - 1]?.version ?? 0;
    if (!Number.isSafeInteger(migration.version) || migration.version <= previous) {
      throw new Error(`${name} migrations out of order at version ${migration.version}`);
    }
  });
}

/** The lock could not be had, or the transaction failed around the steps: said once, with the variable. */
function asMigrationError(error: unknown, target: MigrationTarget): MigrationError {
  if (error instanceof MigrationError) return error;
  return new MigrationFailed(
    `${target.variable}: cannot migrate ${target.description} (${reasonOf(error)})`,
    { cause: error },
  );
}
