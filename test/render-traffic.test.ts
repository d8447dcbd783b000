import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { RunAccess, WorkflowBackend } from "../src/workflows/backend.js";
import { RequestBudget, TokenBucket } from "../src/workflows/render/budget.js";
import { RenderHttp } from "../src/workflows/render/http.js";
import { createRenderBackend, type RenderBackendOptions } from "../src/workflows/render/index.js";
import type { StartedBy } from "../src/workflows/run.js";
import { type FakeRenderApi, startFakeRenderApi } from "./render/fake-render-api.js";
import { MemoryOwnership } from "./render/memory-ownership.js";
import { API_KEY } from "./render/stack.js";

/**
 * Render API traffic does not grow with the number of callers: waiters share
 * one follower per run, followers are capped per instance, and every request
 * goes through the key's budget. Counted on what the fake receives.
 */

const logger = pino({ level: "silent" });
const alice: StartedBy = {
  issuer: "https://issuer.test",
  subject: "alice",
  at: "2026-01-05T10:00:00.000Z",
};
const ALICE: RunAccess = { kind: "own", owner: { issuer: alice.issuer, subject: alice.subject } };
const ALL: RunAccess = { kind: "all" };

let fake: FakeRenderApi | undefined;
let backend: WorkflowBackend | undefined;
afterEach(async () => {
  await backend?.close();
  await fake?.close();
  backend = undefined;
  fake = undefined;
});

async function setUp(options: Partial<RenderBackendOptions> = {}) {
  const api = await startFakeRenderApi({ apiKey: API_KEY });
  api.addTask("square");
  fake = api;
  const store = new MemoryOwnership();
  backend = await createRenderBackend({
    apiUrl: api.url,
    apiKey: API_KEY,
    workflow: "my-workflow",
    logger,
    ownership: store,
    ...options,
  });
  return { fake: api, backend, store };
}

const streams = (api: FakeRenderApi) => api.requests.filter((r) => r.path === "/task-runs/events");
const runReads = (api: FakeRenderApi) =>
  api.requests.filter((r) => r.method === "GET" && r.path.startsWith("/task-runs/trn-"));

describe("waiters on the same run", () => {
  it("share one event stream and a handful of reads, whatever their number", async () => {
    const { fake, backend } = await setUp();
    fake.script(
      "square",
      [
        { do: "start" },
        { do: "failAttempt", error: "worker lost" },
        { do: "retry" },
        { do: "succeed", result: 9 },
      ],
      150,
    );
    const run = await backend.startRun("square", [3], alice);
    const seen: string[][] = Array.from({ length: 50 }, () => []);
    const results = await Promise.all(
      seen.map((changes) =>
        backend.waitForRun(run.id, {
          timeoutMs: 10_000,
          access: ALICE,
          onChange: (r) => changes.push(r.status),
        }),
      ),
    );
    for (const result of results) {
      expect(result).toMatchObject({
        status: "succeeded",
        results: [9],
        retries: 1,
        startedBy: alice,
      });
    }
    for (const changes of seen) expect(changes.at(-1)).toBe("succeeded");
    expect(streams(fake).length).toBe(1);
    // One read for all 50 callers, one when the stream opens, one per event at most.
    expect(runReads(fake).length).toBeLessThanOrEqual(6);
  });

  it("stop being followed when the last one leaves", async () => {
    const { fake, backend } = await setUp();
    const run = fake.addRun("square", { status: "running" });
    const waits = Array.from({ length: 3 }, () =>
      backend.waitForRun(run.id, { timeoutMs: 300, access: ALL }),
    );
    for (const result of await Promise.all(waits)) expect(result.status).toBe("running");
    const reads = runReads(fake).length;
    // Longer than the first poll interval and the stream's catch-up read.
    await sleep(1_200);
    expect(runReads(fake).length).toBe(reads);
    expect(streams(fake).length).toBe(1);
    // A new waiter starts a new follower.
    await backend.waitForRun(run.id, { timeoutMs: 200, access: ALL });
    expect(streams(fake).length).toBe(2);
  });
});

describe("waiters on many runs", () => {
  it("stay within the instance's stream cap and check rate", async () => {
    const checks = { burst: 5, perMinute: 1_200 };
    const { fake, backend } = await setUp({
      follow: { maxStreams: 5, checks },
      budget: { reads: { burst: 200, perMinute: 60_000 } },
    });
    const runs = Array.from({ length: 50 }, () => fake.addRun("square", { status: "running" }));
    const started = Date.now();
    const waits = runs.map((run) => backend.waitForRun(run.id, { timeoutMs: 15_000, access: ALL }));
    await sleep(300);
    // Five streams while every run is still going (a finished run's stream goes to the next in line).
    expect(streams(fake).length).toBe(5);
    for (const run of runs) fake.apply(run.id, { do: "succeed", result: 1 });
    const results = await Promise.all(waits);
    const seconds = (Date.now() - started) / 1000;
    expect(results.map((r) => r.status)).toEqual(runs.map(() => "succeeded"));
    // Besides the one read of each run when its waiter came, the followers'
    // reads never outran the cap, however many runs were waited on.
    const followerReads = runReads(fake).length - runs.length;
    expect(followerReads).toBeGreaterThanOrEqual(runs.length);
    expect(followerReads).toBeLessThanOrEqual(checks.burst + (checks.perMinute / 60) * seconds);
  });
});

