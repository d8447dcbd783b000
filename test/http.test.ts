import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  errorBody,
  PRM_URL,
  PUBLIC_URL,
  postMcp,
  RESOURCE,
  rpcMessages,
  type Stack,
  startStack,
  toolCall,
} from "./helpers/stack.js";

let stack: Stack;
let auth: { authorization: string };

/** The names of the tasks served, as list_tasks shows them. */
async function taskNames(): Promise<string[]> {
  const res = await postMcp(stack.server.url, toolCall("list_tasks"), auth);
  const [message] = await rpcMessages(res);
  const result = message?.result as { structuredContent: { tasks: { name: string }[] } };
  return result.structuredContent.tasks.map((task) => task.name);
}
beforeAll(async () => {
  stack = await startStack();
  auth = { authorization: `Bearer ${await stack.issuer.sign()}` };
});
afterAll(() => stack?.close());

describe("public endpoints", () => {
  it("GET /healthz answers 200 without a token", async () => {
    const res = await fetch(`${stack.server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it.each(["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"])(
    "GET %s is RFC 9728 metadata, CORS-readable",
    async (path) => {
      const res = await fetch(`${stack.server.url}${path}`, {
        headers: { origin: "https://claude.ai" },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      // Every fixed scope, then the per-task scopes of the tasks served now.
      const tasks = await taskNames();
      expect(await res.json()).toEqual({
        resource: RESOURCE,
        authorization_servers: [stack.issuer.issuer],
        scopes_supported: [
          "workflows:read",
          "workflows:read:all",
          "workflows:run",
          "workflows:cancel",
          "workflows:cancel:all",
          "workflows:approve",
          "workflows:admin",
          ...tasks.map((task) => `workflows:run:${task}`).sort(),
        ],
        bearer_methods_supported: ["header"],
        resource_name: "workflows-mcp",
      });
      expect(tasks).toEqual(expect.arrayContaining(["echo", "add", "fanOut"]));
    },
  );

  it("the metadata URL in challenges is the path-inserted one", () => {
    expect(PRM_URL).toBe(`${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp`);
  });

  it("an unknown path is a JSON 404", async () => {
    const res = await fetch(`${stack.server.url}/nope`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: "not_found",
      error_description: "No route for GET /nope",
    });
  });
});

describe("/mcp methods", () => {
  it.each(["GET", "DELETE", "PUT"])("%s answers 405 with Allow: POST", async (method) => {
    const res = await fetch(`${stack.server.url}/mcp`, { method, headers: auth });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
    expect(await res.json()).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: {
        code: -32000,
        message: "Method not allowed: this stateless endpoint takes POST only",
      },
    });
  });
});

describe("answer shapes: JSON unless there is progress to stream", () => {
  it("a 2025-era call without a progressToken: one JSON body with its Content-Length", async () => {
    const res = await postMcp(stack.server.url, toolCall("whoami", {}, 7), auth);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const text = await res.text();
    expect(res.headers.get("content-length")).toBe(String(Buffer.byteLength(text)));
    const message = JSON.parse(text);
    expect(message).toMatchObject({ jsonrpc: "2.0", id: 7 });
    expect(message.result.isError).toBeUndefined();
    expect(message.result.structuredContent.subject).toBe("user-123");
  });

  it("a 2025-era batch without progressTokens: one JSON array, an answer per request", async () => {
    const res = await postMcp(
      stack.server.url,
      [toolCall("whoami", {}, 1), toolCall("list_tasks", {}, 2)],
      auth,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    const messages = (await res.json()) as {
      id: number;
      result?: { structuredContent?: object };
    }[];
    expect(messages.map((m) => [m.id, Object.keys(m.result?.structuredContent ?? {})[0]])).toEqual([
      [1, "subject"],
      [2, "tasks"],
    ]);
  });

  it("a 2025-era call with a progressToken: SSE carrying the progress, then the result", async () => {
    const call = toolCall("start_task_run", { task: "sleep", input: [300], wait_seconds: 20 }, 9);
    const res = await postMcp(
      stack.server.url,
      { ...call, params: { ...call.params, _meta: { progressToken: "p-1" } } },
      auth,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const messages = await rpcMessages(res);
    const progress = messages.filter((m) => m.method === "notifications/progress");
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.map((m) => (m.params as { progressToken: unknown }).progressToken)).toEqual(
      progress.map(() => "p-1"),
    );
    const last = messages.at(-1) as {
      id: number;
      result: { structuredContent: { run: { status: string } } };
    };
    expect(last.id).toBe(9);
    expect(last.result.structuredContent.run.status).toBe("succeeded");
  });
});

describe("bad requests get the right 4xx and a JSON-RPC error", () => {
  it("malformed JSON: 400 parse error", async () => {
    const res = await postMcp(stack.server.url, '{"jsonrpc": "2.0", "id": 1,', auth);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32700, message: "Parse error: the body is not valid JSON" },
    });
  });

  it("an oversized body: 413", async () => {
    const big = JSON.stringify(
      toolCall("start_task_run", { task: "echo", input: ["x".repeat(6 * 1024 * 1024)] }),
    );
    const res = await postMcp(stack.server.url, big, auth);
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32600, message: "Request body exceeds 5242880 bytes" },
    });
  });

  it("valid JSON that is not JSON-RPC: 400 Invalid Request", async () => {
    const res = await postMcp(stack.server.url, { hello: "world" }, auth);
    expect(res.status).toBe(400);
    const body = await errorBody(res);
    expect(body.error.code).toBe(-32600);
    expect(body.id).toBeNull();
  });

  it("wrong Content-Type: 415", async () => {
    const res = await fetch(`${stack.server.url}/mcp`, {
      method: "POST",
      headers: {
        ...auth,
        "content-type": "text/plain",
        accept: "application/json, text/event-stream",
      },
      body: JSON.stringify(toolCall("whoami")),
    });
    expect(res.status).toBe(415);
    expect((await errorBody(res)).error.message).toBe(
      "Unsupported Media Type: Content-Type must be application/json",
    );
  });

  it("an Accept without text/event-stream: 406", async () => {
    const res = await postMcp(stack.server.url, toolCall("whoami"), {
      ...auth,
      accept: "application/json",
    });
    expect(res.status).toBe(406);
    expect((await errorBody(res)).error.message).toMatch(/Not Acceptable/);
  });

  it("an unknown tool: a JSON-RPC error naming it, status 200", async () => {
    const res = await postMcp(stack.server.url, toolCall("drop_database"), auth);
    expect(res.status).toBe(200);
    const [message] = await rpcMessages(res);
    expect(message).toMatchObject({ id: 1 });
    expect(JSON.stringify(message)).toContain("drop_database");
  });

  it("wrong argument types: a tool error, not a crash", async () => {
    const res = await postMcp(stack.server.url, toolCall("get_task_run", { id: 42 }), auth);
    expect(res.status).toBe(200);
    const [message] = await rpcMessages(res);
    const result = message?.result as
      | { isError?: boolean; content: { text: string }[] }
      | undefined;
    const error = message?.error as { message: string } | undefined;
    expect(result?.isError === true || error !== undefined).toBe(true);
    expect(JSON.stringify(message)).toMatch(/id/);
    expect(JSON.stringify(message)).not.toMatch(/\bat .*\.js:\d+/);
  });
});

describe("Origin (DNS rebinding protection)", () => {
  it("refuses a foreign Origin with 403", async () => {
    const res = await postMcp(stack.server.url, toolCall("whoami"), {
      ...auth,
      origin: "http://evil.test",
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      jsonrpc: "2.0",
      id: null,
      error: {
        code: -32003,
        message: "Origin http://evil.test is not allowed (see ALLOWED_ORIGINS)",
      },
    });
  });

  it("accepts the server's own origin, with CORS headers for the browser", async () => {
    const res = await postMcp(stack.server.url, toolCall("whoami"), {
      ...auth,
      origin: PUBLIC_URL,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe(PUBLIC_URL);
    expect(res.headers.get("access-control-expose-headers")).toBe(
      "WWW-Authenticate,Mcp-Protocol-Version,Retry-After",
    );
    expect(res.headers.get("vary")).toBe("Origin");
  });

  it("answers a preflight from an allowed origin", async () => {
    const res = await fetch(`${stack.server.url}/mcp`, {
      method: "OPTIONS",
      headers: { origin: PUBLIC_URL, "access-control-request-method": "POST" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(PUBLIC_URL);
  });

  it("accepts requests without Origin (curl, servers): no CORS headers but Vary", async () => {
    const res = await postMcp(stack.server.url, toolCall("whoami"), auth);
    expect(res.status).toBe(200);
    // Not a CORS request: nothing for a browser, but a cache must not hand this answer to one.
    expect(res.headers.get("vary")).toBe("Origin");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(res.headers.get("access-control-expose-headers")).toBeNull();
  });

  it("an allowed Origin gets its CORS headers on a refusal too (the browser reads the 401)", async () => {
    const res = await postMcp(stack.server.url, toolCall("whoami"), { origin: PUBLIC_URL });
    expect(res.status).toBe(401);
    expect(res.headers.get("access-control-allow-origin")).toBe(PUBLIC_URL);
    expect(res.headers.get("vary")).toBe("Origin");
    expect(res.headers.get("access-control-expose-headers")).toBe(
      "WWW-Authenticate,Mcp-Protocol-Version,Retry-After",
    );
  });
});

describe("request logs", () => {
  it("one line per request with the decision, and never the token", async () => {
    const token = await stack.issuer.sign({
      sub: "log-subject",
      client_id: "log-client",
      scope: "workflows:read",
    });
    await postMcp(stack.server.url, toolCall("list_tasks"), { authorization: `Bearer ${token}` });
    await postMcp(stack.server.url, toolCall("start_task_run", { task: "echo" }), {
      authorization: `Bearer ${token}`,
    });
    await waitFor(() => stack.server.logs.filter((l) => l.subject === "log-subject").length === 2);
    const lines = stack.server.logs.filter((l) => l.subject === "log-subject");
    expect(lines[0]).toMatchObject({
      msg: "request",
      method: "POST",
      path: "/mcp",
      status: 200,
      rpcMethod: "tools/call",
      tool: "list_tasks",
      clientId: "log-client",
      auth: "authenticated",
    });
    expect(typeof lines[0]?.durationMs).toBe("number");
    expect(lines[1]).toMatchObject({
      status: 403,
      tool: "start_task_run",
      auth: "insufficient_scope",
    });
    await fetch(`${stack.server.url}/.well-known/oauth-protected-resource/mcp?x=1`);
    await waitFor(() =>
      stack.server.logs.some((l) => l.path === "/.well-known/oauth-protected-resource/mcp"),
    );
    const metadata = stack.server.logs.find(
      (l) => l.path === "/.well-known/oauth-protected-resource/mcp",
    );
    // The real path, not the router's view after its mount point, and no query string.
    expect(metadata).toMatchObject({ method: "GET", status: 200 });
    const everything = stack.server.output.join("\n");
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(token.split(".")[2]);
    expect(everything.toLowerCase()).not.toContain("bearer ey");
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("AUTH_SCOPE_CLAIM", () => {
  it("reads scopes from the named claim too (Auth0's permissions)", async () => {
    const auth0 = await startStack({ AUTH_SCOPE_CLAIM: "permissions" });
    try {
      const token = await auth0.issuer.sign({ scope: undefined, permissions: ["workflows:read"] });
      const allowed = await postMcp(auth0.server.url, toolCall("list_tasks"), {
        authorization: `Bearer ${token}`,
      });
      expect(allowed.status).toBe(200);
      const refused = await postMcp(
        auth0.server.url,
        toolCall("start_task_run", { task: "echo" }),
        {
          authorization: `Bearer ${token}`,
        },
      );
      expect(refused.status).toBe(403);
      // without the setting, the same token carries no scopes
      const plain = await postMcp(stack.server.url, toolCall("list_tasks"), {
        authorization: `Bearer ${await stack.issuer.sign({ scope: undefined, permissions: ["workflows:read"] })}`,
      });
      expect(plain.status).toBe(403);
    } finally {
      await auth0.close();
    }
  });
});
