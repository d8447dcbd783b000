/**
 * The request's steps between the body parser and the MCP handler, in
 * process behind a real express app on loopback: classification (the
 * context every later step reads, and the 400s whoever sends them) and
 * authorization (only deciding: 403 with the step-up challenge, audited).
 */
import type { AddressInfo } from "node:net";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Auditor } from "../src/audit/auditor.js";
import { jsonBody } from "../src/http/json-body.js";
import { authorizeRequest } from "../src/mcp/authorize.js";
import { buildCatalogue } from "../src/mcp/catalogue.js";
import { classifyRequest, mcpRequestOf } from "../src/mcp/request.js";
import type { AuditEvent } from "../src/store/types.js";
import { tools } from "../tools/index.js";
import { modernRequest, postMcp, toolCall } from "./helpers/stack.js";

const catalogue = buildCatalogue(tools, {});
const refusals: AuditEvent[] = [];
const auditor: Auditor = {
  record: async () => {},
  refusal: (event) => {
    refusals.push(event);
  },
};
let url: string;
let close: () => void;

beforeAll(async () => {
  const app = express();
  app.use((req, _res, next) => {
    // What requireBearer sets, from a test header: the scopes the token would hold.
    const scopes = String(req.headers["x-scopes"] ?? "")
      .split(" ")
      .filter(Boolean);
    req.auth = {
      token: "t",
      clientId: "cli",
      scopes,
      extra: { issuer: "https://issuer.test", subject: "ada" },
    };
    next();
  });
  app.use(jsonBody);
  app.use(classifyRequest({ tools: catalogue.byName, backend: { taskNameOf: (name) => name } }));
  app.use(authorizeRequest({ resourceMetadataUrl: "https://mcp.test/prm", auditor }));
  app.post("/mcp", (req, res) => {
    const { era, messages, demands, runStarts, asksForProgress } = mcpRequestOf(req);
    res.json({
      era,
      methods: messages.map((m) => m.method),
      demands,
      runStarts,
      asksForProgress,
    });
  });
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(() => close?.());

const allScopes = { "x-scopes": "workflows:read workflows:run" };

describe("classification", () => {
  it("reads a 2025-era batch once: its methods, what each demands, the runs it starts", async () => {
    const batch = [
      toolCall("start_task_run", { task: "echo", input: [1] }, 1),
      toolCall("rerun_task_run", { id: "trn-1" }, 2),
      { jsonrpc: "2.0", id: 3, method: "tools/list" },
      { jsonrpc: "2.0", method: "notifications/initialized" },
    ];
    const res = await postMcp(url, batch, allScopes);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      era: "legacy",
      methods: ["tools/call", "tools/call", "tools/list", "notifications/initialized"],
      demands: [
        { target: "start_task_run", requirement: ["workflows:run:echo"], task: "echo" },
        { target: "rerun_task_run", requirement: ["workflows:read", "workflows:run"] },
        { target: "tools/list", requirement: [] },
        { target: "notifications/initialized", requirement: [] },
      ],
      runStarts: 2,
      asksForProgress: false,
    });
  });

  it("classifies a 2026-07-28 request by its envelope, and notes a progress token", async () => {
    const { body, headers } = modernRequest("tools/call", {
      name: "whoami",
      arguments: {},
    });
    (body.params as { _meta: Record<string, unknown> })._meta.progressToken = "p";
    const res = await postMcp(url, body, { ...headers, ...allScopes });
    expect(await res.json()).toMatchObject({
      era: "modern",
      methods: ["tools/call"],
      runStarts: 0,
      asksForProgress: true,
    });
  });

  it("refuses a malformed request with 400 whoever sends it, before any scope is looked at", async () => {
    const { body, headers } = modernRequest("tools/call", {
      name: "start_task_run",
      arguments: { task: "echo" },
    });
    const { "mcp-method": _method, ...withoutMethod } = headers;
    for (const scopes of [{}, allScopes]) {
      const before = refusals.length;
      const missing = await postMcp(url, body, { ...withoutMethod, ...scopes });
      expect(missing.status).toBe(400);
      expect(await missing.json()).toEqual({
        jsonrpc: "2.0",
        id: 1,
        error: {
          code: -32020,
          message:
            "Bad Request: the request headers and body disagree: the body names method tools/call but the required Mcp-Method header is absent",
          data: {
            mismatch: {
              header: "(missing)",
              body: "the body names method tools/call but the required Mcp-Method header is absent",
            },
          },
        },
      });
      const renamed = await postMcp(url, body, { ...headers, "mcp-name": "whoami", ...scopes });
      expect(renamed.status).toBe(400);
      expect(await renamed.json()).toMatchObject({ error: { code: -32020 } });
      expect(refusals.length).toBe(before);
    }
  });
});

describe("authorization", () => {
  it("refuses a call the token does not allow: 403, the step-up challenge, the audit; nothing reaches the handler", async () => {
    const res = await postMcp(url, toolCall("start_task_run", { task: "echo", input: [1] }, 9), {
      "x-scopes": "workflows:read",
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toBe(
      'Bearer error="insufficient_scope", error_description="start_task_run requires workflows:run:echo or workflows:run or workflows:admin; the token has workflows:read", scope="workflows:read workflows:run:echo", resource_metadata="https://mcp.test/prm"',
    );
    expect(await res.json()).toEqual({
      jsonrpc: "2.0",
      id: 9,
      error: {
        code: -32003,
        message:
          "Insufficient scope: start_task_run requires workflows:run:echo or workflows:run or workflows:admin; the token has workflows:read",
        data: {
          tool: "start_task_run",
          missingScopes: ["workflows:run:echo"],
          allowedBy: {
            "workflows:run:echo": ["workflows:run:echo", "workflows:run", "workflows:admin"],
          },
          grantedScopes: ["workflows:read"],
        },
      },
    });
    expect(refusals.at(-1)).toEqual({
      at: expect.any(String),
      issuer: "https://issuer.test",
      subject: "ada",
      clientId: "cli",
      tool: "start_task_run",
      task: "echo",
      decision: "refused",
      outcome: "insufficient_scope",
      reason: "workflows:run:echo",
    });
  });
});
