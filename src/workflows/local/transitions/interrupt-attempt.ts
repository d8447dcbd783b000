import type Database from "better-sqlite3";
import { countAttempts } from "../db/queries.js";
import { endAttempt } from "./end-attempt.js";
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
    const canceled = endAttempt(
      db,
      { runId, attempt, error, at },
      rerun ? { next: "rerun" } : { next: "run-fails" },
      SERVER_STOPPED,
    );
    return { rerun, canceled };
  })();
}
