import { request } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskRun } from "../src/workflows/run.js";
import {
  ALL_SCOPES,
  errorBody,
  postMcp,
  rpcMessages,
  type Stack,
  startStack,
  toolCall,
} from "./helpers/stack.js";

/** A raw HTTP request, so the test controls headers fetch will not let it set (Host). */
function rawPost(
  url: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/mcp`, { method: "POST", headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        text += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("the HTTP surface is bounded", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      REQUEST_TIMEOUT_SECONDS: "2",
      MAX_CONNECTIONS: "8",
      RATE_LIMIT_REQUESTS_PER_MINUTE: "0",
    });
  });
  afterAll(() => stack?.close());

  it("refuses a Host that is not the server's (DNS rebinding), before authentication", async () => {
    const token = await stack.issuer.sign();
    const res = await rawPost(
      stack.server.url,
      {
        host: "attacker.example:80",
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${token}`,
      },
      JSON.stringify(toolCall("whoami")),
    );
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32000, message: "Invalid Host: attacker.example" },
    });
  });

  it("accepts the PUBLIC_URL's host and loopback names", async () => {
    const token = await stack.issuer.sign();
    for (const host of ["mcp.test", "localhost:3000", "127.0.0.1"]) {
      const res = await rawPost(
        stack.server.url,
        {
          host,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          authorization: `Bearer ${token}`,
        },
        JSON.stringify(toolCall("whoami")),
      );
      expect(res.status).toBe(200);
    }
  });

  it("cuts off a client that sends its body too slowly", async () => {
    const { port } = stack.server;
    const token = await stack.issuer.sign();
    const socket = connect(port, "127.0.0.1");
    const answer = new Promise<string>((resolve) => {
      let text = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => {
        text += chunk;
      });
      socket.on("close", () => resolve(text));
    });
    socket.write(
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
    );
    // Nothing more is sent: the server must end the exchange itself (408), not wait forever.
    expect(await answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("caps concurrent connections", async () => {
    const sockets = Array.from({ length: 12 }, () => connect(stack.server.port, "127.0.0.1"));
    const closed = await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), 1_500);
            socket.on("close", () => {
              clearTimeout(timer);
              resolve(true);
            });
            socket.on("error", () => {});
          }),
      ),
    );
    for (const socket of sockets) socket.destroy();
    // The server drops what is over the cap at once; the rest stay open.
    expect(closed.filter(Boolean).length).toBeGreaterThanOrEqual(4);
    expect(closed.filter((c) => !c).length).toBeGreaterThanOrEqual(1);
  });

  it("logs a bounded line for a 4 MB JSON-RPC method name", async () => {
    const token = await stack.issuer.sign({ sub: "long-method" });
    const method = "x".repeat(4 * 1024 * 1024);
    await postMcp(
      stack.server.url,
      { jsonrpc: "2.0", id: 1, method, params: {} },
      { authorization: `Bearer ${token}` },
    );
    const deadline = Date.now() + 5_000;
    while (!stack.server.logs.some((l) => l.subject === "long-method") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const line = stack.server.output.find((l) => l.includes('"subject":"long-method"'));
    expect(line).toBeDefined();
    expect((line as string).length).toBeLessThan(2_000);
    expect(line).toContain(`"rpcMethod":"${"x".repeat(127)}…"`);
  });
});

