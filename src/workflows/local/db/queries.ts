import type Database from "better-sqlite3";
import type { RunAccess } from "../../backend.js";
import type { LogLine, Principal, TaskRun, TaskRunStatus, TaskRunSummary } from "../../run.js";
import { accessCondition } from "../access.js";
import {
  type AttemptReason,
  type AttemptRow,
  type RunRow,
  SUMMARY_COLUMNS,
  type SummaryRow,
  toRun,
  toSummary,
} from "./rows.js";
import { statement } from "./statement.js";

/** Reads. Every read a caller triggers applies its RunAccess in SQL. */

export const runRow = (db: Database.Database, id: string): RunRow | undefined =>
  statement(db, "SELECT * FROM runs WHERE id = ?").get(id) as RunRow | undefined;

/** A run's row without its input and results, which may be megabytes. */
export const summaryRow = (db: Database.Database, id: string): SummaryRow | undefined =>
  statement(db, `SELECT ${SUMMARY_COLUMNS} FROM runs WHERE id = ?`).get(id) as
    | SummaryRow
    | undefined;

export function getRun(db: Database.Database, id: string, access: RunAccess): TaskRun | undefined {
  const { sql, params } = accessCondition(access);
  const row = statement(db, `SELECT * FROM runs WHERE id = ? AND ${sql}`).get(id, ...params) as
    | RunRow
    | undefined;
  return row ? toRun(row, attemptsOf(db, [row.id]).get(row.id) ?? []) : undefined;
}

/**
 * The bytes of a run's input and results, from an index alone (the answer
 * budget weighs a run before it is read; also whether the run is within
 * `access` at all): undefined when no run with that id is.
 */
export function runBytes(db: Database.Database, id: string, access: RunAccess): number | undefined {
  const { sql, params } = accessCondition(access);
  const row = statement(
    db,
    `SELECT input_bytes + result_bytes AS bytes FROM runs INDEXED BY runs_owner_and_sizes_by_id WHERE id = ? AND ${sql}`,
  ).get(id, ...params) as { bytes: number } | undefined;
  return row?.bytes;
}

export interface RunListQuery {
  task?: string;
  statuses?: TaskRunStatus[];
  /** Only runs older than this sequence number. */
  beforeSeq?: number;
  limit: number;
  access: RunAccess;
}

/** Newest first, without input and results; one more than `limit` says there is another page. */
export function listRuns(
  db: Database.Database,
  query: RunListQuery,
): { run: TaskRunSummary; seq: number }[] {
  const access = accessCondition(query.access);
  const where = [access.sql];
  const params: unknown[] = [...access.params];
  if (query.task !== undefined) {
    where.push("task = ?");
    params.push(query.task);
  }
  if (query.statuses?.length) {
    // One placeholder whatever the number of statuses, so the cached statements stay few.
    where.push("status IN (SELECT value FROM json_each(?))");
    params.push(JSON.stringify(query.statuses));
  }
  if (query.beforeSeq !== undefined) {
    where.push("seq < ?");
    params.push(query.beforeSeq);
  }
  const rows = statement(
    db,
    `SELECT ${SUMMARY_COLUMNS} FROM runs WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`,
  ).all(...params, query.limit) as SummaryRow[];
  const attempts = attemptsOf(
    db,
    rows.map((row) => row.id),
  );
  return rows.map((row) => ({ run: toSummary(row, attempts.get(row.id) ?? []), seq: row.seq }));
}

export function attemptsOf(db: Database.Database, runIds: string[]): Map<string, AttemptRow[]> {
  const byRun = new Map<string, AttemptRow[]>();
  if (runIds.length === 0) return byRun;
  // The ids as one JSON array: one statement, prepared once, whatever their number.
  const rows = statement(
    db,
    "SELECT * FROM attempts WHERE run_id IN (SELECT value FROM json_each(?)) ORDER BY run_id, attempt",
  ).all(JSON.stringify(runIds)) as AttemptRow[];
  for (const row of rows) {
    const list = byRun.get(row.run_id);
    if (list) list.push(row);
    else byRun.set(row.run_id, [row]);
  }
  return byRun;
}

