import type { Migration } from "../../db/migrate.js";

/**
 * The OpenTelemetry trace id of the call that started a run, and of the
 * request behind an audit event, when the server exports traces: what links
 * a run or an event to the conversation turn in a tracing backend. Version 3
 * is issue 19's (approvals): the runner applies whichever a database lacks.
 */
export default {
  version: 4,
  name: "trace ids",
  sql: {
    sqlite: `
      ALTER TABLE owned_runs ADD COLUMN trace_id TEXT;
      ALTER TABLE audit_events ADD COLUMN trace_id TEXT;
    `,
    postgres: `
      ALTER TABLE owned_runs ADD COLUMN trace_id text;
      ALTER TABLE audit_events ADD COLUMN trace_id text;
    `,
  },
} satisfies Migration;
