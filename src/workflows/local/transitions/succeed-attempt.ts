import type Database from "better-sqlite3";
import { statement } from "../db/statement.js";

/** The attempt returned: it and its run succeeded, with `resultsJson` (`[value]`) as the run's results. */
export function succeedAttempt(
  db: Database.Database,
  runId: string,
  attempt: number,
  resultsJson: string,
): void {
  const at = new Date().toISOString();
  db.transaction(() => {
    statement(
      db,
      "UPDATE attempts SET status = 'succeeded', completed_at = ? WHERE run_id = ? AND attempt = ?",
    ).run(at, runId, attempt);
    statement(
      db,
      "UPDATE runs SET status = 'succeeded', completed_at = ?, results = ?, result_bytes = ? + COALESCE(octet_length(error), 0) WHERE id = ?",
    ).run(at, resultsJson, Buffer.byteLength(resultsJson), runId);
  })();
}
