import Database from "better-sqlite3";
import { migrate } from "./migrations.js";

/** The engine's SQLite file, in WAL mode, migrated to the current schema. */
export function openDatabase(path: string): Database.Database {
  const db = new Database(path);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}