describe("per-caller rate limits", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      RATE_LIMIT_REQUESTS_PER_MINUTE: "5",
      RATE_LIMIT_RUNS_PER_MINUTE: "2",
    });
  });
  afterAll(() => stack?.close());

  it("429 with Retry-After and a JSON-RPC error once a caller's budget is spent; other callers go on", async () => {
    const alice = { authorization: `Bearer ${await stack.issuer.sign({ sub: "alice" })}` };
    const bob = { authorization: `Bearer ${await stack.issuer.sign({ sub: "bob" })}` };
    for (let i = 0; i < 5; i++) {
      expect((await postMcp(stack.server.url, toolCall("whoami"), alice)).status).toBe(200);
    }
    const refused = await postMcp(stack.server.url, toolCall("whoami"), alice);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = await errorBody(refused);
    expect(body.error.code).toBe(-32005);
    expect(body.error.message).toMatch(
      /^Rate limit exceeded: at most 5 requests a minute per caller; retry in \d+ s$/,
    );
    expect(body.error.data).toEqual({
      limit: 5,
      window: "1 minute",
      retryAfterSeconds: retryAfter,
    });
    expect((await postMcp(stack.server.url, toolCall("whoami"), bob)).status).toBe(200);
  });

  it("run starts have their own, smaller budget", async () => {
    const carol = { authorization: `Bearer ${await stack.issuer.sign({ sub: "carol" })}` };
    const start = () =>
      postMcp(stack.server.url, toolCall("start_task_run", { task: "echo", input: [1] }), carol);
    expect((await start()).status).toBe(200);
    expect((await start()).status).toBe(200);
    const third = await start();
    expect(third.status).toBe(429);
    expect((await errorBody(third)).error.message).toMatch(
      /^Rate limit exceeded: at most 2 run starts a minute per caller/,
    );
    // Reading is not starting.
    expect((await postMcp(stack.server.url, toolCall("list_task_runs"), carol)).status).toBe(200);
  });

  it("every tool that starts a run counts: rerun_task_run too", async () => {
    const erin = { authorization: `Bearer ${await stack.issuer.sign({ sub: "erin" })}` };
    const call = (name: string, args: Record<string, unknown>) =>
      postMcp(stack.server.url, toolCall(name, args), erin);
    const [started] = await rpcMessages(await call("start_task_run", { task: "echo", input: [1] }));
    const result = started?.result as { structuredContent: { run: { id: string } } } | undefined;
    const id = result?.structuredContent.run.id;
    expect(id).toMatch(/\S/);
    expect((await call("rerun_task_run", { id })).status).toBe(200);
    const third = await call("rerun_task_run", { id });
    expect(third.status).toBe(429);
    expect((await errorBody(third)).error.message).toMatch(
      /^Rate limit exceeded: at most 2 run starts a minute per caller/,
    );
  });

  it("a batch starting several runs counts each of them", async () => {
    const dave = { authorization: `Bearer ${await stack.issuer.sign({ sub: "dave" })}` };
    const batch = [1, 2, 3].map((id) =>
      toolCall("start_task_run", { task: "echo", input: [id] }, id),
    );
    expect((await postMcp(stack.server.url, batch, dave)).status).toBe(429);
  });

  it("before authentication, a client address has a budget too", async () => {
    // Four times a caller's (5): 20 unauthenticated requests, then 429 instead of 401.
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      statuses.push((await postMcp(stack.server.url, toolCall("whoami"))).status);
      if (statuses.at(-1) === 429) break;
    }
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.slice(0, -1).every((s) => s === 401 || s === 200)).toBe(true);
  });
});

describe("the embedded engine's bounds reach the caller as clear tool errors", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      LOCAL_MAX_THREADS: "2",
      LOCAL_MAX_SUBTASK_DEPTH: "1",
      LOCAL_MAX_PENDING_PER_CALLER: "2",
      LOCAL_MAX_PENDING: "4",
      RATE_LIMIT_REQUESTS_PER_MINUTE: "0",
      RATE_LIMIT_RUNS_PER_MINUTE: "0",
    });
  });
  afterAll(() => stack?.close());

  const as = async (sub: string) => ({
    authorization: `Bearer ${await stack.issuer.sign({ sub, scope: ALL_SCOPES })}`,
  });
  const call = async (
    auth: Record<string, string>,
    name: string,
    args: Record<string, unknown>,
  ) => {
    const [message] = await rpcMessages(
      await postMcp(stack.server.url, toolCall(name, args), auth),
    );
    return message?.result as {
      isError?: boolean;
      content: { text: string }[];
      structuredContent?: { run: TaskRun };
      _meta?: Record<string, unknown>;
    };
  };

  it("a caller's backlog is bounded, and another caller is served first when a thread frees", async () => {
    const alice = await as("alice");
    const bob = await as("bob");
    // Roots hold at most one thread (2 threads, subtasks 1 deep): one runs, two wait, the fourth is refused.
    const running = await call(alice, "start_task_run", { task: "sleep", input: [60_000] });
    const waiting = [
      await call(alice, "start_task_run", { task: "sleep", input: [60_000] }),
      await call(alice, "start_task_run", { task: "sleep", input: [60_000] }),
    ];
    const refused = await call(alice, "start_task_run", { task: "sleep", input: [60_000] });
    expect(refused.isError).toBe(true);
    expect(refused._meta?.["workflows-mcp/error"]).toEqual({
      code: "ERR_LIMIT_REACHED",
      retryable: true,
      retryAfterSeconds: 30,
    });
    expect(refused.content[0]?.text).toMatch(/2/);

    const bobs = await call(bob, "start_task_run", { task: "echo", input: ["bob"] });
    expect(bobs.structuredContent?.run.status).toBe("pending");
    // Free the one root thread: Bob, served least recently, goes before Alice's backlog.
    await call(alice, "cancel_task_run", { id: running.structuredContent?.run.id });
    const done = await call(bob, "get_task_run", {
      id: bobs.structuredContent?.run.id,
      wait_seconds: 20,
    });
    expect(done.structuredContent?.run.status).toBe("succeeded");
    for (const run of waiting) {
      await call(alice, "cancel_task_run", { id: run.structuredContent?.run.id });
    }
  });
});
