import { Lru } from "../lru.js";
import { isTerminal, type TaskRunSummary } from "../run.js";

/** Finished runs' summaries remembered per instance: a finished run never changes. */
const FINISHED_KEPT = 5_000;

/**
 * Summaries of given runs, as the backend has them now; a run it no longer
 * has is left out. The backend fetches them its cheapest way.
 */
export type FetchSummaries = (ids: readonly string[]) => Promise<readonly TaskRunSummary[]>;

/**
 * The current state of runs whose owners this server recorded (a backend
 * whose runs carry no owner is asked by id): finished runs from memory, the
 * others from the backend. Summaries carry no `startedBy`: callers add it.
 */
export class RunSummaries {
  readonly #finished = new Lru<string, TaskRunSummary>(FINISHED_KEPT);

  constructor(private readonly fetch: FetchSummaries) {}

  /** Keeps a run's summary if it has finished. */
  remember(summary: TaskRunSummary): void {
    if (!isTerminal(summary.status)) return;
    const { startedBy: _startedBy, ...state } = summary;
    this.#finished.set(summary.id, state);
  }

  /** The summaries of `ids` that the backend has; a run it does not have is absent from the map. */
  async of(ids: readonly string[]): Promise<Map<string, TaskRunSummary>> {
    const found = new Map<string, TaskRunSummary>();
    for (const id of ids) {
      const known = this.#finished.get(id);
      if (known) found.set(id, known);
    }
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length === 0) return found;
    for (const summary of await this.fetch(missing)) {
      found.set(summary.id, summary);
      this.remember(summary);
    }
    return found;
  }
}
