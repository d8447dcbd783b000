import type { AuthInfo } from "@modelcontextprotocol/server";
import type { NextFunction, Request, Response } from "express";
import { callerKey, callerOf } from "../auth/caller.js";
import type { ReadBudget } from "../workflows/backend.js";
import { LimitReached } from "../workflows/errors.js";

/** Answers this small are never refused: the requests in flight bound them already. */
const SMALL_ANSWER_BYTES = 64 * 1024;
/** How long an admitted answer counts at least, so that the budget bounds a rate too. */
const MIN_HOLD_MS = 1_000;
/** When a refused read may be tried again: admitted answers stop counting within a second. */
const RETRY_AFTER_SECONDS = 1;

/** The largest answer one run makes: a 4 MB input and a 4 MB result, plus its attempts. */
export const LARGEST_RUN_BYTES = 9 * 1024 * 1024;

/**
 * Memory and time spent on answers that hold runs' input and results. Such an
 * answer is built and held several times over (the run read, the JSON-RPC
 * answer serialised, the bytes on the socket until the client has read
 * them), and building it takes the event loop for a while (about 0.1 s for
 * 8 MB here): a hundred at once took 2 GB, and /healthz waited 8 s behind
 * them. So before a backend builds one, it asks the request's share
 * (ReadBudget) to admit the run's bytes; they count until the response has
 * ended or the connection closed, and for at least a second — so the budget
 * bounds both what answers hold at once and how much is built each second.
 * Past the total, or past one caller's half of it, a large read is refused
 * at once (cheaply) with LimitReached and `retryAfterSeconds: 1`; small ones
 * always pass.
 */
export class AnswerBudget {
  #held = 0;
  readonly #byCaller = new Map<string, number>();
  readonly perCallerBytes: number;

  constructor(readonly totalBytes: number) {
    this.perCallerBytes = Math.max(LARGEST_RUN_BYTES, Math.floor(totalBytes / 2));
  }

  /** Bytes counted now (all callers). */
  get held(): number {
    return this.#held;
  }

  /**
   * After the bearer token: notes the request's response on its AuthInfo
   * (one object per request, which its handlers receive), for `shareOf`.
   * Nothing else happens until a large answer is admitted: most requests
   * never build one.
   */
  readonly attach = (req: Request, res: Response, next: NextFunction): void => {
    if (req.auth) (req.auth as Shared)[RESPONSE] = res;
    next();
  };

  /** The share of the request whose verified token this is; unbounded when there is none (in-process use). */
  shareOf(auth: AuthInfo | undefined): ReadBudget {
    const res = auth && (auth as Shared)[RESPONSE];
    return res ? { admit: (bytes) => this.#admit(auth as Shared, res, bytes) } : UNBOUNDED;
  }

  #admit(auth: Shared, res: Response, bytes: number): void {
    let share = auth[SHARE];
    const more = bytes - (share?.admitted ?? 0);
    if (more <= 0) return;
    const caller = share?.caller ?? callerKey(callerOf(auth));
    const mine = this.#byCaller.get(caller) ?? 0;
    const over = this.#held + more > this.totalBytes || mine + more > this.perCallerBytes;
    if (over && bytes > SMALL_ANSWER_BYTES) {
      throw new LimitReached(
        `This run is ${mb(bytes)} MB with its input and results, and answers holding ${mb(this.#held)} MB of runs are being built or sent (${mb(mine)} MB of them yours); this server builds at most ${mb(this.totalBytes)} MB of them at once and a second, ${mb(this.perCallerBytes)} MB for one caller. Try again in ${RETRY_AFTER_SECONDS} s`,
        { retryAfterSeconds: RETRY_AFTER_SECONDS },
      );
    }
    if (!share) {
      const admitted = { caller, admitted: 0, since: Date.now() };
      share = auth[SHARE] = admitted;
      const release = () => {
        this.#take(caller, admitted.admitted);
        admitted.admitted = 0;
      };
      const ended = () => {
        const wait = admitted.since + MIN_HOLD_MS - Date.now();
        if (wait <= 0) release();
        else setTimeout(release, wait).unref();
      };
      if (res.closed) queueMicrotask(ended);
      else res.once("close", ended);
    }
    this.#held += more;
    this.#byCaller.set(caller, mine + more);
    share.admitted = bytes;
  }

  #take(caller: string, bytes: number): void {
    if (bytes === 0) return;
    this.#held -= bytes;
    const left = (this.#byCaller.get(caller) ?? 0) - bytes;
    if (left > 0) this.#byCaller.set(caller, left);
    else this.#byCaller.delete(caller);
  }
}

/** Where a request's AuthInfo carries its response and what it has admitted. */
const RESPONSE = Symbol("answer-budget response");
const SHARE = Symbol("answer-budget share");
type Shared = AuthInfo & {
  [RESPONSE]?: Response;
  [SHARE]?: { caller: string; admitted: number; since: number };
};

const UNBOUNDED: ReadBudget = { admit: () => {} };

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
