import type { OwnedRun, RunOwnership } from "../../src/store/types.js";
import type { Principal } from "../../src/workflows/run.js";

/**
 * The ownership store in memory, for in-process tests of the Render backend
 * only: the real stores (SQLite, PostgreSQL) are another component, tested
 * on their own and used by the spawned-server tests. Newest first; the
 * cursor is the last run id of a page. `failing` makes every call throw, as
 * a database that is down would.
 */
export class MemoryOwnership implements RunOwnership {
  /** Oldest first, as recorded. */
  readonly records: OwnedRun[] = [];
  /** Run ids seen finished (markFinished). */
  readonly finished = new Set<string>();
  failing = false;
  /** How many times each method was called. */
  readonly calls = { recordRun: 0, ownedRun: 0, listOwnedRuns: 0 };

  async recordRun(run: OwnedRun): Promise<void> {
    this.calls.recordRun++;
    this.fail();
    if (!this.records.some((r) => r.runId === run.runId)) this.records.push(run);
  }

  async ownedRun(runId: string): Promise<OwnedRun | undefined> {
    this.calls.ownedRun++;
    this.fail();
    return this.records.find((r) => r.runId === runId);
  }

  async listOwnedRuns(
    owner: Principal,
    query: { task?: string; limit: number; cursor?: string },
  ): Promise<{ runs: OwnedRun[]; nextCursor?: string }> {
    this.calls.listOwnedRuns++;
    this.fail();
    const mine = [...this.records]
      .reverse()
      .filter(
        (r) =>
          r.startedBy.issuer === owner.issuer &&
          r.startedBy.subject === owner.subject &&
          (query.task === undefined || r.task === query.task),
      );
    const start = query.cursor ? mine.findIndex((r) => r.runId === query.cursor) + 1 : 0;
    const runs = mine.slice(start, start + query.limit);
    const last = runs.at(-1);
    return start + query.limit < mine.length && last ? { runs, nextCursor: last.runId } : { runs };
  }

  async unfinishedRunIds(owner: Principal, limit: number): Promise<string[]> {
    this.fail();
    return [...this.records]
      .reverse()
      .filter(
        (r) =>
          r.startedBy.issuer === owner.issuer &&
          r.startedBy.subject === owner.subject &&
          !this.finished.has(r.runId),
      )
      .slice(0, limit)
      .map((r) => r.runId);
  }

  async markFinished(runIds: readonly string[]): Promise<void> {
    this.fail();
    for (const id of runIds) this.finished.add(id);
  }

  private fail(): void {
    if (this.failing) throw new Error("database is down");
  }
}
