/**
 * Target (c) of `npm run bench`: plain express answering one fixed JSON-RPC
 * response (the ceiling of express + Node HTTP on this machine). The body is
 * read from BENCH_FIXED_FILE (the driver stores there what the baseline
 * answered to the same tools/call, so the ceiling sends the same bytes), or
 * a small fixed result without it.
 */
import { readFileSync } from "node:fs";
import express from "express";

const FIXED: unknown = process.env.BENCH_FIXED_FILE
  ? JSON.parse(readFileSync(process.env.BENCH_FIXED_FILE, "utf8"))
  : {
      jsonrpc: "2.0",
      id: 1,
      result: { content: [{ type: "text", text: "ok" }], structuredContent: { ok: true } },
    };

const app = express();
app.disable("x-powered-by");
app.use(express.json({ limit: "1mb" }));
app.post("/mcp", (_req, res) => {
  res.json(FIXED);
});

const server = app.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.stderr.write(`ceiling listening on ${JSON.stringify(server.address())}\n`);
});
const stop = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
