/**
 * Target (b) of `npm run bench`: the same tools with the same schemas, served
 * the SDK's documented way with no authorization at all. Runs as its own
 * process (so its memory is its own), on PORT, with the embedded engine's
 * fixture tasks (LOCAL_TASKS_MODULE) in a fresh SQLite file (LOCAL_DB_PATH).
 *
 * BENCH_BASELINE selects the serving:
 * - `transport` (the baseline the issue names): per request a new McpServer
 *   and a NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined,
 *   enableJsonResponse: true }), connected, then handleRequest(req, res,
 *   req.body) under express.json(): the SDK's 2025-era stateless example.
 * - `handler` (informational): v2's documented entry, createMcpHandler(factory)
 *   + toNodeHandler, which also serves 2026-07-28 requests.
 *
 * Each tool is registered the documented way: z.object(tool.input) and
 * z.object(tool.output) as schemas (the SDK converts them to JSON Schema and
 * validates with them itself), the tool's own handler, and a context that
 * authorizes nothing: an anonymous caller who sees every run.
 */
import { NodeStreamableHTTPServerTransport, toNodeHandler } from "@modelcontextprotocol/node";
import { type CallToolResult, createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import express from "express";
import { z } from "zod";
import { createLogger } from "../../src/logger.js";
import type { ToolContext } from "../../src/mcp/tool.js";
import { createStore } from "../../src/store/index.js";
import { createLocalBackend } from "../../src/workflows/local/index.js";
import { tools } from "../../tools/index.js";

const mode = process.env.BENCH_BASELINE === "handler" ? "handler" : "transport";
const port = Number(process.env.PORT ?? 0);
const dbPath = process.env.LOCAL_DB_PATH ?? "bench-baseline.sqlite";
const logger = createLogger(process.env.LOG_LEVEL ?? "warn");

/** The same text src/mcp/server.ts sends, so initialize answers are the same size. */
const INSTRUCTIONS =
  "Trigger and inspect workflow task runs. Start with list_tasks, run one with start_task_run, follow it with get_task_run (wait_seconds to wait) and get_task_run_logs. whoami shows what your token allows.";

const backend = await createLocalBackend({
  dbPath,
  tasksModule: process.env.LOCAL_TASKS_MODULE,
  logger,
});
const audit = await createStore({ sqlitePath: dbPath, logger });
const catalogue = tools.map(({ name, requires }) => ({ name, requires }));
const anonymous = { issuer: "", subject: "anonymous", clientId: "", scopes: [] };

function contextOf(signal: AbortSignal): ToolContext {
  return {
    caller: anonymous,
    backend,
    audit,
    catalogue,
    signal,
    budget: { admit: () => {} },
    approvals: undefined,
    start: async (task, input) => ({
      run: await backend.startRun(task, input, {
        issuer: "",
        subject: "anonymous",
        at: new Date().toISOString(),
      }),
    }),
    access: () => ({ kind: "all" }),
    startedBy: () => ({ issuer: "", subject: "anonymous", at: new Date().toISOString() }),
    waitForRun: (id, seconds) =>
      backend.waitForRun(id, { timeoutMs: seconds * 1000, signal, access: { kind: "all" } }),
  };
}

function newServer(): McpServer {
  const server = new McpServer(
    { name: "workflows-mcp-baseline", version: "0.0.0" },
    { capabilities: { tools: { listChanged: false } }, instructions: INSTRUCTIONS },
  );
  for (const tool of tools) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: z.object(tool.input),
        outputSchema: z.object(tool.output),
        annotations: { title: tool.title, ...tool.annotations },
      },
      async (args: unknown, ctx): Promise<CallToolResult> => {
        const output = await tool.handler(
          args as Parameters<typeof tool.handler>[0],
          contextOf(ctx.mcpReq.signal),
        );
        return {
          structuredContent: output.structuredContent,
          content: [{ type: "text", text: output.text }],
        };
      },
    );
  }
  return server;
}

const app = express();
app.disable("x-powered-by");
app.use(express.json({ limit: "1mb" }));

if (mode === "transport") {
  app.post("/mcp", async (req, res) => {
    const server = newServer();
    const transport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (error) {
      logger.error({ err: error }, "baseline request failed");
      if (!res.headersSent) res.status(500).json({ error: "internal" });
    }
  });
} else {
  const handler = createMcpHandler(() => newServer(), { legacy: "stateless" });
  const serve = toNodeHandler(handler);
  app.post("/mcp", (req, res) => serve(req, res, req.body));
}

const server = app.listen(port, "127.0.0.1", () => {
  process.stderr.write(`baseline (${mode}) listening on ${JSON.stringify(server.address())}\n`);
});
const stop = () => {
  server.close();
  server.closeAllConnections();
  void Promise.allSettled([backend.close({ graceMs: 0 }), audit.close()]).then(() =>
    process.exit(0),
  );
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
