import type { Logger } from "../../logger.js";
import { LimitReached } from "../errors.js";
import { isTerminal, type TaskRun } from "../run.js";
import type { RunWatcher } from "../wait.js";
import { type Rate, TokenBucket } from "./budget.js";
import type { RunEventHandlers } from "./events.js";

export interface FollowLimits {
  /** Event streams open at once per instance; runs beyond them are followed by polling. */
  maxStreams: number;
  /**
   * GETs the followers make, for every followed run together: checks after
   * events, polls, and the periodic check of streamed runs. Kept below the
   * request budget's reads so that waiting never starves other calls.
   */
  checks: Rate;
}

export const DEFAULT_FOLLOW_LIMITS: FollowLimits = {
  maxStreams: 20,
  checks: { burst: 10, perMinute: 120 },
};

/** Poll intervals per run: from this, ×1.5 per check, up to the next. */
const POLL_FIRST_MS = 500;
const POLL_MAX_MS = 5_000;
/** While a run's stream is open, a GET this often bounds the cost of a missed or stalled event. */
const STREAM_CHECK_MS = 10_000;
/** GETs under way at once, across every followed run. */
const MAX_CHECKS_IN_FLIGHT = 4;

export interface FollowerDeps {
  /** The run as Render has it now (throws when it cannot be read). */
  read(id: string): Promise<TaskRun>;
  /** Follows Render's event stream for one run until it ends (resolves) or fails (rejects). */
  followEvents(id: string, signal: AbortSignal, handlers: RunEventHandlers): Promise<void>;
  logger: Logger;
}

class Follower {
  readonly watchers = new Set<RunWatcher>();
  stream?: AbortController;
  /** False once this run's stream failed or ended: it is polled from then on. */
  streamable = true;
  dueAt = Date.now() + POLL_FIRST_MS;
  interval = POLL_FIRST_MS;
  checking = false;
  /** An event came while a check was under way: check once more after it. */
  recheck = false;

  constructor(public latest: TaskRun) {}
}

/**
 * Every run someone is waiting on, followed once per instance whatever the
 * number of waiters: one follower per run id, fanned out to its waiters,
 * dropped when the last one leaves or the run finishes. At most `maxStreams`
 * of Render's event streams are open (the other runs wait in line for one,
 * polled meanwhile), and every GET the followers make — after an event, a
 * poll, a periodic check — goes through one scheduler capped at `checks`.
 * An event is only a hint to read the run again (Render labels every
 * terminal event `task.completed`, and an attempt can fail while the run
 * goes on to retry).
 */
export class RunFollowers {
  readonly #followers = new Map<string, Follower>();
  readonly #checks: TokenBucket;
  #streams = 0;
  #checking = 0;
  #timer?: NodeJS.Timeout;

  constructor(
    private readonly deps: FollowerDeps,
    private readonly limits: FollowLimits = DEFAULT_FOLLOW_LIMITS,
  ) {
    this.#checks = new TokenBucket(limits.checks);
  }

  /** The latest state of a run being followed, if it is. */
  latest(id: string): TaskRun | undefined {
    return this.#followers.get(id)?.latest;
  }

  /** Adds a waiter on `run` (as just read); returns what removes it. */
  follow(run: TaskRun, watcher: RunWatcher): () => void {
    let follower = this.#followers.get(run.id);
    if (!follower) {
      follower = new Follower(run);
      this.#followers.set(run.id, follower);
      this.#openStreams();
      this.#schedule();
    }
    const followed = follower;
    followed.watchers.add(watcher);
    return () => {
      followed.watchers.delete(watcher);
      if (followed.watchers.size === 0) this.#drop(followed);
    };
  }

