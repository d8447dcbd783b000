import Database from "better-sqlite3";
import type { LogLine, TaskInput, TaskRun, TaskRunAttempt, TaskRunStatus } from "../run.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  task TEXT NOT NULL,
  status TEXT NOT NULL,
  input TEXT NOT NULL,
  results TEXT,
  error TEXT,
  parent_id TEXT,
  root_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  started_at TEXT,
  completed_at TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_task ON runs (task, seq);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, seq);
CREATE INDEX IF NOT EXISTS runs_by_parent ON runs (parent_id);
CREATE TABLE IF NOT EXISTS attempts (
  run_id TEXT NOT NULL REFERENCES runs (id),
  attempt INTEGER NOT NULL,
  status TEXT NOT NULL,
  enqueued_at TEXT NOT NULL,
  started_at TEXT,
  completed_at TEXT,
  error TEXT,
  results TEXT,
  PRIMARY KEY (run_id, attempt)
);
CREATE TABLE IF NOT EXISTS logs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL REFERENCES runs (id),
  timestamp TEXT NOT NULL,
  level TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_run ON logs (run_id, seq);
`;

interface RunRow {
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
}

interface AttemptRow {
  run_id: string;
  attempt: number;
  status: TaskRunStatus;
  enqueued_at: string;
  started_at: string | null;
  completed_at: string | null;
  error: string | null;
  results: string | null;
}

export interface RunQuery {
  task?: string;
  statuses?: TaskRunStatus[];
  /** Only runs older than this sequence number. */
  beforeSeq?: number;
  limit: number;
}

export interface LogQuery {
  runId: string;
  afterSeq?: number;
  startTime?: string;
  endTime?: string;
  limit: number;
}

export const now = () => new Date().toISOString();

/**
 * Run records in SQLite (WAL): every state change is written before it is
 * reported, so a restart finds exactly what was accepted and how far it got.
 */
export class RunStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  insertRun(run: {
    id: string;
    task: string;
    input: TaskInput;
    parentId?: string;
    rootId: string;
  }): void {
    const createdAt = now();
    this.db.transaction(() => {
      this.db
        .prepare(
          "INSERT INTO runs (id, task, status, input, parent_id, root_id, created_at) VALUES (?, ?, 'pending', ?, ?, ?, ?)",
        )
        .run(
          run.id,
          run.task,
          JSON.stringify(run.input),
          run.parentId ?? null,
          run.rootId,
          createdAt,
        );
      this.insertAttempt(run.id, 1);
    })();
  }

  insertAttempt(runId: string, attempt: number): void {
    this.db
      .prepare(
        "INSERT INTO attempts (run_id, attempt, status, enqueued_at) VALUES (?, ?, 'pending', ?)",
      )
      .run(runId, attempt, now());
  }

  startAttempt(runId: string, attempt: number): void {
    const at = now();
    this.db.transaction(() => {
      this.db
        .prepare(
          "UPDATE attempts SET status = 'running', started_at = ? WHERE run_id = ? AND attempt = ?",
        )
        .run(at, runId, attempt);
      this.db
        .prepare(
          "UPDATE runs SET status = 'running', started_at = COALESCE(started_at, ?) WHERE id = ?",
        )
        .run(at, runId);
    })();
  }

  succeedAttempt(runId: string, attempt: number, results: unknown[]): void {
    const at = now();
    const json = JSON.stringify(results);
    this.db.transaction(() => {
      this.db
        .prepare(
          "UPDATE attempts SET status = 'succeeded', completed_at = ?, results = ? WHERE run_id = ? AND attempt = ?",
        )
        .run(at, json, runId, attempt);
      this.db
        .prepare("UPDATE runs SET status = 'succeeded', completed_at = ?, results = ? WHERE id = ?")
        .run(at, json, runId);
    })();
  }

  /** Fails an attempt and, in the same transaction, queues the next one or fails the run. */
  failAttempt(runId: string, attempt: number, error: string, retry: boolean): void {
    const at = now();
    this.db.transaction(() => {
      this.db
        .prepare(
          "UPDATE attempts SET status = 'failed', completed_at = ?, error = ?, started_at = COALESCE(started_at, ?) WHERE run_id = ? AND attempt = ?",
        )
        .run(at, error, at, runId, attempt);
      if (retry) this.insertAttempt(runId, attempt + 1);
      else {
        this.db
          .prepare("UPDATE runs SET status = 'failed', completed_at = ?, error = ? WHERE id = ?")
          .run(at, error, runId);
      }
    })();
  }

  /** Cancels a run that has not finished, and its latest attempt. */
  cancelRun(runId: string): void {
    const at = now();
    this.db.transaction(() => {
      this.db
        .prepare(
          "UPDATE attempts SET status = 'canceled', completed_at = ? WHERE run_id = ? AND status IN ('pending', 'running')",
        )
        .run(at, runId);
      this.db
        .prepare(
          "UPDATE runs SET status = 'canceled', completed_at = ? WHERE id = ? AND status IN ('pending', 'running', 'paused')",
        )
        .run(at, runId);
    })();
  }

  getRun(id: string): TaskRun | undefined {
    const row = this.db.prepare("SELECT * FROM runs WHERE id = ?").get(id) as RunRow | undefined;
    return row ? this.withAttempts([row])[0] : undefined;
  }

  /** Newest first; one more than `limit` tells the caller there is another page. */
  listRuns(query: RunQuery): { run: TaskRun; seq: number }[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.task !== undefined) {
      where.push("task = ?");
      params.push(query.task);
    }
    if (query.statuses?.length) {
      where.push(`status IN (${query.statuses.map(() => "?").join(", ")})`);
      params.push(...query.statuses);
    }
    if (query.beforeSeq !== undefined) {
      where.push("seq < ?");
      params.push(query.beforeSeq);
    }
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, query.limit) as RunRow[];
    const runs = this.withAttempts(rows);
    return rows.map((row, i) => ({ run: runs[i] as TaskRun, seq: row.seq }));
  }

  /** Runs not yet finished, oldest first: what a restart must pick up. */
  unfinishedRuns(): TaskRun[] {
    const rows = this.db
      .prepare("SELECT * FROM runs WHERE status IN ('pending', 'running') ORDER BY seq")
      .all() as RunRow[];
    return this.withAttempts(rows);
  }

  childrenOf(id: string): string[] {
    const rows = this.db.prepare("SELECT id FROM runs WHERE parent_id = ?").all(id) as {
      id: string;
    }[];
    return rows.map((row) => row.id);
  }

  appendLog(runId: string, line: LogLine): void {
    this.db
      .prepare("INSERT INTO logs (run_id, timestamp, level, message) VALUES (?, ?, ?, ?)")
      .run(runId, line.timestamp, line.level ?? "info", line.message);
  }

  /** Oldest first; one more than `limit` tells the caller there is another page. */
  logs(query: LogQuery): { line: LogLine; seq: number }[] {
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
    const rows = this.db
      .prepare(
        `SELECT seq, timestamp, level, message FROM logs WHERE ${where.join(" AND ")} ORDER BY seq LIMIT ?`,
      )
      .all(...params, query.limit) as {
      seq: number;
      timestamp: string;
      level: string;
      message: string;
    }[];
    return rows.map(({ seq, ...line }) => ({ line, seq }));
  }

  private withAttempts(rows: RunRow[]): TaskRun[] {
    if (rows.length === 0) return [];
    const attempts = this.db
      .prepare(
        `SELECT * FROM attempts WHERE run_id IN (${rows.map(() => "?").join(", ")}) ORDER BY run_id, attempt`,
      )
      .all(...rows.map((row) => row.id)) as AttemptRow[];
    const byRun = new Map<string, AttemptRow[]>();
    for (const attempt of attempts)
      byRun.set(attempt.run_id, [...(byRun.get(attempt.run_id) ?? []), attempt]);
    return rows.map((row) => toRun(row, byRun.get(row.id) ?? []));
  }
}

function toRun(row: RunRow, attempts: AttemptRow[]): TaskRun {
  return {
    id: row.id,
    task: row.task,
    taskId: `tsk-local-${row.task}`,
    status: row.status,
    input: JSON.parse(row.input),
    results: row.results === null ? undefined : JSON.parse(row.results),
    error: row.error ?? undefined,
    retries: Math.max(0, attempts.length - 1),
    attempts: attempts.map(toAttempt),
    parentTaskRunId: row.parent_id ?? undefined,
    rootTaskRunId: row.root_id,
    createdAt: row.created_at,
    startedAt: row.started_at ?? undefined,
    completedAt: row.completed_at ?? undefined,
  };
}

function toAttempt(row: AttemptRow): TaskRunAttempt {
  return {
    attempt: row.attempt,
    status: row.status,
    enqueuedAt: row.enqueued_at,
    startedAt: row.started_at ?? undefined,
    completedAt: row.completed_at ?? undefined,
    error: row.error ?? undefined,
    results: row.results === null ? undefined : JSON.parse(row.results),
  };
}
