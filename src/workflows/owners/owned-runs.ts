import { z } from "zod";
import { encodeOpaque } from "../../opaque-cursor.js";
import type { OwnedRun } from "../../store/types.js";
import type { RunPage } from "../backend.js";
import { InvalidCursor } from "../errors.js";
import type { Principal, TaskRunStatus, TaskRunSummary } from "../run.js";
import type { RunOwners } from "./run-owners.js";
import type { RunSummaries } from "./run-summaries.js";

/** Of the caller's own runs, at most this many are looked at per call while filtering by status. */
export const MAX_OWNED_SCANNED = 500;

/** Records read from the store at a time (a local query, cheap next to Render's). */
const STORE_PAGE = 100;
/** Runs whose summaries are fetched together while filtering by status. */
const STATUS_BATCH = 25;
/** Store pages searched for a cursor's run, which runs started since push down the first page. */
const MAX_SEEK_PAGES = 10;

/**
 * Where the next page of the caller's own runs starts, and the digest of the
 * query it was issued for (the backend checks it, with its other cursors).
 */
export const OwnedRunsCursor = z.object({
  kind: z.literal("owned"),
  /** The store's cursor of the page holding `after` (absent: the first page). */
  page: z.string().min(1).optional(),
  /** The last run already looked at. */
  after: z.string().min(1),
  query: z.string(),
});
export type OwnedRunsCursor = z.infer<typeof OwnedRunsCursor>;

export interface OwnedRunsQuery {
  owner: Principal;
  /** The task as recorded (`workflow-slug/task-name`). */
  task?: string;
  status?: ReadonlySet<TaskRunStatus>;
  limit: number;
  cursor?: OwnedRunsCursor;
  /** What cursors issued for this query are bound to. */
  digest: string;
}

interface Position {
  record: OwnedRun;
  /** The store cursor of the page holding the record (absent: the first page). */
  page?: string;
}

/**
 * One page of the runs the caller started, newest first. The store selects
 * them (by owner and task, in its query); the backend is asked only for
 * their current state, for the runs the page shows. Without a status filter a page
 * is full unless Render no longer has some of the runs; with one, at most
 * MAX_OWNED_SCANNED runs are looked at, so a page can hold fewer than
 * `limit` while a cursor is still returned.
 */
export async function listOwnedRuns(
  owners: RunOwners,
  summaries: RunSummaries,
  query: OwnedRunsQuery,
): Promise<RunPage> {
  const source = records(owners, query)[Symbol.asyncIterator]();
  const runs: TaskRunSummary[] = [];
  let scanned = 0;
  let last: Position | undefined;
  let pending: Position[] = [];
  let ended = false;

  while (runs.length < query.limit && scanned < MAX_OWNED_SCANNED && !ended) {
    // Without a status filter, exactly what the page still needs: nothing is read that is not shown.
    const want = query.status ? STATUS_BATCH : query.limit - runs.length;
    const batch: Position[] = [];
    while (batch.length < Math.min(want, MAX_OWNED_SCANNED - scanned)) {
      const next = await source.next();
      if (next.done) {
        ended = true;
        break;
      }
      batch.push(next.value);
    }
    const states = await summaries.of(batch.map((position) => position.record.runId));
    pending = batch;
    while (pending.length > 0 && runs.length < query.limit) {
      const position = pending.shift() as Position;
      scanned++;
      last = position;
      const state = states.get(position.record.runId);
      // A run the backend no longer has (past its retention) is left out.
      if (!state || (query.status && !query.status.has(state.status))) continue;
      runs.push({ ...state, startedBy: position.record.startedBy });
    }
  }

  const more = pending.length > 0 || (!ended && !(await source.next()).done);
  if (!more || !last) return { runs };
  const cursor: OwnedRunsCursor = {
    kind: "owned",
    ...(last.page === undefined ? {} : { page: last.page }),
    after: last.record.runId,
    query: query.digest,
  };
  return { runs, nextCursor: encodeOpaque(cursor) };
}

/** The caller's records from the cursor's position on, each with the page it is on. */
async function* records(owners: RunOwners, query: OwnedRunsQuery): AsyncGenerator<Position> {
  let page = query.cursor?.page;
  let after = query.cursor?.after;
  for (let seek = 0; ; ) {
    const found = await owners.page(query.owner, {
      task: query.task,
      limit: STORE_PAGE,
      cursor: page,
    });
    let start = 0;
    if (after !== undefined) {
      const index = found.runs.findIndex((record) => record.runId === after);
      if (index < 0) {
        // Only the first page moves (newer runs come first): look further down.
        if (!found.nextCursor || ++seek >= MAX_SEEK_PAGES) {
          throw new InvalidCursor(
            "That cursor no longer matches your runs (many runs were started since it was issued); omit cursor to start over",
          );
        }
        page = found.nextCursor;
        continue;
      }
      start = index + 1;
      after = undefined;
    }
    for (const record of found.runs.slice(start)) yield { record, page };
    if (!found.nextCursor) return;
    page = found.nextCursor;
  }
}
