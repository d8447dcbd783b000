import type { Migration } from "../../db/migrate.js";

/**
 * When a run this server started was seen finished: the per-caller bound on
 * unfinished runs (MAX_ACTIVE_RUNS_PER_CALLER) counts the records without
 * it, and asks Render only about those, so a finished run is asked about
 * once. Runs recorded before this version start unmarked and are marked the
 * first time a check looks at them.
 */
export default {
  version: 2,
  name: "finished owned runs",
  sql: {
    sqlite: `
      ALTER TABLE owned_runs ADD COLUMN finished_at TEXT;
      CREATE INDEX owned_runs_unfinished ON owned_runs (issuer, subject, started_at, seq)
        WHERE finished_at IS NULL;
    `,
    postgres: `
      ALTER TABLE owned_runs ADD COLUMN finished_at timestamptz;
      CREATE INDEX owned_runs_unfinished ON owned_runs (issuer, subject, started_at, seq)
        WHERE finished_at IS NULL;
    `,
  },
} satisfies Migration;
