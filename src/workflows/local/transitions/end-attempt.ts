import type Database from "better-sqlite3";
import { unfinishedDescendants } from "../db/queries.js";
import { statement } from "../db/statement.js";
import { cancelRuns } from "./cancel-runs.js";

/** What follows an attempt that ended without a result: another attempt, or the run fails. */
export type AfterFailure =
  | { next: "retry"; availableAt: string }
  | { next: "rerun" }
  | { next: "run-fails" };

/**
 * The step failAttempt and interruptAttempt share, inside their transaction:
 * the attempt is failed with `error`, then the next attempt is queued or the
 * run fails, and the run's unfinished subtasks are canceled with
 * `cancelReason` (nobody waits for them; a new attempt starts its own).
 * Returns the subtask runs canceled.
 */
export function endAttempt(
  db: Database.Database,
  ended: { runId: string; attempt: number; error: string; at: string },
  after: AfterFailure,
  cancelReason: string,
): string[] {
  const { runId, attempt, error, at } = ended;
  statement(
    db,
    "UPDATE attempts SET status = 'failed', completed_at = ?, error = ?, started_at = COALESCE(started_at, ?) WHERE run_id = ? AND attempt = ?",
  ).run(at, error, at, runId, attempt);
  if (after.next === "run-fails") {
    statement(
      db,
      "UPDATE runs SET status = 'failed', completed_at = ?, error = ?, result_bytes = COALESCE(octet_length(results), 0) + ?, started_at = COALESCE(started_at, ?) WHERE id = ?",
    ).run(at, error, Buffer.byteLength(error), at, runId);
  } else {
    statement(
      db,
      "INSERT INTO attempts (run_id, attempt, status, enqueued_at, reason, available_at) VALUES (?, ?, 'pending', ?, ?, ?)",
    ).run(runId, attempt + 1, at, after.next, after.next === "retry" ? after.availableAt : null);
  }
  return cancelRuns(db, unfinishedDescendants(db, runId), cancelReason);
}
