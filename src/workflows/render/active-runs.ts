import { tooManyActiveRuns } from "../active-runs.js";
import { isTerminal, type Principal } from "../run.js";
import type { RunOwners } from "./ownership.js";
import type { RunSummaries } from "./summaries.js";

/** Unmarked records looked at beyond the bound, so a backlog of finished ones clears in a few starts. */
const EXAMINED_BEYOND_LIMIT = 40;

/**
 * MAX_ACTIVE_RUNS_PER_CALLER on Render, whose runs carry no owner: the
 * caller's unfinished runs are its records not yet seen finished. Render is
 * asked about them only when there are at least `limit` (a caller below the
 * bound costs one store query), and those it reports finished are marked,
 * so each is asked about once. One instance takes a caller's starts one at
 * a time (check, start, record), so they cannot pass the check together;
 * starts on other instances at the same moment can each pass it once.
 */
export class ActiveRuns {
  readonly #turns = new Map<string, Promise<void>>();

  constructor(
    private readonly owners: RunOwners,
    private readonly summaries: RunSummaries,
    readonly limit: number,
  ) {}

  /** Runs `start` once `owner` is below the bound, else throws LimitReached. */
  async admit<T>(owner: Principal, start: () => Promise<T>): Promise<T> {
    if (this.limit === 0) return start();
    const key = JSON.stringify([owner.issuer, owner.subject]);
    const previous = this.#turns.get(key);
    let done = () => {};
    const mine = new Promise<void>((resolve) => {
      done = resolve;
    });
    const turn = (previous ?? Promise.resolve()).then(() => mine);
    this.#turns.set(key, turn);
    await previous;
    try {
      await this.check(owner);
      return await start();
    } finally {
      done();
      if (this.#turns.get(key) === turn) this.#turns.delete(key);
    }
  }

  private async check(owner: Principal): Promise<void> {
    const ids = await this.owners.unfinished(owner, this.limit + EXAMINED_BEYOND_LIMIT);
    if (ids.length < this.limit) return;
    const states = await this.summaries.of(ids);
    // A run Render no longer has (past its retention) has finished too.
    const finished = ids.filter((id) => {
      const state = states.get(id);
      return !state || isTerminal(state.status);
    });
    await this.owners.markFinished(finished);
    if (ids.length - finished.length >= this.limit) throw tooManyActiveRuns(this.limit);
  }
}
