import type Database from "better-sqlite3";
import { statement } from "../db/statement.js";

/** A pending attempt takes a thread: it and its run are running. */
export function startAttempt(db: Database.Database, runId: string, attempt: number): void {
  const at = new Date().toISOString();
  db.transaction(() => {
    statement(
      db,
      "UPDATE attempts SET status = 'running', started_at = ? WHERE run_id = ? AND attempt = ? AND status = 'pending'",
    ).run(at, runId, attempt);
    statement(
      db,
      "UPDATE runs SET status = 'running', started_at = COALESCE(started_at, ?) WHERE id = ? AND status IN ('pending', 'running')",
    ).run(at, runId);
  })();
}
