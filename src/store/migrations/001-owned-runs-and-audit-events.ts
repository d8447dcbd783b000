import type { Migration } from "../../db/migrate.js";

/**
 * Who started which run, and the audit trail. `seq` orders rows recorded at
 * the same instant and makes every page position unique. The indexes serve
 * the listings: an owner's runs (optionally of one task), and audit events by
 * time alone or by subject, task or run, all newest first.
 */
export default {
  version: 1,
  name: "owned runs and audit events",
  sql: {
    sqlite: `
      CREATE TABLE owned_runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL UNIQUE,
        task TEXT NOT NULL,
        issuer TEXT NOT NULL,
        subject TEXT NOT NULL,
        client_id TEXT,
        started_at TEXT NOT NULL
      );
      CREATE INDEX owned_runs_by_owner ON owned_runs (issuer, subject, started_at, seq);
      CREATE INDEX owned_runs_by_owner_task ON owned_runs (issuer, subject, task, started_at, seq);

      CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        issuer TEXT,
        subject TEXT,
        client_id TEXT,
        tool TEXT,
        task TEXT,
        run_id TEXT,
        decision TEXT NOT NULL CHECK (decision IN ('allowed', 'refused')),
        outcome TEXT NOT NULL,
        reason TEXT
      );
      CREATE INDEX audit_events_by_time ON audit_events (at, seq);
      CREATE INDEX audit_events_by_subject ON audit_events (subject, at, seq);
      CREATE INDEX audit_events_by_task ON audit_events (task, at, seq);
      CREATE INDEX audit_events_by_run ON audit_events (run_id, at, seq);
    `,
    postgres: `
      CREATE TABLE owned_runs (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id text NOT NULL UNIQUE,
        task text NOT NULL,
        issuer text NOT NULL,
        subject text NOT NULL,
        client_id text,
        started_at timestamptz NOT NULL
      );
      CREATE INDEX owned_runs_by_owner ON owned_runs (issuer, subject, started_at, seq);
      CREATE INDEX owned_runs_by_owner_task ON owned_runs (issuer, subject, task, started_at, seq);

      CREATE TABLE audit_events (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at timestamptz NOT NULL,
        issuer text,
        subject text,
        client_id text,
        tool text,
        task text,
        run_id text,
        decision text NOT NULL CHECK (decision IN ('allowed', 'refused')),
        outcome text NOT NULL,
        reason text
      );
      CREATE INDEX audit_events_by_time ON audit_events (at, seq);
      CREATE INDEX audit_events_by_subject ON audit_events (subject, at, seq);
      CREATE INDEX audit_events_by_task ON audit_events (task, at, seq);
      CREATE INDEX audit_events_by_run ON audit_events (run_id, at, seq);
    `,
  },
} satisfies Migration;
