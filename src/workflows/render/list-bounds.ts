/**
 * How much one list_task_runs call may read on Render while it filters by
 * status (Render's API has no status filter): declared here so the tool's
 * description quotes the numbers the backend enforces.
 */

/** Runs per page asked of Render while filtering (its largest page). */
export const RENDER_RUN_PAGE_SIZE = 100;
/** Render pages one call may read while filtering by status (`:all` access). */
export const MAX_RUN_PAGES = 10;
/** Of the caller's own runs, at most this many are looked at per call. */
export const MAX_OWNED_SCANNED = 500;
