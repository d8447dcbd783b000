import { LIMIT_RETRY_AFTER_SECONDS, LimitReached } from "./errors.js";

/**
 * MAX_ACTIVE_RUNS_PER_CALLER: root runs one caller may have unfinished
 * (waiting or running) among those it started through this server, on any
 * backend. Locally they hold the engine's threads; on Render they consume
 * the workspace's concurrency, which every other user and service shares.
 */
export const DEFAULT_MAX_ACTIVE_RUNS = 10;

/** The refusal of a start beyond the bound, worded alike by every backend. */
export const tooManyActiveRuns = (limit: number): LimitReached =>
  new LimitReached(
    `You have ${limit === 1 ? "1 run that has" : `${limit} runs that have`} not finished, the most one caller may have at once here (MAX_ACTIVE_RUNS_PER_CALLER); wait for one to finish or cancel one (list_task_runs with status ["pending", "running"] shows them), then try again`,
    { retryAfterSeconds: LIMIT_RETRY_AFTER_SECONDS },
  );
