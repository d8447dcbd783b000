import type Database from "better-sqlite3";
import type { Logger } from "../../logger.js";
import { ownerKey } from "./access.js";
import { unfinishedRuns } from "./db/queries.js";
import { startedByOf } from "./db/rows.js";
import { cancelRuns } from "./transitions/cancel-runs.js";
import { interruptAttempt } from "./transitions/interrupt-attempt.js";
import { SERVER_STOPPED } from "./transitions/reasons.js";

/** A root run's attempt to queue again. */
export interface Recovered {
  runId: string;
  attempt: number;
  owner: string;
  /** When a retry's backoff ends; absent: now. */
  availableAt?: string;
}

/**
 * What a start finds in the database after a crash, a kill or a stop, made
 * consistent before anything runs, so no run stays `running` with nobody
 * running it:
 *
 * - a root run whose attempt was running was interrupted: the attempt runs
 *   again, not counted as a retry (or the run fails, interrupted too often);
 * - every unfinished subtask run is canceled: the parent awaiting it died
 *   with the process. Its root runs again and starts its subtasks anew;
 * - root runs with an attempt waiting (new, retry, rerun) are queued again
 *   in the order they came; the scheduler takes turns between owners.
 */
export function recover(
  db: Database.Database,
  maxInterruptions: number,
  logger: Logger,
): Recovered[] {
  const queued: Recovered[] = [];
  for (const run of unfinishedRuns(db)) {
    if (run.parent_id !== null || !run.attempt) continue;
    let attempt = run.attempt;
    if (attempt.status === "running") {
      const { rerun } = interruptAttempt(db, run.id, attempt.attempt, maxInterruptions);
      logger.warn(
        { runId: run.id, attempt: attempt.attempt, rerun },
        "recovered an interrupted run",
      );
      if (!rerun) continue;
      attempt = { ...attempt, attempt: attempt.attempt + 1, status: "pending", available_at: null };
    }
    if (attempt.status !== "pending") continue;
    queued.push({
      runId: run.id,
      attempt: attempt.attempt,
      owner: ownerKey(startedByOf(run)),
      ...(attempt.available_at ? { availableAt: attempt.available_at } : {}),
    });
  }
  const orphans = unfinishedRuns(db)
    .filter((run) => run.parent_id !== null)
    .map((run) => run.id);
  if (orphans.length > 0) {
    cancelRuns(db, orphans, SERVER_STOPPED);
    logger.warn({ subtasks: orphans.length }, "canceled subtask runs the server stopped under");
  }
  return queued;
}
