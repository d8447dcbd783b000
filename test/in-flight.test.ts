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
import {
  ALL_SCOPES,
  postMcp,
  rpcMessages,
  type Stack,
  startStack,
  toolCall,
} from "./helpers/stack.js";

// Requests in flight per caller (RATE_LIMIT_CONCURRENT_PER_CALLER, default 20):
// a wait holds its connection for up to 120 s, so one caller's waits could
// otherwise hold every connection the server accepts.

/** What the 21st request in flight is answered. */
const REFUSAL = {
  jsonrpc: "2.0",
  id: null,
  error: {
    code: -32005,
    message: "Rate limit exceeded: at most 20 requests in flight at once per caller; retry in 1 s",
    data: { limit: 20, retryAfterSeconds: 1 },
  },
};

describe("requests in flight are bounded per caller", () => {
  let stack: Stack;
  let canceller: Record<string, string>;
  beforeAll(async () => {
    stack = await startStack({ MAX_CONNECTIONS: "120" });
    canceller = await as("canceller", "workflows:cancel:all");
  });
  afterAll(() => stack?.close());

  const as = async (sub: string, scope = ALL_SCOPES) => ({
    authorization: `Bearer ${await stack.issuer.sign({ sub, scope })}`,
  });
  const whoami = (auth: Record<string, string>) =>
    postMcp(stack.server.url, toolCall("whoami"), auth, AbortSignal.timeout(5_000));
  const statuses = (held: Held[]) => Promise.all(held.map(async (h) => (await h.answer).status));

  it("with MAX_CONNECTIONS=120 and 150 concurrent waits from one caller, /healthz answers within 1 s and another caller's whoami succeeds", async () => {
    const alice = await as("crowd-alice");
    const url = stack.server.url;
    const runId = await longRun(url, alice);
    const waits = Array.from({ length: 150 }, () => hold(url, alice, runId));
    try {
      // What the server does not hold is answered at once (429) or dropped at the connection cap.
      await until(() => waits.filter((w) => w.settled).length >= 130, 5_000);

      const started = Date.now();
      const health = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) });
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: "ok" });
      expect(Date.now() - started).toBeLessThan(1_000);

      const res = await whoami(await as("crowd-bob"));
      expect(res.status).toBe(200);
      const [message] = await rpcMessages(res);
      expect(message?.result).toMatchObject({ structuredContent: { subject: "crowd-bob" } });

      // Alice's waits: exactly 20 held, every other one refused with 429 or never let in.
      expect(waits.filter((w) => !w.settled)).toHaveLength(20);
      const answered = await statuses(waits.filter((w) => w.settled));
      expect(answered.filter((status) => status !== 429 && status !== 0)).toEqual([]);
      // The connection cap drops at most 30 of them (and as many as were already open).
      expect(answered.filter((status) => status === 429).length).toBeGreaterThanOrEqual(90);
    } finally {
      await cancelRun(url, canceller, runId);
      for (const wait of waits) wait.abort();
      await statuses(waits);
    }
  }, 30_000);

  it("the 21st request one caller has in flight is refused at once (429, Retry-After, Connection: close); once one ends the next is accepted; another caller is unaffected", async () => {
    const carol = await as("count-carol");
    const url = stack.server.url;
    const runId = await longRun(url, carol);
    const waits = await holdAtOnce(21, url, carol, runId);
    try {
      const refused = waits.filter((w) => w.settled);
      expect(refused).toHaveLength(1);
      const answer = await refused[0]?.answer;
      expect(answer?.status).toBe(429);
      expect(answer?.headers?.get("retry-after")).toBe("1");
      expect(answer?.headers?.get("connection")).toBe("close");
      expect(answer?.headers?.get("content-type")).toBe("application/json; charset=utf-8");
      expect(JSON.parse(answer?.body ?? "")).toEqual(REFUSAL);
      // Any request: the 20 waits are all there is room for.
      const probe = await whoami(carol);
      expect(probe.status).toBe(429);
      expect(await probe.json()).toEqual(REFUSAL);

      // Another caller is not counted with Carol.
      const other = await whoami(await as("count-dave"));
      expect(other.status).toBe(200);
      await other.arrayBuffer();

      // One of Carol's waits ends (its client goes away): the next request is accepted...
      const held = waits.filter((w) => !w.settled);
      expect(held).toHaveLength(20);
      held[0]?.abort();
      expect((await held[0]?.answer)?.status).toBe(0);
      const accepted = await whoamiUntil(url, carol, 200);
      expect(accepted.status).toBe(200);
      await accepted.arrayBuffer();
      // ... and of two new waits, one takes the freed place and the other is refused.
      const two = await holdAtOnce(2, url, carol, runId);
      waits.push(...two);
      expect(await statuses(two.filter((w) => w.settled))).toEqual([429]);
      expect(waits.filter((w) => !w.settled)).toHaveLength(20);

      // The refusal is logged as a rate-limit decision, with the caller.
      const refusal = (l: Record<string, unknown>) =>
        l.subject === "count-carol" && l.status === 429;
      await until(() => stack.server.logs.some(refusal), 5_000);
      expect(stack.server.logs.find(refusal)).toMatchObject({
        method: "POST",
        path: "/mcp",
        auth: "rate_limited",
      });
    } finally {
      await cancelRun(url, canceller, runId);
      for (const wait of waits) wait.abort();
      await statuses(waits);
    }
  }, 30_000);
});
