import type { Migration } from "../../db/migrate.js";

/**
 * Approval requests (issue 19), shared by every instance: a decision is an
 * UPDATE of a pending row, so two approvers deciding at once on two
 * instances produce one decision. The indexes serve the listings — a
 * requester's own, every request of some tasks (an approver's), newest
 * first — and the expiry sweep. Audit events name the approval request and
 * who asked for it, besides who acted.
 */
/** The same in both dialects. */
const INDEXES = `
      CREATE INDEX approval_requests_by_requester
        ON approval_requests (requester_issuer, requester_subject, created_at, seq);
      CREATE INDEX approval_requests_by_task ON approval_requests (task, created_at, seq);
      CREATE INDEX approval_requests_by_time ON approval_requests (created_at, seq);
      CREATE INDEX approval_requests_pending ON approval_requests (expires_at)
        WHERE status = 'pending';
      CREATE INDEX approval_requests_unstarted ON approval_requests (decided_at)
        WHERE status = 'approved' AND run_id IS NULL;`;

export default {
  version: 3,
  name: "approval requests",
  sql: {
    sqlite: `
      CREATE TABLE approval_requests (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        task TEXT NOT NULL,
        task_ref TEXT NOT NULL,
        input TEXT NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN ('approver', 'self')),
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'canceled')),
        requester_issuer TEXT NOT NULL,
        requester_subject TEXT NOT NULL,
        requester_client_id TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        decided_at TEXT,
        decider_issuer TEXT,
        decider_subject TEXT,
        decider_client_id TEXT,
        reason TEXT,
        run_id TEXT,
        start_claimed_at TEXT
      );
      ${INDEXES}
      ALTER TABLE audit_events ADD COLUMN approval_id TEXT;
      ALTER TABLE audit_events ADD COLUMN requester TEXT;
    `,
    postgres: `
      CREATE TABLE approval_requests (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id text NOT NULL UNIQUE,
        task text NOT NULL,
        task_ref text NOT NULL,
        input text NOT NULL,
        mode text NOT NULL CHECK (mode IN ('approver', 'self')),
        status text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'canceled')),
        requester_issuer text NOT NULL,
        requester_subject text NOT NULL,
        requester_client_id text,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        decided_at timestamptz,
        decider_issuer text,
        decider_subject text,
        decider_client_id text,
        reason text,
        run_id text,
        start_claimed_at timestamptz
      );
      ${INDEXES}
      ALTER TABLE audit_events ADD COLUMN approval_id text;
      ALTER TABLE audit_events ADD COLUMN requester text;
    `,
  },
} satisfies Migration;
