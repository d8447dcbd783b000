import type { Logger } from "../../logger.js";
import type { OwnedRun, RunOwnership } from "../../store/types.js";
import { BackendUnavailable } from "../errors.js";
import { Lru } from "../lru.js";
import type { Principal, StartedBy } from "../run.js";

/** Owners remembered per instance; a record never changes once written, so none goes stale. */
const KNOWN_OWNERS = 10_000;

/**
 * Who started which run, for a backend whose runs carry no owner (Render):
 * the shared store (every instance sees the same records), read through a
 * cache of the records found. A run's owner is its root run's: subtask runs
 * inherit it. A store failure is BackendUnavailable, never "no owner".
 */
export class RunOwners {
  readonly #known = new Lru<string, StartedBy>(KNOWN_OWNERS);

  constructor(
    private readonly store: RunOwnership,
    private readonly logger: Logger,
  ) {}

  async record(run: OwnedRun): Promise<void> {
    await this.store.recordRun(run);
    this.#known.set(run.runId, run.startedBy);
  }

  /** Who started the run tree rooted at `rootId`, or undefined when it was started elsewhere. */
  async startedBy(rootId: string): Promise<StartedBy | undefined> {
    const known = this.#known.get(rootId);
    if (known) return known;
    let owned: OwnedRun | undefined;
    try {
      owned = await this.store.ownedRun(rootId);
    } catch (error) {
      throw this.unavailable(error);
    }
    if (owned) this.#known.set(rootId, owned.startedBy);
    return owned?.startedBy;
  }

  /** One page of the runs `owner` started, newest first (the store filters by owner and task). */
  async page(owner: Principal, query: { task?: string; limit: number; cursor?: string }) {
    try {
      return await this.store.listOwnedRuns(owner, query);
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  /** The runs `owner` started that were not yet seen finished, newest first, at most `limit`. */
  async unfinished(owner: Principal, limit: number): Promise<string[]> {
    try {
      return await this.store.unfinishedRunIds(owner, limit);
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  async markFinished(runIds: readonly string[]): Promise<void> {
    if (runIds.length === 0) return;
    try {
      await this.store.markFinished(runIds);
    } catch (error) {
      throw this.unavailable(error);
    }
  }

  private unavailable(error: unknown): BackendUnavailable {
    this.logger.error({ err: error }, "the run-ownership store failed");
    return new BackendUnavailable(
      "This server could not read who started which run (its database failed); try again later",
    );
  }
}
