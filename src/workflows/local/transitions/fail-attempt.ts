import type Database from "better-sqlite3";
import { unfinishedDescendants } from "../db/queries.js";
import { statement } from "../db/statement.js";
import { cancelRuns } from "./cancel-runs.js";
import { PARENT_ATTEMPT_ENDED } from "./reasons.js";

export interface Failure {
  runId: string;
  attempt: number;
  /** Already bounded. */
  error: string;
  /** When the retry may start; absent, the run fails. */
  retryAt?: string;
}

/**
 * An attempt failed: a retry is queued (counting against the retry budget)
 * or the run fails. Its unfinished subtasks are canceled in the same
 * transaction: nobody waits for them, and a retry starts its own. Returns
 * the subtask runs canceled.
 */
export function failAttempt(db: Database.Database, failure: Failure): string[] {
  const { runId, attempt, error, retryAt } = failure;
  const at = new Date().toISOString();
  return db.transaction(() => {
    statement(
      db,
      "UPDATE attempts SET status = 'failed', completed_at = ?, error = ?, started_at = COALESCE(started_at, ?) WHERE run_id = ? AND attempt = ?",
    ).run(at, error, at, runId, attempt);
    if (retryAt !== undefined) {
      statement(
        db,
        "INSERT INTO attempts (run_id, attempt, status, enqueued_at, reason, available_at) VALUES (?, ?, 'pending', ?, 'retry', ?)",
      ).run(runId, attempt + 1, at, retryAt);
    } else {
      statement(
        db,
        "UPDATE runs SET status = 'failed', completed_at = ?, error = ?, started_at = COALESCE(started_at, ?) WHERE id = ?",
      ).run(at, error, at, runId);
    }
    return cancelRuns(db, unfinishedDescendants(db, runId), PARENT_ATTEMPT_ENDED);
  })();
}
