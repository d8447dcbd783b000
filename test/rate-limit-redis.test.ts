import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cancelRun,
  type Held,
  hold,
  holdAtOnce,
  longRun,
  until,
  whoamiUntil,
} from "./helpers/in-flight.js";
import { startTestIssuer, type TestIssuer } from "./helpers/issuer.js";
import { REDIS_MISSING, type RunningRedis, redisServerPath, startRedis } from "./helpers/redis.js";
import { type RunningServer, startServer } from "./helpers/server.js";
import { ALL_SCOPES, FIXTURE_TASKS, PUBLIC_URL, RESOURCE, toolCall } from "./helpers/stack.js";

// Rate limits shared by every instance through Redis (REDIS_URL): a real
// redis-server on loopback, and two instances of the built server in front of
// it, as two Render instances share Render Key Value.

const REDIS = redisServerPath();
const LIMIT = 5;

if (REDIS === undefined) {
  describe("rate limits shared through Redis", () => {
    it.skip(`needs redis-server: ${REDIS_MISSING}`, () => {});
  });
} else {
  const redisPath = REDIS;
  let issuer: TestIssuer;
  const servers: RunningServer[] = [];
  const redises: RunningRedis[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    issuer = await startTestIssuer({ audience: RESOURCE });
  });
  afterAll(async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await Promise.allSettled(redises.map((r) => r.stop()));
    await issuer?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** An instance of the server with its own database, the shared issuer, and a budget of LIMIT requests a minute. */
  const instance = async (env: Record<string, string> = {}) => {
    const dir = mkdtempSync(join(tmpdir(), "workflows-mcp-redis-"));
    dirs.push(dir);
    const server = await startServer({
      PUBLIC_URL,
      AUTH_ISSUER: issuer.issuer,
      LOCAL_DB_PATH: join(dir, "runs.sqlite"),
      LOCAL_TASKS_MODULE: FIXTURE_TASKS,
      RATE_LIMIT_REQUESTS_PER_MINUTE: String(LIMIT),
      ...env,
    });
    servers.push(server);
    return server;
  };
  const redis = async (port?: number) => {
    const started = await startRedis(redisPath, port === undefined ? {} : { port });
    redises.push(started);
    return started;
  };

  /** One whoami call by the token's caller; a request that hangs fails after 30 s, before the test's timeout. */
  const call = (server: RunningServer, token: string) =>
    fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify(toolCall("whoami")),
      signal: AbortSignal.timeout(30_000),
    });
  /** The banner's Limits line (the banner goes to stderr, after the "listening" log line). */
  const bannerLimits = async (server: RunningServer) => {
    for (let waited = 0; waited < 5_000; waited += 50) {
      const line = server.output.find((l) => l.startsWith("  Limits "));
      if (line) return line.replace(/^ {2}Limits +/, "");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return undefined;
  };
  /** The statuses of `count` calls in a row (each answered before the next). */
  const statuses = async (server: RunningServer, token: string, count: number) => {
    const seen: number[] = [];
    for (let i = 0; i < count; i++) {
      const res = await call(server, token);
      await res.arrayBuffer();
      seen.push(res.status);
    }
    return seen;
  };

  describe("with REDIS_URL, every instance counts in the same place", () => {
    let a: RunningServer;
    let b: RunningServer;
    beforeAll(async () => {
      const shared = await redis();
      [a, b] = await Promise.all([
        instance({ REDIS_URL: shared.url }),
        instance({ REDIS_URL: shared.url }),
      ]);
    });

    it("says so at startup", async () => {
      for (const server of [a, b]) {
        expect(await bannerLimits(server)).toBe(
          `20 requests in flight at once, ${LIMIT} requests and 60 run starts a minute per caller, counted in Redis (shared by every instance)`,
        );
      }
    });

    it("3 requests on one instance and 3 on the other by the same caller: the 6th is 429", async () => {
      const token = await issuer.sign({ sub: "shared-caller" });
      expect(await statuses(a, token, 3)).toEqual([200, 200, 200]);
      expect(await statuses(b, token, 2)).toEqual([200, 200]);
      const sixth = await call(b, token);
      expect(sixth.status).toBe(429);
      const body = (await sixth.json()) as { error: { code: number; message: string } };
      expect(body.error.code).toBe(-32005);
      expect(body.error.message).toMatch(
        /^Rate limit exceeded: at most 5 requests a minute per caller; retry in \d+ s$/,
      );
      // Spent everywhere: the first instance refuses too.
      expect(await statuses(a, token, 1)).toEqual([429]);
      // Another caller has a budget of its own.
      expect(await statuses(a, await issuer.sign({ sub: "other-caller" }), 1)).toEqual([200]);
    });
  });

  describe("without REDIS_URL, each instance counts alone", () => {
    let c: RunningServer;
    let d: RunningServer;
    beforeAll(async () => {
      [c, d] = await Promise.all([instance(), instance()]);
    });

    it("says so at startup", async () => {
      for (const server of [c, d]) {
        expect(await bannerLimits(server)).toBe(
          `20 requests in flight at once, ${LIMIT} requests and 60 run starts a minute per caller, counted per instance`,
        );
      }
    });

    it("the same 3 + 3 requests all pass; each instance refuses only its own 6th", async () => {
      const token = await issuer.sign({ sub: "split-caller" });
      expect(await statuses(c, token, 3)).toEqual([200, 200, 200]);
      expect(await statuses(d, token, 3)).toEqual([200, 200, 200]);
      // Two instances allow twice the budget: c refuses at its own 6th, d still has 2 left.
      expect(await statuses(c, token, 3)).toEqual([200, 200, 429]);
      expect(await statuses(d, token, 3)).toEqual([200, 200, 429]);
    });
  });

  describe("when Redis goes away after start", () => {
    let store: RunningRedis;
    let e: RunningServer;
    let token: string;
    beforeAll(async () => {
      store = await redis();
      e = await instance({ REDIS_URL: store.url });
      token = await issuer.sign({ sub: "outage-caller" });
      // Counted in Redis while it is there.
      expect(await statuses(e, token, 2)).toEqual([200, 200]);
      await store.stop("SIGKILL");
    });

    it("requests still pass (fail open), more than the budget, and the server stays up", async () => {
      // Concurrently, so that a store that makes each request wait costs one wait, not seven.
      const answers = await Promise.all(
        Array.from({ length: LIMIT + 2 }, async () => {
          const res = await call(e, token);
          await res.arrayBuffer();
          return res.status;
        }),
      );
      // None refused: nothing can be counted, so nothing is.
      expect(answers).toEqual(Array(LIMIT + 2).fill(200));
      expect(e.child.exitCode).toBeNull();
      expect(e.logs.some((log) => log.msg === "rate-limit store error" && log.level === 40)).toBe(
        true,
      );
    }, 40_000);

    // SERVER BUG (fails until fixed): while Redis is down, node-redis queues
    // each command until its 5 s command timeout, and a request passes two
    // limiters (address, caller; three for a run start), so every request
    // stalls ~10 s before it fails open. Fix: src/http/rate-limit.ts,
    // connectRedis: createClient({ ..., disableOfflineQueue: true }) so a
    // command fails at once while disconnected (and a shorter
    // commandOptions.timeout for a Redis that accepts but never answers).
    it("without waiting for the dead store: a request answers in well under a second", async () => {
      const started = Date.now();
      const res = await call(e, token);
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1_000);
    }, 40_000);

    it("when Redis is back on its address, the instance reconnects and the budget applies again", async () => {
      // Empty: the counters died with the old process.
      await redis(store.port);
      const seen: number[] = [];
      const until = Date.now() + 30_000;
      while (seen.at(-1) !== 429 && Date.now() < until) {
        const res = await call(e, token);
        await res.arrayBuffer();
        seen.push(res.status);
        if (res.status === 200) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(seen.at(-1)).toBe(429);
      expect(seen.slice(0, -1).every((status) => status === 200)).toBe(true);
      expect(seen.length).toBeGreaterThanOrEqual(LIMIT + 1);
      expect(e.child.exitCode).toBeNull();
    }, 60_000);
  });
  describe("requests in flight, with REDIS_URL: counted across instances", () => {
    const AT_ONCE = 3;
    let store: RunningRedis;
    let f: RunningServer;
    let g: RunningServer;
    const held: Held[] = [];
    let frank: { authorization: string };
    /** Frank's long runs on f and on g (each instance runs its own). */
    let runs: { f: string; g: string };
    beforeAll(async () => {
      store = await redis();
      const env = {
        REDIS_URL: store.url,
        RATE_LIMIT_CONCURRENT_PER_CALLER: String(AT_ONCE),
        RATE_LIMIT_REQUESTS_PER_MINUTE: "0",
      };
      [f, g] = await Promise.all([instance(env), instance(env)]);
      frank = { authorization: `Bearer ${await issuer.sign({ sub: "frank", scope: ALL_SCOPES })}` };
      runs = { f: await longRun(f.url, frank), g: await longRun(g.url, frank) };
    });
    afterAll(async () => {
      const canceller = {
        authorization: `Bearer ${await issuer.sign({ sub: "canceller", scope: "workflows:cancel:all" })}`,
      };
      await Promise.allSettled([
        cancelRun(f.url, canceller, runs.f),
        cancelRun(g.url, canceller, runs.g),
      ]);
      for (const request of held) request.abort();
      await Promise.all(held.map((request) => request.answer));
    });

    const refusal = {
      jsonrpc: "2.0",
      id: null,
      error: {
        code: -32005,
        message: `Rate limit exceeded: at most ${AT_ONCE} requests in flight at once per caller; retry in 1 s`,
        data: { limit: AT_ONCE, retryAfterSeconds: 1 },
      },
    };
    /** The requests of `requests` answered so far, with their statuses and bodies. */
    const answered = (requests: Held[]) =>
      Promise.all(
        requests
          .filter((request) => request.settled)
          .map(async (request) => {
            const { status, body } = await request.answer;
            return { status, body: JSON.parse(body ?? "null") };
          }),
      );

    it("says so at startup", async () => {
      expect(await bannerLimits(f)).toBe(
        `${AT_ONCE} requests in flight at once, unlimited requests and 60 run starts a minute per caller, counted in Redis (shared by every instance)`,
      );
    });

    it("2 waits on one instance and 2 on the other, all at once: exactly one is refused, then the next request on either; once one ends, the next is accepted; another caller is unaffected", async () => {
      const four = [
        hold(f.url, frank, runs.f),
        hold(f.url, frank, runs.f),
        hold(g.url, frank, runs.g),
        hold(g.url, frank, runs.g),
      ];
      held.push(...four);
      await until(() => four.some((request) => request.settled), 5_000);
      expect(await answered(four)).toEqual([{ status: 429, body: refusal }]);
      for (const server of [f, g]) {
        const refused = await call(server, frank.authorization.slice("Bearer ".length));
        expect(refused.status).toBe(429);
        expect(refused.headers.get("retry-after")).toBe("1");
        expect(refused.headers.get("connection")).toBe("close");
        expect(await refused.json()).toEqual(refusal);
      }
      const other = await call(f, await issuer.sign({ sub: "not-frank" }));
      expect(other.status).toBe(200);
      await other.arrayBuffer();
      expect(four.filter((request) => !request.settled)).toHaveLength(AT_ONCE);

      // One of the waits ends, on whichever instance: either lets the next request in.
      four.find((request) => !request.settled)?.abort();
      for (const server of [g, f]) {
        const accepted = await whoamiUntil(server.url, frank, 200);
        expect(accepted.status).toBe(200);
        await accepted.arrayBuffer();
      }
    }, 30_000);

    it("when Redis goes away, each instance counts on its own: the bound holds, the servers stay up", async () => {
      await store.stop("SIGKILL");
      // Nothing can be counted in Redis now: f counts its own requests from nothing.
      const onF = await holdAtOnce(AT_ONCE + 1, f.url, frank, runs.f);
      held.push(...onF);
      expect(await answered(onF)).toEqual([{ status: 429, body: refusal }]);
      // g counts apart: Frank's waits on f are not its own.
      const onG = await call(g, frank.authorization.slice("Bearer ".length));
      expect(onG.status).toBe(200);
      await onG.arrayBuffer();

      const storeFailed = (log: Record<string, unknown>) =>
        log.msg === "rate-limit store failed" && log.limit === "in flight";
      await until(() => f.logs.some(storeFailed), 5_000);
      const warning = f.logs.find(storeFailed);
      expect(warning).toMatchObject({ level: 40 });
      expect(String(warning?.reason).length).toBeLessThanOrEqual(300);
      expect(f.child.exitCode).toBeNull();
      expect(g.child.exitCode).toBeNull();
    }, 30_000);
  });
}
