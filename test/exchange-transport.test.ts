/**
 * The long-lived transport (src/mcp/fast-path.ts), in process, with
 * a real McpServer behind it: what it must guarantee when many HTTP
 * exchanges share one server.
 */
import { type AuthInfo, type JSONRPCRequest, McpServer } from "@modelcontextprotocol/server";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ExchangeTransport } from "../src/mcp/fast-path.js";

let server: McpServer;
let transport: ExchangeTransport;
/** What the `hold` tool saw when its exchange went away. */
let aborted: string[];
/** Releases every `hold` call waiting. */
let release: () => void;

const call = (name: string, args: Record<string, unknown> = {}, id: string | number = 1) =>
  ({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name, arguments: args },
  }) as JSONRPCRequest;
const auth = (subject: string): AuthInfo => ({
  token: "t",
  clientId: "c",
  scopes: [],
  extra: { subject },
});
const never = new Promise<never>(() => {});
/** Promise.withResolvers, which Node 20 lacks. */
function deferred() {
  let resolve = () => {};
  const promise = new Promise<void>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

beforeEach(async () => {
  aborted = [];
  let held = deferred();
  release = () => {
    held.resolve();
    held = deferred();
  };
  server = new McpServer({ name: "t", version: "1" });
  server.registerTool(
    "whoami",
    { inputSchema: z.object({ wait: z.number().optional() }) },
    async ({ wait }, ctx) => {
      if (wait) await new Promise((resolve) => setTimeout(resolve, wait));
      return { content: [{ type: "text", text: String(ctx.http?.authInfo?.extra?.subject) }] };
    },
  );
  server.registerTool("hold", { inputSchema: z.object({}) }, async (_args, ctx) => {
    const { signal } = ctx.mcpReq;
    await Promise.race([
      held.promise,
      new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true })),
    ]);
    if (signal.aborted) aborted.push(String(signal.reason));
    return { content: [{ type: "text", text: "released" }] };
  });
  transport = new ExchangeTransport();
  await server.connect(transport);
});
afterEach(() => server.close());

const textOf = (outcome: Awaited<ReturnType<ExchangeTransport["exchange"]>>) =>
  outcome.kind === "answered" && "result" in outcome.response
    ? (outcome.response.result.content as { text: string }[])[0]?.text
    : undefined;

describe("ExchangeTransport", () => {
  it("answers each exchange with its own client's id, whoever else used the same id", async () => {
    // Alice's call finishes last; both clients chose id 1.
    const [alice, bob] = await Promise.all([
      transport.exchange(call("whoami", { wait: 30 }), { authInfo: auth("alice"), closed: never }),
      transport.exchange(call("whoami"), { authInfo: auth("bob"), closed: never }),
    ]);
    expect(alice).toMatchObject({ kind: "answered", response: { jsonrpc: "2.0", id: 1 } });
    expect(bob).toMatchObject({ kind: "answered", response: { jsonrpc: "2.0", id: 1 } });
    expect([textOf(alice), textOf(bob)]).toEqual(["alice", "bob"]);
    const named = await transport.exchange(call("whoami", {}, "req-a"), {
      authInfo: auth("carol"),
      closed: never,
    });
    expect(named).toMatchObject({ kind: "answered", response: { id: "req-a" } });
    expect(transport.pending).toBe(0);
  });

  it("an exchange that closes first cancels its handler, and only its own", async () => {
    const gone = deferred();
    const leaving = transport.exchange(call("hold", {}, 1), { closed: gone.promise });
    const staying = transport.exchange(call("hold", {}, 1), { closed: never });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(transport.pending).toBe(2);
    gone.resolve();
    expect(await leaving).toEqual({ kind: "gone" });
    await expect.poll(() => aborted).toEqual(["The client closed the HTTP exchange"]);
    release();
    expect(textOf(await staying)).toBe("released");
    expect(transport.pending).toBe(0);
  });

  it("a client cannot cancel another's request by naming the server's ids", async () => {
    // The first exchange of a fresh transport gets the server's id 0.
    const victim = transport.exchange(call("hold"), { closed: never });
    const forged = {
      jsonrpc: "2.0",
      id: 2,
      method: "notifications/cancelled",
      params: { requestId: 0, reason: "forged" },
    } as JSONRPCRequest;
    expect(await transport.exchange(forged, { closed: never })).toEqual({ kind: "refused" });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(aborted).toEqual([]);
    release();
    expect(textOf(await victim)).toBe("released");
  });

  it("what the protocol layer refuses before any handler runs is 'refused', not answered", async () => {
    const unknownMethod = { jsonrpc: "2.0", id: 3, method: "nope/nothing" } as JSONRPCRequest;
    expect(await transport.exchange(unknownMethod, { closed: never })).toEqual({
      kind: "refused",
    });
    expect(transport.pending).toBe(0);
  });

  it("a handler's error is an answer (the handler ran): an unknown tool", async () => {
    const outcome = await transport.exchange(call("missing", {}, 4), { closed: never });
    expect(outcome.kind).toBe("answered");
    const response = outcome.kind === "answered" ? outcome.response : undefined;
    expect(response).toMatchObject({ id: 4 });
  });

  it("the tools' scopeChallenge refuses before dispatch", async () => {
    const guarded = new McpServer({ name: "t", version: "1" });
    let ran = false;
    guarded.registerTool(
      "guarded",
      {
        inputSchema: z.object({}),
        scopeChallenge: ({ authInfo }) =>
          authInfo?.scopes.includes("x") ? undefined : { scopes: ["x"] },
      },
      async () => {
        ran = true;
        return { content: [] };
      },
    );
    const exchange = new ExchangeTransport();
    await guarded.connect(exchange);
    const without = { ...auth("a"), scopes: [] };
    expect(await exchange.exchange(call("guarded"), { authInfo: without, closed: never })).toEqual({
      kind: "refused",
    });
    expect(ran).toBe(false);
    const withX = { ...auth("a"), scopes: ["x"] };
    expect(
      (await exchange.exchange(call("guarded"), { authInfo: withX, closed: never })).kind,
    ).toBe("answered");
    expect(ran).toBe(true);
    await guarded.close();
  });

  it("a scopeChallenge that throws is a refusal too (the SDK's serving answers it)", async () => {
    const failing = new McpServer({ name: "t", version: "1" });
    failing.registerTool(
      "broken",
      {
        inputSchema: z.object({}),
        scopeChallenge: () => {
          throw new Error("policy store down");
        },
      },
      async () => ({ content: [] }),
    );
    const exchange = new ExchangeTransport();
    await failing.connect(exchange);
    expect(await exchange.exchange(call("broken"), { closed: never })).toEqual({ kind: "refused" });
    await failing.close();
  });

  it("a protocol layer that throws while taking a request: refused, nothing left pending", async () => {
    const exchange = new ExchangeTransport();
    exchange.onmessage = () => {
      throw new Error("dispatch failed");
    };
    expect(await exchange.exchange(call("whoami"), { closed: never })).toEqual({ kind: "refused" });
    expect(exchange.pending).toBe(0);
  });

  it("closing settles every pending exchange as gone and refuses new ones", async () => {
    const pending = transport.exchange(call("hold"), { closed: never });
    await new Promise((resolve) => setTimeout(resolve, 10));
    await transport.close();
    expect(await pending).toEqual({ kind: "gone" });
    await expect(transport.exchange(call("whoami"), { closed: never })).rejects.toThrow(
      /not connected/,
    );
  });
});
