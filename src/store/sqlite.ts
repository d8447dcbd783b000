import { resolve } from "node:path";
import Database from "better-sqlite3";
import { type Migration, migrate } from "../db/migrate.js";
import { BUSY_TIMEOUT_MS, SqliteDatabase } from "../db/sqlite.js";
import { reasonOf } from "../error-message.js";
import type { Logger } from "../logger.js";
import { StoreUnreachable } from "./errors.js";
import { MIGRATIONS } from "./migrations/index.js";
import { SqlStore } from "./sql-store.js";
import type { Store } from "./types.js";

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
    const applied = await migrate(
      database,
      { name: "store", migrations: options.migrations ?? MIGRATIONS },
      { variable: "LOCAL_DB_PATH", description: file },
    );
    if (applied.length > 0) options.logger.info({ store: "sqlite", applied }, "store migrated");
  } catch (error) {
    db.close();
    throw error;
  }
  return new SqlStore("sqlite", database, `SQLite ${file}`, options.logger);
}
