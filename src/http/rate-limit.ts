import type { NextFunction, Request, RequestHandler, Response } from "express";
import { type Options, rateLimit, type Store } from "express-rate-limit";
import { callerKey, callerOf } from "../auth/caller.js";
import type { Config } from "../config.js";
import { errorMessage } from "../error-message.js";
import type { Logger } from "../logger.js";
import { mcpRequestOf } from "../mcp/request.js";
import { decide } from "./decision.js";
import { inFlightLimit } from "./in-flight.js";
import { RpcError, sendRpcError } from "./json-rpc-error.js";

const MINUTE_MS = 60_000;
/**
 * Before authentication a budget belongs to a client address, which a whole
 * office behind one NAT may share: it is this many times a caller's.
 */
const ADDRESS_BUDGET_FACTOR = 4;

export interface RateLimits {
  /** Per client address, before the token is checked. */
  byAddress: RequestHandler[];
  /** Per caller, requests in flight at once (src/http/in-flight.ts). */
  inFlight: RequestHandler[];
  /** Per caller (issuer + subject), every authorized request. */
  byCaller: RequestHandler[];
  /** Per caller, each run a request starts, as the gate counted them (so refused starts cost nothing). */
  runStarts: RequestHandler[];
  /** Where the counters live, for the banner. */
  describe(): string;
  close(): Promise<void>;
}

type Limits = Config["limits"];

/**
 * Per-caller limits: requests in flight at once (in-flight.ts), and requests
 * and run starts a minute with express-rate-limit; 429 with Retry-After and a
 * JSON-RPC error body. Counters are shared by every instance through Redis
 * (Render Key Value) when REDIS_URL is set, and kept per instance otherwise
 * (then N instances allow N times the budget). A limit of 0 is off. When the
 * shared store fails, the per-minute limits let requests pass and requests in
 * flight are counted per instance (the failure is logged): an outage of the
 * counter store must not take the server down with it.
 */
export async function createRateLimits(limits: Limits, logger: Logger): Promise<RateLimits> {
  const redis = limits.redisUrl ? await connectRedis(limits.redisUrl, logger) : undefined;
  // Loaded only when used: the Redis client is a tenth of a second of every cold start.
  const RedisStore = redis ? (await import("rate-limit-redis")).RedisStore : undefined;
  const store = (prefix: string): Store | undefined =>
    redis && RedisStore
      ? new RedisStore({
          prefix: `workflows-mcp:${prefix}:`,
          sendCommand: (...args: string[]) => redis.sendCommand(args),
        })
      : undefined;

  const limiter = (
    name: string,
    perMinute: number,
    options: Partial<Options>,
  ): RequestHandler[] => {
    if (perMinute <= 0) return [];
    const what = name === "runs" ? "run starts" : "requests";
    const who = name === "address" ? "client address" : "caller";
    return [
      rateLimit({
        windowMs: MINUTE_MS,
        limit: perMinute,
        standardHeaders: "draft-8",
        legacyHeaders: false,
        passOnStoreError: true,
        // The store's failures go to our log: one bounded line, no stack trace.
        logger: {
          error: (error: unknown) =>
            logger.warn({ reason: errorMessage(error).slice(0, 300) }, "rate-limit store failed"),
          warn: () => {},
        },
        requestPropertyName: `rateLimit_${name}`,
        store: store(name),
        handler: (req, res) => {
          // Set by the limiter before it calls this (standardHeaders): when its window resets.
          const retryAfterSeconds = Math.max(1, Number(res.getHeader("Retry-After")) || 60);
          decide(req, "rate_limited");
          sendRpcError(
            res,
            429,
            RpcError.RateLimited,
            `Rate limit exceeded: at most ${perMinute} ${what} a minute per ${who}; retry in ${retryAfterSeconds} s`,
            { data: { limit: perMinute, window: "1 minute", retryAfterSeconds } },
          );
        },
        ...options,
      }),
    ];
  };

  const callerKeyOfRequest = (req: Request) => callerKey(callerOf(req.auth));
  const runs = limiter("runs", limits.runsPerMinute, { keyGenerator: callerKeyOfRequest });

  return {
    byAddress: limiter("address", limits.requestsPerMinute * ADDRESS_BUDGET_FACTOR, {}),
    inFlight: inFlightLimit(limits.concurrentPerCaller, {
      ...(redis ? { sendCommand: (args: string[]) => redis.sendCommand(args) } : {}),
      logger,
    }),
    byCaller: limiter("caller", limits.requestsPerMinute, { keyGenerator: callerKeyOfRequest }),
    // One count per run a request starts (a 2025-era batch may start several), as the
    // request's classification counted them from the tools' definitions.
    runStarts: runs.length === 0 ? [] : [countEach(runs[0] as RequestHandler)],
    describe: () =>
      `${limits.concurrentPerCaller || "unlimited"} requests in flight at once, ${limits.requestsPerMinute || "unlimited"} requests and ${limits.runsPerMinute || "unlimited"} run starts a minute per caller, counted ${redis ? "in Redis (shared by every instance)" : "per instance"}`,
    close: async () => {
      await redis?.quit().catch(() => {});
    },
  };
}

/** Applies a limiter once per run the request starts; the first refusal answers. */
function countEach(limiter: RequestHandler): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    let remaining = mcpRequestOf(req).runStarts;
    const step = (error?: unknown) => {
      if (error !== undefined || remaining === 0 || res.headersSent) {
        if (!res.headersSent) next(error);
        return;
      }
      remaining -= 1;
      limiter(req, res, step);
    };
    step();
  };
}

async function connectRedis(url: string, logger: Logger) {
  const { createClient } = await import("redis");
  let connected = false;
  const client = createClient({
    url,
    // While Redis is away, a command fails at once (the limiter then lets the request
    // pass) instead of queueing; and one that is never answered gives up quickly.
    disableOfflineQueue: true,
    commandOptions: { timeout: 500 },
    socket: {
      connectTimeout: 5_000,
      // Give up at once while starting (the server refuses to start, naming REDIS_URL);
      // once connected, keep reconnecting with backoff.
      reconnectStrategy: (retries: number, cause: Error) =>
        connected ? Math.min(retries * 200, 5_000) : cause,
    },
  });
  client.on("error", (error: unknown) => logger.warn({ err: error }, "rate-limit store error"));
  try {
    await client.connect();
    connected = true;
  } catch (error) {
    await client.disconnect().catch(() => {});
    const where = new URL(url);
    throw new Error(
      `REDIS_URL: cannot connect to ${where.protocol}//${where.host} (${errorMessage(error)})`,
    );
  }
  return client;
}
