import type Database from "better-sqlite3";
import { statement } from "../db/statement.js";

/** What one batch may delete: runs, log lines, and bytes of runs (input, results, error). */
export interface BatchLimits {
  runs: number;
  logLines: number;
  bytes: number;
}

export interface Deleted {
  runs: number;
  logLines: number;
  /** What the deleted runs and lines stored: input, results, errors and log messages. */
  bytes: number;
}

/**
 * One batch of retention, in one short transaction: the run trees whose root
 * finished before `cutoff` (an ISO instant) and that hold no unfinished run,
 * oldest first, with their attempts and logs, within `limits` (at least one
 * run, whatever its size). A larger tree goes over several batches: its logs
 * first, then its subtask runs, its root last, so it stays eligible until it
 * is gone. Logs go before their runs: the triggers that keep caller_storage
 * find a line's owner through its run.
 */
export function deleteExpiredRuns(
  db: Database.Database,
  cutoff: string,
  limits: BatchLimits,
): Deleted {
  return db.transaction(() => {
    const expired = expiredRunIds(db, cutoff, limits);
    if (expired.length === 0) return { runs: 0, logLines: 0, bytes: 0 };
    const ids = JSON.stringify(expired);
    const lines = statement(
      db,
      `DELETE FROM logs WHERE seq IN (
  SELECT seq FROM logs WHERE run_id IN (SELECT value FROM json_each(?)) LIMIT ?
) RETURNING octet_length(message) AS bytes`,
    ).all(ids, limits.logLines) as { bytes: number }[];
    const logBytes = sum(lines);
    // The limit reached: these runs may have lines left, for the next batch.
    if (lines.length === limits.logLines)
      return { runs: 0, logLines: lines.length, bytes: logBytes };
    statement(db, "DELETE FROM attempts WHERE run_id IN (SELECT value FROM json_each(?))").run(ids);
    const runs = statement(
      db,
      "DELETE FROM runs WHERE id IN (SELECT value FROM json_each(?)) RETURNING input_bytes + result_bytes AS bytes",
    ).all(ids) as { bytes: number }[];
    return { runs: runs.length, logLines: lines.length, bytes: logBytes + sum(runs) };
  })();
}

/** Runs of expired trees within `limits`, oldest tree first, each root after its subtasks. */
function expiredRunIds(db: Database.Database, cutoff: string, limits: BatchLimits): string[] {
  const roots = statement(
    db,
    // Named: without statistics the planner would rather scan every root by parent_id and sort.
    `SELECT id, input_bytes + result_bytes AS bytes FROM runs INDEXED BY runs_finished_roots
WHERE parent_id IS NULL AND completed_at IS NOT NULL AND completed_at < ?
  AND NOT EXISTS (SELECT 1 FROM runs AS member WHERE member.root_id = runs.id AND member.completed_at IS NULL)
ORDER BY completed_at, seq LIMIT ?`,
  ).all(cutoff, limits.runs) as Sized[];
  const ids: string[] = [];
  let bytes = 0;
  const fits = (run: Sized) => {
    if (ids.length >= limits.runs || (ids.length > 0 && bytes + run.bytes > limits.bytes)) {
      return false;
    }
    ids.push(run.id);
    bytes += run.bytes;
    return true;
  };
  for (const root of roots) {
    const subtasks = statement(
      db,
      "SELECT id, input_bytes + result_bytes AS bytes FROM runs WHERE root_id = ? AND id <> ? LIMIT ?",
    ).all(root.id, root.id, limits.runs - ids.length) as Sized[];
    if (!subtasks.every(fits) || !fits(root)) break;
  }
  return ids;
}

interface Sized {
  id: string;
  bytes: number;
}

const sum = (rows: { bytes: number | null }[]) =>
  rows.reduce((total, row) => total + (row.bytes ?? 0), 0);
