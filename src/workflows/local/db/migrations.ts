import type Database from "better-sqlite3";

/**
 * The engine's schema, one ordered step at a time; `engine_migrations` records
 * the steps applied. The store keeps its own tables and `store_migrations` in
 * the same file, so nothing here touches tables it does not own. Append new
 * steps; never edit one that has shipped.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "runs, attempts and logs",
    // The schema the engine had before migrations, verbatim: a database it wrote upgrades from here.
    sql: `
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
  {
    version: 2,
    name: "who started each run",
    // Runs from before have no owner: only callers who see every run see them.
    sql: `
ALTER TABLE runs ADD COLUMN owner_issuer TEXT;
ALTER TABLE runs ADD COLUMN owner_subject TEXT;
ALTER TABLE runs ADD COLUMN owner_client_id TEXT;
ALTER TABLE runs ADD COLUMN started_by_at TEXT;
CREATE INDEX runs_by_owner ON runs (owner_issuer, owner_subject, seq);
`,
  },
  {
    version: 3,
    name: "subtask depth",
    sql: `
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
  {
    version: 4,
    name: "why each attempt runs, and when",
    // reason: first | retry (counts against the retry budget) | rerun (after an interruption; does not).
    // available_at: when a retry's backoff ends, so a restart keeps it. Results live on the run only.
    sql: `
ALTER TABLE attempts ADD COLUMN reason TEXT NOT NULL DEFAULT 'first';
UPDATE attempts SET reason = 'retry' WHERE attempt > 1;
ALTER TABLE attempts ADD COLUMN available_at TEXT;
ALTER TABLE attempts DROP COLUMN results;
`,
  },
];

/** Applies the steps not yet applied, each in its own transaction. */
export function migrate(
  db: Database.Database,
  migrations: readonly Migration[] = MIGRATIONS,
): void {
  db.exec(`CREATE TABLE IF NOT EXISTS engine_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`);
  const applied = db.prepare("SELECT MAX(version) AS version FROM engine_migrations").get() as {
    version: number | null;
  };
  const current = applied.version ?? 0;
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(
      `the database was written by a newer version of this server (schema ${current}, this one knows ${latest})`,
    );
  }
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.prepare("INSERT INTO engine_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
        migration.version,
        migration.name,
        new Date().toISOString(),
      );
    })();
  }
}
