import { LimitReached } from "../errors.js";

/**
 * How fast this server lets itself call Render's API with its one key, so
 * that no number of MCP callers can get the key rate-limited (a 429 then
 * blocks every user).
 *
 * Render's published limits (https://api-docs.render.com/reference/rate-limiting),
 * per user, hence per API key: "All other GET" 400 a minute, "All other POST /
 * PATCH / DELETE" 30 a minute — starting and cancelling task runs are in the
 * latter. Some versions of that page say 100 GETs a minute; RequestBudget is a
 * factory option for that reason. The defaults keep every minute at 80% of
 * the limits: a bucket never sends more than `burst + perMinute` requests in
 * any 60 seconds, and 20 + 300 = 320 = 80% of 400, 4 + 20 = 24 = 80% of 30.
 * Each instance has its own budget: with several instances, divide.
 */

export interface Rate {
  /** Requests that may go at once after a quiet spell (the bucket's size). */
  burst: number;
  /** Sustained requests per minute (the bucket's refill). */
  perMinute: number;
}

export interface BudgetOptions {
  /** GET requests, event streams included (each opening counts once). */
  reads: Rate;
  /** POST and DELETE: starting and cancelling runs. */
  writes: Rate;
  /** Longest a call waits for its turn; beyond it the call is refused with LimitReached. */
  maxWaitMs: number;
}

export const DEFAULT_BUDGET: BudgetOptions = {
  reads: { burst: 20, perMinute: 300 },
  writes: { burst: 4, perMinute: 20 },
  maxWaitMs: 5_000,
};

/**
 * A token bucket whose turns are reserved in order: a caller that must wait
 * takes the next free turn at once (the count goes below zero), so waiting
 * callers are served first come, first served and never more than the rate.
 */
export class TokenBucket {
  #tokens: number;
  /** When #tokens was last brought up to date; in the future while paused. */
  #at: number;
  readonly #perMs: number;

  constructor(private readonly rate: Rate) {
    this.#tokens = rate.burst;
    this.#at = Date.now();
    this.#perMs = rate.perMinute / 60_000;
  }

  /**
   * Reserves a turn: the milliseconds to wait for it (0: go now), or, when
   * that would be longer than `maxWaitMs`, nothing is reserved and
   * `{ refusedForMs }` says how long until a turn would be free.
   */
  reserve(maxWaitMs: number): { waitMs: number } | { refusedForMs: number } {
    const waitMs = this.#waitForOne();
    if (waitMs > maxWaitMs) return { refusedForMs: waitMs };
    this.#tokens -= 1;
    return { waitMs };
  }

  /** Whole turns free now (none while paused or owed). */
  available(): number {
    this.#refill();
    return this.#at > Date.now() ? 0 : Math.max(0, Math.floor(this.#tokens));
  }

  /** Takes a turn if one is free now (0), else says how long until one is, reserving nothing. */
  tryTake(): number {
    const waitMs = this.#waitForOne();
    if (waitMs === 0) this.#tokens -= 1;
    return waitMs;
  }

  /**
   * No turn for `ms` (Render said so: a 429 or an exhausted window). Then one
   * request may go at once, as Render allows, and the bucket refills from there.
   */
  pause(ms: number): void {
    this.#refill();
    this.#at = Math.max(this.#at, Date.now() + ms);
    this.#tokens = Math.min(this.#tokens, 1);
  }

  #refill(): void {
    const now = Date.now();
    if (now <= this.#at) return;
    this.#tokens = Math.min(this.rate.burst, this.#tokens + (now - this.#at) * this.#perMs);
    this.#at = now;
  }

  #waitForOne(): number {
    this.#refill();
    const paused = Math.max(0, this.#at - Date.now());
    if (paused === 0 && this.#tokens >= 1) return 0;
    return paused + Math.ceil(Math.max(0, 1 - this.#tokens) / this.#perMs);
  }
}

export type RequestKind = "read" | "write";

/** The reads and writes buckets of one key, and what a caller is told when they are used up. */
export class RequestBudget {
  readonly #buckets: Record<RequestKind, TokenBucket>;

  constructor(private readonly options: BudgetOptions = DEFAULT_BUDGET) {
    this.#buckets = {
      read: new TokenBucket(options.reads),
      write: new TokenBucket(options.writes),
    };
  }

  /** Milliseconds to wait before sending; throws LimitReached when the wait would be too long. */
  reserve(kind: RequestKind): number {
    const turn = this.#buckets[kind].reserve(this.options.maxWaitMs);
    if ("waitMs" in turn) return turn.waitMs;
    const seconds = Math.max(1, Math.ceil(turn.refusedForMs / 1000));
    const { perMinute } = kind === "read" ? this.options.reads : this.options.writes;
    throw new LimitReached(
      `This server paces its calls to Render's API to stay within Render's rate limits (${perMinute} ${kind === "read" ? "reads" : "starts and cancels"} a minute) and is at that pace now; try again in ${seconds} s`,
      { retryAfterSeconds: seconds },
    );
  }

  pause(kind: RequestKind, ms: number): void {
    this.#buckets[kind].pause(ms);
  }

  /** Requests of each kind that may go at once now. */
  remaining(): Record<RequestKind, number> {
    return { read: this.#buckets.read.available(), write: this.#buckets.write.available() };
  }
}
