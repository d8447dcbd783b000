import type { Logger } from "../logger.js";
import { openSqliteStore } from "./sqlite.js";
import type { Store } from "./types.js";

export interface StoreOptions {
  /** DATABASE_URL: PostgreSQL, shared by every instance. */
  databaseUrl?: string;
  /** LOCAL_DB_PATH: the embedded SQLite file, when there is no DATABASE_URL. */
  sqlitePath: string;
  logger: Logger;
}

/**
 * The store every instance shares: PostgreSQL when DATABASE_URL is set,
 * otherwise the embedded SQLite file (zero configuration, one instance).
 * Migrated before it is returned. Fails with a StoreStartupError or a
 * MigrationError whose message is one line naming the variable to fix,
 * without credentials.
 */
export async function createStore(options: StoreOptions): Promise<Store> {
  if (!options.databaseUrl)
    return openSqliteStore({ path: options.sqlitePath, logger: options.logger });
  // Loaded only when used (the PostgreSQL client is part of every cold start otherwise).
  const { openPostgresStore } = await import("./postgres.js");
  return openPostgresStore({ url: options.databaseUrl, logger: options.logger });
}