describe("the request budget", () => {
  it("paces a burst of starts, then refuses the rest clearly, sending nothing for them", async () => {
    const { fake, backend, store } = await setUp({
      budget: { writes: { burst: 2, perMinute: 60 }, maxWaitMs: 1_500 },
    });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => backend.startRun("square", [i], alice)),
    );
    expect(outcomes.map((o) => o.status)).toEqual([
      "fulfilled",
      "fulfilled",
      "fulfilled",
      "rejected",
      "rejected",
    ]);
    for (const outcome of outcomes.slice(3)) {
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({
        code: "ERR_LIMIT_REACHED",
        retryable: true,
        retryAfterSeconds: 2,
        message:
          "This server paces its calls to Render's API to stay within Render's rate limits (60 starts and cancels a minute) and is at that pace now; try again in 2 s",
      });
    }
    expect(fake.requests.filter((r) => r.method === "POST").length).toBe(3);
    expect(store.records.length).toBe(3);
  });

  it("lets reads wait their turn within the call's bound", async () => {
    const { fake, backend } = await setUp({
      budget: { reads: { burst: 2, perMinute: 600 }, maxWaitMs: 2_000 },
    });
    const runs = Array.from({ length: 5 }, () => fake.addRun("square", { status: "completed" }));
    const before = runReads(fake).length;
    const read = await Promise.all(runs.map((run) => backend.getRun(run.id, ALL)));
    expect(read.map((r) => r.id)).toEqual(runs.map((r) => r.id));
    expect(runReads(fake).length - before).toBe(5);
  });

  it("refuses a read whose turn is too far off, saying when to retry", async () => {
    const { fake, backend } = await setUp({
      budget: { reads: { burst: 1, perMinute: 6 }, maxWaitMs: 1_000 },
    });
    // Resolving the workflow at start took the one read there was.
    const before = fake.requests.length;
    await expect(backend.listTasks()).rejects.toMatchObject({
      code: "ERR_LIMIT_REACHED",
      retryAfterSeconds: 10,
      message:
        "This server paces its calls to Render's API to stay within Render's rate limits (6 reads a minute) and is at that pace now; try again in 10 s",
    });
    expect(fake.requests.length).toBe(before);
  });

  it("sends no request of a kind Render rate-limited until Render's window resets", async () => {
    const { fake, backend } = await setUp();
    fake.failNext(1, { status: 429, retryAfter: 30, path: "/tasks" });
    await expect(backend.listTasks()).rejects.toMatchObject({
      code: "ERR_BACKEND_UNAVAILABLE",
      retryAfterSeconds: 30,
    });
    const before = fake.requests.length;
    const run = fake.addRun("square", { status: "completed" });
    await expect(backend.getRun(run.id, ALL)).rejects.toMatchObject({
      code: "ERR_LIMIT_REACHED",
      retryAfterSeconds: 30,
    });
    expect(fake.requests.length).toBe(before);
  });
});

describe("the Render HTTP client", () => {
  it("heeds Ratelimit-Remaining: 0 on a success, for the rest of Render's window", async () => {
    let received = 0;
    const server = createServer((_req, res) => {
      received++;
      res
        .writeHead(200, {
          "content-type": "application/json",
          "ratelimit-limit": "400",
          "ratelimit-remaining": "0",
          "ratelimit-reset": "20",
        })
        .end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
      const http = new RenderHttp(
        url,
        API_KEY,
        logger,
        { timeoutMs: 1_000, maxRetries: 0, retryBudgetMs: 1_000 },
        new RequestBudget({
          reads: { burst: 10, perMinute: 600 },
          writes: { burst: 10, perMinute: 600 },
          maxWaitMs: 1_000,
        }),
      );
      await expect(http.request("GET", "/owners", { schema: z.object({}) })).resolves.toEqual({});
      await expect(http.request("GET", "/owners", { schema: z.object({}) })).rejects.toMatchObject({
        code: "ERR_LIMIT_REACHED",
        retryAfterSeconds: 20,
      });
      // Writes have a window of their own.
      await expect(http.request("POST", "/owners", { body: {} })).resolves.toBeUndefined();
      expect(received).toBe(2);
    } finally {
      server.close();
    }
  });
});

describe("a token bucket", () => {
  it("lets the burst go at once, then one turn per interval, and refuses turns too far off", () => {
    const bucket = new TokenBucket({ burst: 4, perMinute: 20 });
    const turns = Array.from({ length: 6 }, () => bucket.reserve(5_000));
    expect(turns).toEqual([
      { waitMs: 0 },
      { waitMs: 0 },
      { waitMs: 0 },
      { waitMs: 0 },
      { waitMs: 3_000 },
      { refusedForMs: 6_000 },
    ]);
  });
});
