import type Database from "better-sqlite3";
import { statement } from "../db/statement.js";

/**
 * Cancels the runs among `runIds` that have not finished, with their waiting
 * or running attempt; `reason`, when the engine rather than a caller cancels,
 * is recorded as the run's error. Returns the runs it changed. Part of a
 * caller's transaction when called inside one.
 */
export function cancelRuns(db: Database.Database, runIds: string[], reason?: string): string[] {
  const at = new Date().toISOString();
  const changed: string[] = [];
  db.transaction(() => {
    for (const runId of runIds) {
      const { changes } = statement(
        db,
        "UPDATE runs SET status = 'canceled', completed_at = ?, error = COALESCE(?, error), result_bytes = COALESCE(octet_length(results), 0) + COALESCE(octet_length(COALESCE(?, error)), 0) WHERE id = ? AND status IN ('pending', 'running', 'paused')",
      ).run(at, reason ?? null, reason ?? null, runId);
      if (changes === 0) continue;
      statement(
        db,
        "UPDATE attempts SET status = 'canceled', completed_at = ?, error = COALESCE(?, error) WHERE run_id = ? AND status IN ('pending', 'running')",
      ).run(at, reason ?? null, runId);
      changed.push(runId);
    }
  })();
  return changed;
}
