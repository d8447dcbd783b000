import type Database from "better-sqlite3";
import { endAttempt } from "./end-attempt.js";
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
  return db.transaction(() =>
    endAttempt(
      db,
      { runId, attempt, error, at },
      retryAt === undefined ? { next: "run-fails" } : { next: "retry", availableAt: retryAt },
      PARENT_ATTEMPT_ENDED,
    ),
  )();
}