  /** Stops following everything; waiters are told (they answer with what they have). */
  close(): void {
    for (const follower of [...this.#followers.values()]) {
      const watchers = [...follower.watchers];
      this.#drop(follower);
      for (const watcher of watchers) watcher.onClose();
    }
    clearTimeout(this.#timer);
  }

  #drop(follower: Follower): void {
    if (this.#followers.get(follower.latest.id) !== follower) return;
    this.#followers.delete(follower.latest.id);
    follower.watchers.clear();
    // Its stream's end frees the slot for the next run in line.
    follower.stream?.abort();
  }

  /** Oldest followers first: those waiting longest get the next free stream. */
  #openStreams(): void {
    for (const follower of this.#followers.values()) {
      if (this.#streams >= this.limits.maxStreams) return;
      if (follower.streamable && !follower.stream) this.#openStream(follower);
    }
  }

  #openStream(follower: Follower): void {
    const id = follower.latest.id;
    const stream = new AbortController();
    follower.stream = stream;
    this.#streams++;
    this.deps
      .followEvents(id, stream.signal, {
        // Whatever happened before the stream was established is caught up with.
        onOpen: () => this.#soon(follower),
        onEvent: () => this.#soon(follower),
      })
      .then(
        () => {
          if (!stream.signal.aborted)
            this.deps.logger.info({ run: id }, "Render event stream ended; polling");
        },
        (error: unknown) => {
          if (!stream.signal.aborted) {
            this.deps.logger.info(
              { run: id, reason: String(error) },
              "Render event stream failed; polling",
            );
          }
        },
      )
      .finally(() => {
        this.#streams--;
        follower.stream = undefined;
        if (!stream.signal.aborted && this.#followers.get(id) === follower) {
          follower.streamable = false;
          follower.interval = POLL_FIRST_MS;
          follower.dueAt = Math.min(follower.dueAt, Date.now() + POLL_FIRST_MS);
          this.#schedule();
        }
        this.#openStreams();
      });
  }

  /** Check this run as soon as the caps allow. */
  #soon(follower: Follower): void {
    if (follower.checking) follower.recheck = true;
    else follower.dueAt = Date.now();
    this.#schedule();
  }

  /** Starts the checks that are due, earliest first, within the caps; then sleeps until the next. */
  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = Date.now();
    const waiting = [...this.#followers.values()]
      .filter((follower) => !follower.checking)
      .sort((a, b) => a.dueAt - b.dueAt);
    for (const follower of waiting) {
      if (follower.dueAt > now) {
        this.#wake(follower.dueAt - now);
        return;
      }
      // A check that ends schedules again.
      if (this.#checking >= MAX_CHECKS_IN_FLIGHT) return;
      const waitMs = this.#checks.tryTake();
      if (waitMs > 0) {
        this.#wake(waitMs);
        return;
      }
      void this.#check(follower);
    }
  }

  #wake(ms: number): void {
    this.#timer = setTimeout(() => this.#schedule(), ms);
    // Following never keeps the process alive on its own.
    this.#timer.unref();
  }

  async #check(follower: Follower): Promise<void> {
    const id = follower.latest.id;
    follower.checking = true;
    this.#checking++;
    try {
      const run = await this.deps.read(id);
      if (this.#followers.get(id) === follower) this.#observe(follower, run);
    } catch (error) {
      if (this.#followers.get(id) !== follower) return;
      if (error instanceof LimitReached) {
        // The key's budget is used up for now: try again when it says.
        follower.dueAt = Date.now() + (error.retryAfterSeconds ?? 1) * 1000;
      } else {
        const watchers = [...follower.watchers];
        this.#drop(follower);
        for (const watcher of watchers) watcher.onError(error);
      }
    } finally {
      follower.checking = false;
      this.#checking--;
      if (follower.recheck) {
        follower.recheck = false;
        follower.dueAt = Date.now();
      }
      this.#schedule();
    }
  }

  #observe(follower: Follower, run: TaskRun): void {
    follower.latest = run;
    const watchers = [...follower.watchers];
    if (isTerminal(run.status)) {
      this.#drop(follower);
    } else if (follower.stream) {
      follower.dueAt = Date.now() + STREAM_CHECK_MS;
    } else {
      follower.dueAt = Date.now() + follower.interval;
      follower.interval = Math.min(follower.interval * 1.5, POLL_MAX_MS);
    }
    for (const watcher of watchers) watcher.onRun(run);
  }
}
