import Database from "better-sqlite3";
import { BUSY_TIMEOUT_MS } from "../../../db/sqlite.js";
import { migrateEngine } from "./migrations.js";

/** PRAGMA auto_vacuum's value for INCREMENTAL. */
const INCREMENTAL = 2;

/**
 * The engine's SQLite file, in WAL mode with incremental vacuum (so what
 * retention deletes can be given back to the file system), migrated to the
 * current schema.
 */
export function openDatabase(path: string): Database.Database {
  const db = new Database(path);
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Takes effect only on a file without tables, so before WAL mode writes the header.
    db.pragma("auto_vacuum = INCREMENTAL");
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    // A file that already had tables (written before, or by the store, which opens it first)
    // switches only by being rebuilt: once, then it stays incremental.
    if (db.pragma("auto_vacuum", { simple: true }) !== INCREMENTAL) db.exec("VACUUM");
    migrateEngine(db, path);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
