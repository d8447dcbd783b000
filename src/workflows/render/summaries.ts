import { mapLimit } from "../concurrency.js";
import type { FetchSummaries } from "../owners/run-summaries.js";
import type { TaskRunSummary } from "../run.js";
import type { Query, RenderHttp } from "./http.js";
import { type RenderRun, RenderRunList } from "./schemas.js";

/** Runs named in one list request (each id is ~40 characters of query string). */
const IDS_PER_REQUEST = 25;
/** Runs read one by one at a time, for those a list request did not bring. */
const READS_AT_ONCE = 4;

export interface RenderSummaryDeps {
  http: RenderHttp;
  /** The query selecting the served workflow's runs in GET /task-runs. */
  workflowQuery: Query;
  /** A list item in our vocabulary, or undefined for a run of another workflow. */
  summarize(run: RenderRun): Promise<TaskRunSummary | undefined>;
  /** One run read on its own, or undefined when Render has no such run of the workflow. */
  readOne(id: string): Promise<TaskRunSummary | undefined>;
}

/**
 * Summaries of given runs as cheaply as Render allows: from its list, which
 * carries no input or results (what a summary leaves out anyway), filtered
 * to the runs' trees — one request for up to 25 runs; only a run the list
 * did not bring (a tree with many subtask runs pushes its root past the
 * page) is read on its own, a few at a time. Every request goes through the
 * key's budget.
 */
export function fetchRenderSummaries(deps: RenderSummaryDeps): FetchSummaries {
  return async (ids) => {
    const found = new Map<string, TaskRunSummary>();
    for (let start = 0; start < ids.length; start += IDS_PER_REQUEST) {
      const wanted = new Set(ids.slice(start, start + IDS_PER_REQUEST));
      const items = await deps.http.request("GET", "/task-runs", {
        query: { ...deps.workflowQuery, rootTaskRunId: [...wanted], limit: 100 },
        schema: RenderRunList,
      });
      for (const { taskRun } of items) {
        if (!wanted.has(taskRun.id)) continue;
        const summary = await deps.summarize(taskRun);
        if (summary) found.set(summary.id, summary);
      }
    }
    const unlisted = ids.filter((id) => !found.has(id));
    const read = await mapLimit(unlisted, READS_AT_ONCE, (id) => deps.readOne(id));
    return [...found.values(), ...read.filter((summary) => summary !== undefined)];
  };
}
