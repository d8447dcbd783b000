/**
 * The common requests are answered by long-lived servers (src/mcp/shared.ts)
 * shared by every caller: over real HTTP, on both protocol eras, nothing of
 * one exchange may reach another, and an exchange that ends early stops its
 * work.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERAS, type Era, postMcp, postModern, type Stack, startStack } from "./helpers/stack.js";
import { type RenderStack, startRenderStack } from "./render/stack.js";

const whoami = { name: "whoami", arguments: {} };

/** A tools/call as a client of `era` sends it, with id 1 whoever sends it. */
function callAs(
  url: string,
  era: Era,
  token: string,
  params: Record<string, unknown>,
  signal?: AbortSignal,
) {
  if (era === "modern") return postModern(url, "tools/call", params, { token, id: 1, signal });
  return postMcp(
    url,
    { jsonrpc: "2.0", id: 1, method: "tools/call", params },
    { authorization: `Bearer ${token}` },
    signal,
  );
}

describe("callers sharing a server", () => {
  let stack: Stack;
  let tokens: Record<string, string>;
  beforeAll(async () => {
    stack = await startStack();
    tokens = {
      alice: await stack.issuer.sign({ sub: "alice", scope: "workflows:read" }),
      bob: await stack.issuer.sign({ sub: "bob", scope: "workflows:read workflows:run" }),
    };
  });
  afterAll(() => stack?.close());

  it.each(ERAS)(
    "%s: concurrent calls with the same id each get their own caller's answer",
    async (era) => {
      const callers = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? "alice" : "bob"));
      const answers = await Promise.all(
        callers.map(async (caller) => {
          const res = await callAs(stack.server.url, era, tokens[caller] as string, whoami);
          return {
            caller,
            status: res.status,
            type: res.headers.get("content-type"),
            body: (await res.json()) as { id: unknown; result: { structuredContent: object } },
          };
        }),
      );
      for (const { caller, status, type, body } of answers) {
        expect({ status, type, id: body.id }).toEqual({
          status: 200,
          type: "application/json",
          id: 1,
        });
        expect(body.result.structuredContent).toMatchObject({
          subject: caller,
          scopes: caller === "alice" ? ["workflows:read"] : ["workflows:read", "workflows:run"],
        });
      }
    },
  );

  it.each(ERAS)("%s: a refusal by the SDK's checks still gets the SDK's answer", async (era) => {
    // A tool that does not exist: the protocol layer's own error, as before.
    const res = await callAs(stack.server.url, era, tokens.alice as string, {
      name: "no_such_tool",
      arguments: {},
    });
    expect(res.status).toBe(200);
    const body: unknown = await res.json();
    expect(body).toMatchObject({ jsonrpc: "2.0", id: 1 });
    expect(JSON.stringify(body)).toMatch(/no_such_tool/);
  });
});

describe("the shared servers answer as the SDK's per-request serving does", () => {
  let stack: Stack;
  let token: string;
  beforeAll(async () => {
    stack = await startStack();
    token = await stack.issuer.sign({ scope: "workflows:read" });
  });
  afterAll(() => stack?.close());

  it("modern tools/list: alike from the shared server and per request", async () => {
    // An Mcp-Name header on tools/list means nothing to the SDK, but keeps it off the shared server.
    const shared = await postModern(stack.server.url, "tools/list", {}, { token });
    const perRequest = await postModern(
      stack.server.url,
      "tools/list",
      {},
      {
        token,
        headers: { "mcp-name": "anything" },
      },
    );
    expect([shared.status, perRequest.status]).toEqual([200, 200]);
    expect(shared.headers.get("content-type")).toBe(perRequest.headers.get("content-type"));
    const [a, b] = [await shared.json(), await perRequest.json()];
    expect(a).toEqual(b);
    expect((a as { result: { tools: unknown[] } }).result.tools.length).toBeGreaterThan(5);
  });

  it.each(["whoami", "list_tasks"])(
    "legacy %s: alike alone (shared server) and in a batch of one (per request)",
    async (name) => {
      const call = { jsonrpc: "2.0", id: 5, method: "tools/call", params: { name, arguments: {} } };
      const auth = { authorization: `Bearer ${token}` };
      const alone = await postMcp(stack.server.url, call, auth);
      const batch = await postMcp(stack.server.url, [call], auth);
      expect([alone.status, batch.status]).toEqual([200, 200]);
      // The SDK answers a batch of one with the one response, not an array.
      const [single, inBatch] = [await alone.json(), await batch.json()];
      expect(single).toEqual(inBatch);
      expect(single).toMatchObject({ id: 5, result: { structuredContent: {} } });
    },
  );
});

describe("an exchange that ends early", () => {
  let render: RenderStack;
  beforeAll(async () => {
    render = await startRenderStack({ prepare: (fake) => fake.addTask("square") });
  });
  afterAll(() => render?.close());

  const streams = () => render.fake.requests.filter((r) => r.path === "/task-runs/events").length;

  it.each(ERAS)(
    "%s: a client that leaves a wait stops it (the run stops being followed)",
    async (era) => {
      const run = render.fake.addRun("square", { status: "running" });
      const before = streams();
      const leaving = new AbortController();
      const wait = callAs(
        render.server.url,
        era,
        render.token,
        { name: "get_task_run", arguments: { id: run.id, wait_seconds: 30 } },
        leaving.signal,
      ).catch((error: unknown) => error);
      // The wait follows the run on Render's event stream.
      await expect.poll(streams, { timeout: 5_000 }).toBe(before + 1);
      leaving.abort();
      expect(await wait).toBeInstanceOf(Error);
      await sleep(300);
      // Had the first wait gone on, this one would join its follower: no new stream.
      const res = await callAs(render.server.url, era, render.token, {
        name: "get_task_run",
        arguments: { id: run.id, wait_seconds: 1 },
      });
      expect(res.status).toBe(200);
      expect(streams()).toBe(before + 2);
    },
  );
});
