import type Database from "better-sqlite3";
import { countAttempts, unfinishedDescendants } from "../db/queries.js";
import { statement } from "../db/statement.js";
import { cancelRuns } from "./cancel-runs.js";
import { interrupted, SERVER_STOPPED } from "./reasons.js";

/**
 * The server stopped while a root run's attempt ran (crash, kill, or a
 * graceful stop whose grace ran out). The attempt runs again as a rerun,
 * which does not count against the retry budget, unless the run has now
 * been interrupted `maxInterruptions` times: then it fails. Its subtasks,
 * whose parents' state died with the server, are canceled; the rerun starts
 * them anew.
 */
export function interruptAttempt(
  db: Database.Database,
  runId: string,
  attempt: number,
  maxInterruptions: number,
): { rerun: boolean; canceled: string[] } {
  const at = new Date().toISOString();
  return db.transaction(() => {
    const interruptions = countAttempts(db, runId, "rerun") + 1;
    const error = interrupted(interruptions, maxInterruptions);
    const rerun = interruptions < maxInterruptions;
    statement(
      db,
      "UPDATE attempts SET status = 'failed', completed_at = ?, error = ?, started_at = COALESCE(started_at, ?) WHERE run_id = ? AND attempt = ?",
    ).run(at, error, at, runId, attempt);
    if (rerun) {
      statement(
        db,
        "INSERT INTO attempts (run_id, attempt, status, enqueued_at, reason) VALUES (?, ?, 'pending', ?, 'rerun')",
      ).run(runId, attempt + 1, at);
    } else {
      statement(
        db,
        "UPDATE runs SET status = 'failed', completed_at = ?, error = ? WHERE id = ?",
      ).run(at, error, runId);
    }
    const canceled = cancelRuns(db, unfinishedDescendants(db, runId), SERVER_STOPPED);
    return { rerun, canceled };
  })();
}
