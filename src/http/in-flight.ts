import { hash, randomUUID } from "node:crypto";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { callerKey, callerOf } from "../auth/caller.js";
import { errorMessage } from "../error-message.js";
import type { Logger } from "../logger.js";
import { decide } from "./decision.js";
import { RpcError, sendRpcError } from "./json-rpc-error.js";

/** A place frees whenever one of the caller's requests ends, so trying again soon is right. */
const RETRY_AFTER_SECONDS = 1;
/**
 * How long a request counts in Redis at most: longer than any legitimate
 * request (waits last up to 120 s), so the requests of an instance that
 * crashed stop counting a few minutes later instead of never.
 */
const SHARED_TTL_MS = 5 * 60_000;
const KEY_PREFIX = "workflows-mcp:inflight:";

/**
 * One caller's requests in flight in Redis, a sorted set whose scores are
 * expiry times (Redis's clock, the same for every instance): drop the
 * expired, refuse at the limit, else add this request and keep the set for
 * as long as it can hold one. KEYS[1]: the set; ARGV: limit, TTL (ms), member.
 */
const ACQUIRE = `
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/** A Redis command, as node-redis's `sendCommand` sends it. */
type SendCommand = (args: string[]) => Promise<unknown>;

/**
 * Bounds the requests one caller (issuer + subject) has in flight: a wait
 * holds its connection for up to 120 s, and a budget per minute does not
 * stop one token from holding every connection the server accepts. Counted
 * from the verified token until the exchange is over ('close': answered or
 * the client gone). Over the limit: 429 at once, and the connection closed so
 * that the refused do not keep theirs open (keep-alive) either.
 *
 * Counted in Redis when `sendCommand` is given (shared by every instance),
 * per instance otherwise. When Redis fails, the request is counted on this
 * instance instead (and the failure logged): an outage of the counters must
 * not take the server down, nor lift the bound. A limit of 0 is off.
 */
export function inFlightLimit(
  limit: number,
  options: { sendCommand?: SendCommand; logger: Logger },
): RequestHandler[] {
  if (limit <= 0) return [];
  const { sendCommand, logger } = options;
  const message = `Rate limit exceeded: at most ${limit} requests in flight at once per caller; retry in ${RETRY_AFTER_SECONDS} s`;
  const data = { limit, retryAfterSeconds: RETRY_AFTER_SECONDS };
  const refuse = (req: Request, res: Response) => {
    decide(req, "rate_limited");
    res.set("Retry-After", String(RETRY_AFTER_SECONDS));
    res.set("Connection", "close");
    sendRpcError(res, 429, RpcError.RateLimited, message, { data });
  };
  const storeFailed = (error: unknown) =>
    logger.warn(
      { limit: "in flight", reason: errorMessage(error).slice(0, 300) },
      "rate-limit store failed",
    );

  // Per instance: a count per caller while it has requests in flight, and one
  // listener shared by every request (the hot path allocates nothing more).
  const here = new Map<string, number>();
  function releaseHere(this: Response) {
    const key = this.inFlightKey ?? "";
    const count = here.get(key) ?? 1;
    if (count <= 1) here.delete(key);
    else here.set(key, count - 1);
  }
  const countHere = (key: string, req: Request, res: Response, next: NextFunction) => {
    // The client left while its token was checked: it holds nothing, and
    // 'close' will not come again to release a count.
    if (res.closed) {
      next();
      return;
    }
    const count = here.get(key) ?? 0;
    if (count >= limit) {
      refuse(req, res);
      return;
    }
    here.set(key, count + 1);
    res.inFlightKey = key;
    res.on("close", releaseHere);
    next();
  };
  if (sendCommand === undefined) {
    return [
      (req: Request, res: Response, next: NextFunction) =>
        countHere(callerKey(callerOf(req.auth)), req, res, next),
    ];
  }

  const instance = randomUUID();
  let sequence = 0;
  const countShared = (req: Request, res: Response, next: NextFunction) => {
    const key = callerKey(callerOf(req.auth));
    const set = KEY_PREFIX + hash("sha256", key, "base64url");
    const member = `${instance}:${++sequence}`;
    sendCommand(["EVAL", ACQUIRE, "1", set, String(limit), String(SHARED_TTL_MS), member]).then(
      (admitted) => {
        if (admitted !== 1) {
          refuse(req, res);
          return;
        }
        const release = () => {
          sendCommand(["ZREM", set, member]).catch(storeFailed);
        };
        // Over already (while Redis answered): 'close' will not come again.
        if (res.closed) release();
        else res.on("close", release);
        next();
      },
      (error: unknown) => {
        storeFailed(error);
        countHere(key, req, res, next);
      },
    );
  };
  return [countShared];
}
