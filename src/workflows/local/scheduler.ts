import { LimitReached } from "../errors.js";
import { FairQueue } from "./fair-queue.js";
import { LIMIT_RETRY_AFTER_SECONDS } from "./limits.js";

/** An attempt waiting for a thread. */
export interface QueuedAttempt {
  runId: string;
  attempt: number;
  /** 0 for a root run, 1 for its subtasks, … */
  depth: number;
  /** Whose turn it takes (see ownerKey). */
  owner: string;
}

export interface SchedulerLimits {
  maxThreads: number;
  maxSubtaskDepth: number;
  maxPendingPerCaller: number;
  maxPending: number;
}

/**
 * Which attempt gets a thread next. Pure bookkeeping (no threads, no I/O):
 * the engine asks, starts what it is given and releases it when it ends.
 *
 * Why it cannot deadlock, with T threads and subtasks at most D deep (D < T):
 * a parent holds its thread while it awaits its subtasks, so threads must
 * never all be held by parents waiting on subtasks that cannot get one. An
 * attempt at depth d is admitted only while fewer than T − (D − d) attempts
 * hold threads: roots while fewer than T − D do, depth D while fewer than T.
 *
 *   Invariant: for every k, at most T − D + k held attempts are k deep or
 *   less. Admitting one at depth d needed fewer than T − D + d holders in
 *   all, so afterwards the holders at depth ≤ k (k ≥ d) are at most
 *   T − D + d ≤ T − D + k; depths < d are unchanged; releases only lower counts.
 *
 *   Progress: suppose attempts wait and none can be admitted, and every
 *   holder is blocked. Holders at depth D cannot be blocked on subtasks
 *   (none may be started that deep), so all holders are at depth ≤ m < D,
 *   m the deepest. Holders at depth m wait on subtasks at depth m + 1 that
 *   are queued (or in a retry's backoff, which ends). By the invariant at
 *   most T − D + m threads are held, which is below the T − D + m + 1 that
 *   admits depth m + 1: one of those subtasks is admissible — a
 *   contradiction. So some attempt always runs or can start; each finishes
 *   (or is timed out or canceled), deepest first, and the queue drains.
 *
 * Deeper attempts are admitted first (they finish trees already started),
 * and within a depth owners take turns (FairQueue). One owner holds at most
 * T − D − 1 of the T − D root slots (all of them when there is only one), so
 * however many long runs one caller keeps running, another caller's root run
 * starts as soon as it is queued; the turns decide who takes a slot that
 * frees. This only withholds admissions, so the invariant holds as before,
 * and progress too: it never holds back a subtask, and a root it holds back
 * belongs to an owner that holds a running root, which ends. Root runs
 * waiting to start are bounded per caller and in total; retries and
 * restarts re-queue what was already accepted and are never refused.
 */
export class Scheduler {
  private readonly levels: FairQueue<QueuedAttempt>[];
  /** Attempts holding a thread, by run (a run has one attempt at a time). */
  private readonly holders = new Map<string, QueuedAttempt>();
  /** Root slots each owner holds (owners holding none are absent). */
  private readonly rootsHeld = new Map<string, number>();
  /** Root slots one owner may hold at once. */
  readonly rootsPerOwner: number;
  private readonly mayStartRoot = (owner: string) =>
    (this.rootsHeld.get(owner) ?? 0) < this.rootsPerOwner;
  private draining = false;
  private mostHeld = 0;

  constructor(private readonly limits: SchedulerLimits) {
    if (limits.maxSubtaskDepth >= limits.maxThreads) {
      throw new RangeError("maxSubtaskDepth must be below maxThreads");
    }
    this.levels = Array.from({ length: limits.maxSubtaskDepth + 1 }, () => new FairQueue());
    this.rootsPerOwner = Math.max(1, limits.maxThreads - limits.maxSubtaskDepth - 1);
  }

  /** Threads held now, and the most ever held at once. */
  get held(): number {
    return this.holders.size;
  }

  get highWater(): number {
    return this.mostHeld;
  }

  get queued(): number {
    return this.levels.reduce((sum, level) => sum + level.size, 0);
  }

  /** Root slots an owner holds now. */
  rootsHeldBy(owner: string): number {
    return this.rootsHeld.get(owner) ?? 0;
  }

  /** Root runs waiting to start, all callers or one. */
  pendingRoots(owner?: string): number {
    const roots = this.levels[0] as FairQueue<QueuedAttempt>;
    return owner === undefined ? roots.size : roots.sizeOf(owner);
  }

  /** Throws LimitReached when a new root run of `owner` would exceed a bound on waiting runs. */
  checkNewRoot(owner: string): void {
    const { maxPendingPerCaller, maxPending } = this.limits;
    if (this.pendingRoots(owner) >= maxPendingPerCaller) {
      throw new LimitReached(
        `You already have ${maxPendingPerCaller} runs waiting to start, the most one caller may have here; try again in ${LIMIT_RETRY_AFTER_SECONDS} s, once some have started, or cancel some (list_task_runs with status ["pending"] shows them)`,
        { retryAfterSeconds: LIMIT_RETRY_AFTER_SECONDS },
      );
    }
    if (this.pendingRoots() >= maxPending) {
      throw new LimitReached(
        `This server already has ${maxPending} runs waiting to start, the most it accepts; try again in ${LIMIT_RETRY_AFTER_SECONDS} s`,
        { retryAfterSeconds: LIMIT_RETRY_AFTER_SECONDS },
      );
    }
  }

  enqueue(item: QueuedAttempt): void {
    const level = this.levels[item.depth];
    if (!level)
      throw new RangeError(`depth ${item.depth} is beyond ${this.limits.maxSubtaskDepth}`);
    level.push(item.owner, item);
  }

  /** Takes a run's waiting attempt out of the queue (canceled); true if it was there. */
  remove(runId: string): boolean {
    return this.levels.some((level) => level.remove((item) => item.runId === runId) !== undefined);
  }

  /**
   * The next attempt that may take a thread now, or undefined. It holds a
   * thread until release(). Deepest level first: if depth d may not be
   * admitted, no shallower depth may either, its threshold being lower.
   */
  next(): QueuedAttempt | undefined {
    const { maxThreads, maxSubtaskDepth } = this.limits;
    const shallowest = this.draining ? 1 : 0;
    for (let depth = maxSubtaskDepth; depth >= shallowest; depth--) {
      if (this.holders.size >= maxThreads - (maxSubtaskDepth - depth)) return undefined;
      const item = this.levels[depth]?.shift(depth === 0 ? this.mayStartRoot : undefined);
      if (item) {
        this.holders.set(item.runId, item);
        if (depth === 0) this.rootsHeld.set(item.owner, this.rootsHeldBy(item.owner) + 1);
        this.mostHeld = Math.max(this.mostHeld, this.holders.size);
        return item;
      }
    }
    return undefined;
  }

  release(runId: string): void {
    const item = this.holders.get(runId);
    if (!item) return;
    this.holders.delete(runId);
    if (item.depth !== 0) return;
    const roots = this.rootsHeldBy(item.owner) - 1;
    if (roots > 0) this.rootsHeld.set(item.owner, roots);
    else this.rootsHeld.delete(item.owner);
  }

  /**
   * Stops starting root runs (a graceful stop): subtasks still start, since
   * running parents wait on them; roots stay queued for the next start.
   */
  drain(): void {
    this.draining = true;
  }
}
