import type Database from "better-sqlite3";
import { type Migration, migrateNow } from "../../../db/migrate.js";
import { SqliteDatabase } from "../../../db/sqlite.js";

/**
 * The engine's schema, one ordered step at a time; `engine_migrations` records
 * the steps applied. The store keeps its own tables and `store_migrations` in
 * the same file, so nothing here touches tables it does not own. Append new
 * steps; never edit one that has shipped.
 */
export const MIGRATIONS: readonly Migration<"sqlite">[] = [
  {
    version: 1,
    name: "runs, attempts and logs",
    // The schema the engine had before migrations, verbatim: a database it wrote upgrades from here.
    sql: {
      sqlite: `
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
`,
    },
  },
  {
    version: 2,
    name: "who started each run",
    // Runs from before have no owner: only callers who see every run see them.
    sql: {
      sqlite: `
ALTER TABLE runs ADD COLUMN owner_issuer TEXT;
ALTER TABLE runs ADD COLUMN owner_subject TEXT;
ALTER TABLE runs ADD COLUMN owner_client_id TEXT;
ALTER TABLE runs ADD COLUMN started_by_at TEXT;
CREATE INDEX runs_by_owner ON runs (owner_issuer, owner_subject, seq);
`,
    },
  },
  {
    version: 3,
    name: "subtask depth",
    sql: {
      sqlite: `
ALTER TABLE runs ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
WITH RECURSIVE tree (id, depth) AS (
  SELECT id, 0 FROM runs WHERE parent_id IS NULL
  UNION ALL
  SELECT runs.id, tree.depth + 1 FROM runs JOIN tree ON runs.parent_id = tree.id
)
UPDATE runs SET depth = (SELECT depth FROM tree WHERE tree.id = runs.id)
WHERE parent_id IS NOT NULL AND id IN (SELECT id FROM tree);
`,
    },
  },
  {
    version: 4,
    name: "why each attempt runs, and when",
    // reason: first | retry (counts against the retry budget) | rerun (after an interruption; does not).
    // available_at: when a retry's backoff ends, so a restart keeps it. Results live on the run only.
    sql: {
      sqlite: `
ALTER TABLE attempts ADD COLUMN reason TEXT NOT NULL DEFAULT 'first';
UPDATE attempts SET reason = 'retry' WHERE attempt > 1;
ALTER TABLE attempts ADD COLUMN available_at TEXT;
ALTER TABLE attempts DROP COLUMN results;
`,
    },
  },
  {
    version: 5,
    name: "what each run and each caller stores",
    // input_bytes and result_bytes (results + error) are UTF-8 byte lengths, readable without the
    // run's body. caller_storage is each caller's total (its runs' input, results and errors, and
    // their log messages), kept by triggers in the writes' own transactions so a start reads one
    // row, never a SUM; the triggers write only caller_storage, never a run row (which may hold
    // megabytes). A log line finds its run's owner, and a read weighs a run (the answer budget),
    // in runs_owner_and_sizes_by_id alone: reading those columns from the row would walk its
    // overflow pages. Unowned runs (from before owners were recorded) count for no one. The
    // unfinished roots of each owner are counted for MAX_ACTIVE_RUNS_PER_CALLER at every start.
    sql: {
      sqlite: `
ALTER TABLE runs ADD COLUMN input_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN result_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET
  input_bytes = octet_length(input),
  result_bytes = COALESCE(octet_length(results), 0) + COALESCE(octet_length(error), 0);
CREATE INDEX runs_by_root ON runs (root_id, completed_at);
CREATE INDEX runs_finished_roots ON runs (completed_at)
  WHERE parent_id IS NULL AND completed_at IS NOT NULL;
CREATE INDEX runs_finished_roots_by_owner ON runs (owner_issuer, owner_subject, completed_at)
  WHERE parent_id IS NULL AND completed_at IS NOT NULL;
CREATE INDEX runs_owner_and_sizes_by_id
  ON runs (id, owner_issuer, owner_subject, input_bytes, result_bytes);
CREATE INDEX runs_unfinished_roots_by_owner ON runs (owner_issuer, owner_subject)
  WHERE depth = 0 AND status IN ('pending', 'running', 'paused');
CREATE TABLE caller_storage (
  owner_issuer TEXT NOT NULL,
  owner_subject TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (owner_issuer, owner_subject)
) WITHOUT ROWID;
INSERT INTO caller_storage (owner_issuer, owner_subject, bytes)
SELECT owner_issuer, owner_subject, SUM(bytes) FROM (
  SELECT owner_issuer, owner_subject, input_bytes + result_bytes AS bytes FROM runs
  UNION ALL
  SELECT runs.owner_issuer, runs.owner_subject, octet_length(logs.message)
  FROM logs JOIN runs ON runs.id = logs.run_id
)
WHERE owner_issuer IS NOT NULL AND owner_subject IS NOT NULL
GROUP BY owner_issuer, owner_subject;
CREATE TRIGGER caller_storage_run_inserted AFTER INSERT ON runs
WHEN NEW.owner_issuer IS NOT NULL AND NEW.owner_subject IS NOT NULL
BEGIN
  INSERT INTO caller_storage (owner_issuer, owner_subject, bytes)
  VALUES (NEW.owner_issuer, NEW.owner_subject, NEW.input_bytes + NEW.result_bytes)
  ON CONFLICT (owner_issuer, owner_subject) DO UPDATE SET bytes = bytes + excluded.bytes;
END;
CREATE TRIGGER caller_storage_run_ended AFTER UPDATE OF result_bytes ON runs
WHEN NEW.result_bytes <> OLD.result_bytes
  AND NEW.owner_issuer IS NOT NULL AND NEW.owner_subject IS NOT NULL
BEGIN
  UPDATE caller_storage SET bytes = bytes + NEW.result_bytes - OLD.result_bytes
  WHERE owner_issuer = NEW.owner_issuer AND owner_subject = NEW.owner_subject;
END;
CREATE TRIGGER caller_storage_run_deleted AFTER DELETE ON runs
WHEN OLD.owner_issuer IS NOT NULL AND OLD.owner_subject IS NOT NULL
BEGIN
  UPDATE caller_storage SET bytes = bytes - OLD.input_bytes - OLD.result_bytes
  WHERE owner_issuer = OLD.owner_issuer AND owner_subject = OLD.owner_subject;
  -- Every run stores at least its input ("[]"): nothing left means no runs left.
  DELETE FROM caller_storage
  WHERE owner_issuer = OLD.owner_issuer AND owner_subject = OLD.owner_subject AND bytes <= 0;
END;
CREATE TRIGGER caller_storage_log_inserted AFTER INSERT ON logs
BEGIN
  UPDATE caller_storage SET bytes = bytes + octet_length(NEW.message)
  WHERE (owner_issuer, owner_subject) =
    (SELECT owner_issuer, owner_subject FROM runs INDEXED BY runs_owner_and_sizes_by_id WHERE id = NEW.run_id);
END;
CREATE TRIGGER caller_storage_log_deleted AFTER DELETE ON logs
BEGIN
  UPDATE caller_storage SET bytes = bytes - octet_length(OLD.message)
  WHERE (owner_issuer, owner_subject) =
    (SELECT owner_issuer, owner_subject FROM runs INDEXED BY runs_owner_and_sizes_by_id WHERE id = OLD.run_id);
END;
`,
    },
  },
  {
    version: 6,
    name: "the trace of each run's start",
    // started_by_trace_id: the trace id of the call that started the run (shown in startedBy; a
    // subtask run carries its root run's). trace_parent: the W3C traceparent of the span that
    // started it, which its attempts' spans continue (a subtask's: its parent attempt's).
    sql: {
      sqlite: `
ALTER TABLE runs ADD COLUMN started_by_trace_id TEXT;
ALTER TABLE runs ADD COLUMN trace_parent TEXT;
`,
    },
  },
];

/**
 * Brings the engine's tables in the file at `path` (LOCAL_DB_PATH) to
 * `migrations` (tests stop short of the newest); returns the versions applied.
 */
export const migrateEngine = (
  db: Database.Database,
  path: string,
  migrations: readonly Migration<"sqlite">[] = MIGRATIONS,
): number[] =>
  migrateNow(
    new SqliteDatabase(db),
    { name: "engine", migrations },
    { variable: "LOCAL_DB_PATH", description: path },
  );
