import { tooManyActiveRuns } from "../active-runs.js";
import { isTerminal, type Principal } from "../run.js";
import type { RunOwners } from "./run-owners.js";
import type { RunSummaries } from "./run-summaries.js";

/** Unmarked records looked at beyond the bound, so a backlog of finished ones clears in a few starts. */
const EXAMINED_BEYOND_LIMIT = 40;

/**
 * MAX_ACTIVE_RUNS_PER_CALLER for a backend whose runs carry no owner
 * (Render): the caller's unfinished runs are its records not yet seen
 * finished, plus its starts under way on this instance (counted before
 * anything is awaited, so concurrent starts here cannot pass the check
 * together; starts on other instances at the very same moment can each pass
 * it once). The backend is asked about the records only when there are
 * enough of them to reach the bound (a caller below it costs one store
 * query), and those it reports finished are marked, so each is asked about
 * once.
 */
export class ActiveRunsBound {
  /** Starts under way on this instance, per caller (absent: none). */
  readonly #starting = new Map<string, number>();

  constructor(
    private readonly owners: RunOwners,
    private readonly summaries: RunSummaries,
    readonly limit: number,
  ) {}

  /** Runs `start` once `owner` is below the bound, else throws LimitReached. */
  async admit<T>(owner: Principal, start: () => Promise<T>): Promise<T> {
    if (this.limit === 0) return start();
    const key = JSON.stringify([owner.issuer, owner.subject]);
    const others = this.#starting.get(key) ?? 0;
    this.#starting.set(key, others + 1);
    try {
      await this.check(owner, others);
      return await start();
    } finally {
      const left = (this.#starting.get(key) ?? 1) - 1;
      if (left > 0) this.#starting.set(key, left);
      else this.#starting.delete(key);
    }
  }

  /** Throws LimitReached when `owner`'s unfinished runs and `starting` starts reach the bound. */
  private async check(owner: Principal, starting: number): Promise<void> {
    const room = this.limit - starting;
    if (room <= 0) throw tooManyActiveRuns(this.limit);
    const ids = await this.owners.unfinished(owner, room + EXAMINED_BEYOND_LIMIT);
    if (ids.length < room) return;
    const states = await this.summaries.of(ids);
    // A run the backend no longer has (past its retention) has finished too.
    const finished = ids.filter((id) => {
      const state = states.get(id);
      return !state || isTerminal(state.status);
    });
    await this.owners.markFinished(finished);
    if (ids.length - finished.length >= room) throw tooManyActiveRuns(this.limit);
  }
}
