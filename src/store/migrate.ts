import { MigrationFailed, reasonOf, SchemaTooNew, StoreStartupError } from "./errors.js";
import type { Migration } from "./migrations/index.js";
import { type SqlDatabase, type Steps, step } from "./sql.js";

/**
 * Which migrations a database has had, kept in the database itself. Named for
 * the store: the embedded engine keeps its own tables in the same SQLite file.
 * The SQL is the same in both dialects.
 */
const MIGRATIONS_TABLE = `
  CREATE TABLE IF NOT EXISTS store_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at text NOT NULL
  )`;

/** How long an instance waits for another one's migrations before giving up. */
export const MIGRATION_LOCK_WAIT_MS = 30_000;

/** What a failure message names: the variable to fix and the database, without credentials. */
export interface MigrationTarget {
  variable: string;
  description: string;
}

/**
 * Brings the database to the newest schema `migrations` describe, applying
 * only the versions it lacks, oldest first, in one transaction that holds
 * the migration lock: instances starting at once take turns, and whichever
 * comes second finds the work done. Refuses a database carrying a version this
 * code does not know (a newer server migrated it). Returns the versions applied.
 */
export async function migrate(
  db: SqlDatabase,
  migrations: readonly Migration[],
  target: MigrationTarget,
): Promise<number[]> {
  checkOrder(migrations);
  try {
    return await db.exclusive(applyMissing(db.dialect, migrations, target));
  } catch (error) {
    if (error instanceof StoreStartupError) throw error;
    throw new MigrationFailed(
      `${target.variable}: cannot migrate ${target.description} (${reasonOf(error)})`,
      { cause: error },
    );
  }
}

function* applyMissing(
  dialect: SqlDatabase["dialect"],
  migrations: readonly Migration[],
  target: MigrationTarget,
): Steps<number[]> {
  // Created under the lock: two instances creating it at once could collide.
  yield* step.exec(MIGRATIONS_TABLE);
  const rows = yield* step.all<{ version: number | string }>({
    text: "SELECT version FROM store_migrations ORDER BY version",
    values: [],
  });
  const applied = new Set(rows.map((row) => Number(row.version)));
  const known = new Set(migrations.map((m) => m.version));
  const unknown = [...applied].filter((version) => !known.has(version));
  if (unknown.length > 0) {
    throw new SchemaTooNew(
      `${target.variable}: ${target.description} has store schema version ${Math.max(...unknown)}, newer than this server knows (${Math.max(0, ...known)}); run a server at least as new as the one that migrated it`,
    );
  }
  const missing = migrations.filter((m) => !applied.has(m.version));
  for (const migration of missing) {
    try {
      yield* step.exec(migration.sql[dialect]);
      yield* step.run({
        text: "INSERT INTO store_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        values: [migration.version, migration.name, new Date().toISOString()],
      });
    } catch (error) {
      throw new MigrationFailed(
        `${target.variable}: migrating ${target.description} to store schema version ${migration.version} (${migration.name}) failed (${reasonOf(error)})`,
        { cause: error },
      );
    }
  }
  return missing.map((m) => m.version);
}

function checkOrder(migrations: readonly Migration[]): void {
  migrations.forEach((migration, i) => {
    const previous = migrations[i - 1]?.version ?? 0;
    if (!Number.isSafeInteger(migration.version) || migration.version <= previous) {
      throw new Error(`store migrations out of order at version ${migration.version}`);
    }
  });
}