export const latestAttempt = (db: Database.Database, runId: string): AttemptRow | undefined =>
  statement(db, "SELECT * FROM attempts WHERE run_id = ? ORDER BY attempt DESC LIMIT 1").get(
    runId,
  ) as AttemptRow | undefined;

export const countAttempts = (
  db: Database.Database,
  runId: string,
  reason: AttemptReason,
): number =>
  (
    statement(db, "SELECT COUNT(*) AS n FROM attempts WHERE run_id = ? AND reason = ?").get(
      runId,
      reason,
    ) as { n: number }
  ).n;

/** Every run below `id` (its subtasks, theirs, …) that has not finished. */
export function unfinishedDescendants(db: Database.Database, id: string): string[] {
  const rows = statement(
    db,
    `WITH RECURSIVE tree (id) AS (
  SELECT id FROM runs WHERE parent_id = ?
  UNION ALL
  SELECT runs.id FROM runs JOIN tree ON runs.parent_id = tree.id
)
SELECT runs.id FROM runs JOIN tree ON runs.id = tree.id WHERE runs.status IN ('pending', 'running', 'paused')`,
  ).all(id) as { id: string }[];
  return rows.map((row) => row.id);
}

/** How many root runs `owner` has not finished (waiting or running), counting up to `atMost`. */
export const unfinishedRoots = (db: Database.Database, owner: Principal, atMost: number): number =>
  (
    statement(
      db,
      `SELECT COUNT(*) AS n FROM (SELECT 1 FROM runs INDEXED BY runs_unfinished_roots_by_owner WHERE owner_issuer = ? AND owner_subject = ? AND depth = 0 AND status IN ('pending', 'running', 'paused') LIMIT ?)`,
    ).get(owner.issuer, owner.subject, atMost) as { n: number }
  ).n;

/** Runs not yet finished, oldest first, with their latest attempt: what a start must pick up. */
export function unfinishedRuns(
  db: Database.Database,
): (SummaryRow & { attempt: AttemptRow | undefined })[] {
  const rows = statement(
    db,
    `SELECT ${SUMMARY_COLUMNS} FROM runs WHERE status IN ('pending', 'running', 'paused') ORDER BY seq`,
  ).all() as SummaryRow[];
  return rows.map((row) => ({ ...row, attempt: latestAttempt(db, row.id) }));
}

/** What a caller's runs store now (input, results, errors, log messages), kept by triggers: one row. */
export const storedBytes = (db: Database.Database, owner: Principal): number =>
  (
    statement(
      db,
      "SELECT bytes FROM caller_storage WHERE owner_issuer = ? AND owner_subject = ?",
    ).get(owner.issuer, owner.subject) as { bytes: number } | undefined
  )?.bytes ?? 0;

/** When the caller's root run that finished first finished, if any has. */
export const firstFinishedRoot = (db: Database.Database, owner: Principal): string | undefined =>
  (
    statement(
      db,
      "SELECT MIN(completed_at) AS at FROM runs WHERE owner_issuer = ? AND owner_subject = ? AND parent_id IS NULL AND completed_at IS NOT NULL",
    ).get(owner.issuer, owner.subject) as { at: string | null }
  ).at ?? undefined;

export interface LogQuery {
  runId: string;
  afterSeq?: number;
  startTime?: string;
  endTime?: string;
  limit: number;
}

/** Oldest first; one more than `limit` says there is another page. */
export function logPage(db: Database.Database, query: LogQuery): { line: LogLine; seq: number }[] {
  const where = ["run_id = ?"];
  const params: unknown[] = [query.runId];
  if (query.afterSeq !== undefined) {
    where.push("seq > ?");
    params.push(query.afterSeq);
  }
  if (query.startTime !== undefined) {
    where.push("timestamp >= ?");
    params.push(query.startTime);
  }
  if (query.endTime !== undefined) {
    where.push("timestamp < ?");
    params.push(query.endTime);
  }
  const rows = statement(
    db,
    `SELECT seq, timestamp, level, message FROM logs WHERE ${where.join(" AND ")} ORDER BY seq LIMIT ?`,
  ).all(...params, query.limit) as {
    seq: number;
    timestamp: string;
    level: string;
    message: string;
  }[];
  return rows.map(({ seq, ...line }) => ({ line, seq }));
}
