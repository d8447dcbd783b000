import { allRunsAccess, message } from "../message.js";
import { MAX_OWNED_SCANNED } from "../owners/owned-runs.js";

/**
 * How much one list_task_runs call may read on Render while it filters by
 * status (Render's API has no status filter), and what list_task_runs tells
 * callers of it: declared together, so the note quotes the numbers the
 * backend enforces.
 */

/** Runs per page asked of Render while filtering (its largest page). */
export const RENDER_RUN_PAGE_SIZE = 100;
/** Render pages one call may read while filtering by status (`:all` access). */
export const MAX_RUN_PAGES = 10;

export const RENDER_LISTING_NOTE = message`On Render, without ${allRunsAccess("read")}, the runs you started through this server are listed, not their subtask runs (get_task_run shows one by id), by task name across every version; status filtering happens on this server: per call it reads at most ${MAX_RUN_PAGES} of Render's pages of ${RENDER_RUN_PAGE_SIZE} runs (with ${allRunsAccess("read")}) or examines at most ${MAX_OWNED_SCANNED} of your runs (without), so a page can hold fewer than \`limit\` runs while next_cursor is still set.`;
