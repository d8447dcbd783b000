export interface BackoffOptions {
  /** Wait after the first failure. */
  initialMs: number;
  /** The wait doubles after each further failure, up to this. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 30_000 };

/** After a failure, no new attempt until a wait has passed; the wait doubles while failures continue. */
export class Backoff {
  #failures = 0;
  #retryAt = 0;
  #delay: number;

  constructor(
    private readonly options: BackoffOptions,
    private readonly clock: () => number,
  ) {
    this.#delay = options.initialMs;
  }

  /** Milliseconds before the next attempt is allowed; 0 when it is allowed now. */
  remainingMs(): number {
    return Math.max(0, this.#retryAt - this.clock());
  }

  get failures(): number {
    return this.#failures;
  }

  fail(): void {
    this.#delay =
      this.#failures === 0 ? this.options.initialMs : Math.min(this.#delay * 2, this.options.maxMs);
    this.#failures++;
    this.#retryAt = this.clock() + this.#delay;
  }

  succeed(): void {
    this.#failures = 0;
    this.#delay = this.options.initialMs;
    this.#retryAt = 0;
  }
}
