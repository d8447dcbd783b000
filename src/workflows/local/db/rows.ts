import { noteAnswerSize } from "../../answer-size.js";
import type {
  StartedBy,
  TaskRun,
  TaskRunAttempt,
  TaskRunStatus,
  TaskRunSummary,
} from "../../run.js";

/** Why an attempt exists: only retries count against the task's retry budget. */
export type AttemptReason = "first" | "retry" | "rerun";

export interface RunRow {
  seq: number;
  id: string;
  task: string;
  status: TaskRunStatus;
  input: string;
  results: string | null;
  error: string | null;
  parent_id: string | null;
  root_id: string;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  owner_issuer: string | null;
  owner_subject: string | null;
  owner_client_id: string | null;
  started_by_at: string | null;
  started_by_trace_id: string | null;
  /** The traceparent its attempts' spans continue (telemetry on). */
  trace_parent: string | null;
  depth: number;
  /** UTF-8 bytes of `input`, and of `results` and `error` together: a run's size, without reading it. */
  input_bytes: number;
  result_bytes: number;
}

/** A run's row without its input and results: what lists read. */
export type SummaryRow = Omit<RunRow, "input" | "results" | "trace_parent">;

export const SUMMARY_COLUMNS =
  "seq, id, task, status, error, parent_id, root_id, created_at, started_at, completed_at, owner_issuer, owner_subject, owner_client_id, started_by_at, started_by_trace_id, depth, input_bytes, result_bytes";

export interface AttemptRow {
  run_id: string;
  attempt: number;
  status: TaskRunStatus;
  enqueued_at: string;
  started_at: string | null;
  completed_at: string | null;
  error: string | null;
  reason: AttemptReason;
  available_at: string | null;
}

export function startedByOf(row: SummaryRow): StartedBy | undefined {
  if (row.owner_issuer === null || row.owner_subject === null) return undefined;
  return {
    issuer: row.owner_issuer,
    subject: row.owner_subject,
    ...(row.owner_client_id === null ? {} : { clientId: row.owner_client_id }),
    at: row.started_by_at ?? row.created_at,
    ...(row.started_by_trace_id === null ? {} : { traceId: row.started_by_trace_id }),
  };
}

export function toSummary(row: SummaryRow, attempts: AttemptRow[]): TaskRunSummary {
  const summary: TaskRunSummary = {
    id: row.id,
    task: row.task,
    taskId: `tsk-local-${row.task}`,
    status: row.status,
    retries: attempts.filter((attempt) => attempt.reason === "retry").length,
    attempts: attempts.map(toAttempt),
    rootTaskRunId: row.root_id,
    createdAt: row.created_at,
  };
  // Absent, never undefined-valued: the shape is compared exactly.
  if (row.error !== null) summary.error = row.error;
  if (row.parent_id !== null) summary.parentTaskRunId = row.parent_id;
  if (row.started_at !== null) summary.startedAt = row.started_at;
  if (row.completed_at !== null) summary.completedAt = row.completed_at;
  const startedBy = startedByOf(row);
  if (startedBy) summary.startedBy = startedBy;
  return summary;
}

export function toRun(row: RunRow, attempts: AttemptRow[]): TaskRun {
  const run: TaskRun = { ...toSummary(row, attempts), input: JSON.parse(row.input) };
  if (row.results !== null) run.results = JSON.parse(row.results);
  return noteAnswerSize(run, row.input.length + (row.results?.length ?? 0));
}

function toAttempt(row: AttemptRow): TaskRunAttempt {
  const attempt: TaskRunAttempt = {
    attempt: row.attempt,
    status: row.status,
    enqueuedAt: row.enqueued_at,
  };
  if (row.started_at !== null) attempt.startedAt = row.started_at;
  if (row.completed_at !== null) attempt.completedAt = row.completed_at;
  if (row.error !== null) attempt.error = row.error;
  return attempt;
}
