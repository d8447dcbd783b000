import { isTerminal, type TaskRunSummary } from "../run.js";
import { mapLimit } from "./concurrency.js";
import type { Query, RenderHttp } from "./http.js";
import { Lru } from "./lru.js";
import { type RenderRun, RenderRunList } from "./schemas.js";

/** Finished runs' summaries remembered per instance: a finished run never changes. */
const FINISHED_KEPT = 5_000;
/** Runs named in one list request (each id is ~40 characters of query string). */
const IDS_PER_REQUEST = 25;
/** Runs read one by one at a time, for those a list request did not bring. */
const READS_AT_ONCE = 4;

export interface SummaryDeps {
  http: RenderHttp;
  /** The query selecting the served workflow's runs in GET /task-runs. */
  workflowQuery: Query;
  /** A list item in our vocabulary, or undefined for a run of another workflow. */
  summarize(run: RenderRun): Promise<TaskRunSummary | undefined>;
  /** One run read on its own, or undefined when Render has no such run of the workflow. */
  readOne(id: string): Promise<TaskRunSummary | undefined>;
}

/**
 * Summaries of given runs, as cheaply as Render allows: finished runs from
 * memory; the others from Render's list, which carries no input or results
 * (what a summary leaves out anyway), filtered to the runs' trees — one
 * request for up to 25 runs; only a run the list did not bring (a tree with
 * many subtask runs pushes its root past the page) is read on its own, a
 * few at a time. Every request goes through the key's budget. Summaries
 * carry no `startedBy`: callers add it.
 */
export class RunSummaries {
  readonly #finished = new Lru<string, TaskRunSummary>(FINISHED_KEPT);

  constructor(private readonly deps: SummaryDeps) {}

  /** Keeps a run's summary if it has finished. */
  remember(summary: TaskRunSummary): void {
    if (!isTerminal(summary.status)) return;
    const { startedBy: _startedBy, ...state } = summary;
    this.#finished.set(summary.id, state);
  }

  /** The summaries of `ids` that Render has; a run it does not have is absent from the map. */
  async of(ids: readonly string[]): Promise<Map<string, TaskRunSummary>> {
    const found = new Map<string, TaskRunSummary>();
    for (const id of ids) {
      const known = this.#finished.get(id);
      if (known) found.set(id, known);
    }
    const missing = ids.filter((id) => !found.has(id));
    for (let start = 0; start < missing.length; start += IDS_PER_REQUEST) {
      const wanted = new Set(missing.slice(start, start + IDS_PER_REQUEST));
      const items = await this.deps.http.request("GET", "/task-runs", {
        query: { ...this.deps.workflowQuery, rootTaskRunId: [...wanted], limit: 100 },
        schema: RenderRunList,
      });
      for (const { taskRun } of items) {
        if (!wanted.has(taskRun.id)) continue;
        const summary = await this.deps.summarize(taskRun);
        if (summary) this.add(found, summary);
      }
    }
    const unlisted = missing.filter((id) => !found.has(id));
    const read = await mapLimit(unlisted, READS_AT_ONCE, (id) => this.deps.readOne(id));
    for (const summary of read) if (summary) this.add(found, summary);
    return found;
  }

  private add(found: Map<string, TaskRunSummary>, summary: TaskRunSummary): void {
    found.set(summary.id, summary);
    this.remember(summary);
  }
}
