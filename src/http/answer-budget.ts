import type { AuthInfo } from "@modelcontextprotocol/server";
import type { NextFunction, Request, Response } from "express";
import type { ReadBudget } from "../workflows/backend.js";
import { LimitReached } from "../workflows/errors.js";

/** Answers this small are never refused: the requests in flight bound them already. */
const SMALL_ANSWER_BYTES = 64 * 1024;
/** When a refused read may be tried again: answers in flight end within moments. */
const RETRY_AFTER_SECONDS = 1;

/** The largest answer one run makes: a 4 MB input and a 4 MB result, plus its attempts. */
export const LARGEST_RUN_BYTES = 9 * 1024 * 1024;

/**
 * Memory held by answers in flight. An answer is built and held several
 * times over (the run read, the JSON-RPC answer serialised, the bytes on the
 * socket until the client has read them), so its cost scales with the run's
 * size times the answers built at once, whatever the rate limits allow.
 * Before a backend builds an answer holding a run's input and results, it
 * asks the request's share (ReadBudget) to admit the run's bytes; they stay
 * counted until the response has ended or the connection closed. Past the
 * total, or past one caller's half of it, a large read is refused with
 * LimitReached and `retryAfterSeconds: 1`; small ones always pass.
 */
export class AnswerBudget {
  #held = 0;
  readonly #byCaller = new Map<string, number>();
  /** Each authorized request's share, by the AuthInfo its handlers receive (one object per request). */
  readonly #shares = new WeakMap<AuthInfo, ReadBudget>();
  readonly perCallerBytes: number;

  constructor(readonly totalBytes: number) {
    this.perCallerBytes = Math.max(LARGEST_RUN_BYTES, Math.floor(totalBytes / 2));
  }

  /** Bytes held by answers in flight now (all callers). */
  get held(): number {
    return this.#held;
  }

  /** After the bearer token: gives the request its share, found by its handlers through `shareOf`. */
  readonly attach = (req: Request, _res: Response, next: NextFunction): void => {
    const auth = req.auth;
    if (auth) this.#shares.set(auth, this.#share(callerKey(auth), _res));
    next();
  };

  /** The share of the request whose verified token this is; unbounded when there is none (in-process use). */
  shareOf(auth: AuthInfo | undefined): ReadBudget {
    return (auth && this.#shares.get(auth)) ?? UNBOUNDED;
  }

  #share(caller: string, res: Response): ReadBudget {
    let admitted = 0;
    const release = () => {
      this.#take(caller, admitted);
      admitted = 0;
    };
    return {
      admit: (bytes) => {
        const more = bytes - admitted;
        if (more <= 0) return;
        const mine = this.#byCaller.get(caller) ?? 0;
        const over = this.#held + more > this.totalBytes || mine + more > this.perCallerBytes;
        if (over && bytes > SMALL_ANSWER_BYTES) {
          throw new LimitReached(
            `This run is ${mb(bytes)} MB with its input and results, and answers holding ${mb(this.#held)} MB are on their way to clients now (${mb(mine)} MB of them yours); at most ${mb(this.totalBytes)} MB are built at once, ${mb(this.perCallerBytes)} MB for one caller. Try again in ${RETRY_AFTER_SECONDS} s`,
            { retryAfterSeconds: RETRY_AFTER_SECONDS },
          );
        }
        if (admitted === 0 && !res.closed) res.once("close", release);
        this.#held += more;
        this.#byCaller.set(caller, mine + more);
        admitted = bytes;
        // The response may have ended while the answer was being read.
        if (res.closed) release();
      },
    };
  }

  #take(caller: string, bytes: number): void {
    if (bytes === 0) return;
    this.#held -= bytes;
    const left = (this.#byCaller.get(caller) ?? 0) - bytes;
    if (left > 0) this.#byCaller.set(caller, left);
    else this.#byCaller.delete(caller);
  }
}

const UNBOUNDED: ReadBudget = { admit: () => {} };

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** One budget per person: issuer and subject of the verified token (src/auth/verifier.ts). */
function callerKey(auth: AuthInfo): string {
  const extra = auth.extra ?? {};
  return `${String(extra.issuer)}\n${String(extra.subject)}`;
}
