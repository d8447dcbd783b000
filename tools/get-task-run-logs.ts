import { z } from "zod";
import { cursor, nextCursor, runId, timestamp } from "../src/mcp/inputs.js";
import { defineTool, READ_ONLY } from "../src/mcp/tool.js";
import { LogLine } from "../src/workflows/run.js";

export default defineTool({
  name: "get_task_run_logs",
  title: "Get a task run's logs",
  description:
    "Returns what a task run logged (timestamp, level where known, message), oldest first and newest last. Narrow with start_time/end_time (ISO 8601); pass next_cursor back as cursor for more.",
  requires: { scopes: ["workflows:read"] },
  annotations: READ_ONLY,
  input: {
    id: runId,
    start_time: timestamp.optional().describe("Only lines at or after this time"),
    end_time: timestamp.optional().describe("Only lines before this time"),
    limit: z.number().int().min(1).max(1000).default(100).describe("Lines per page (1–1000)"),
    cursor,
  },
  output: {
    lines: z.array(LogLine),
    next_cursor: nextCursor,
  },
  async handler({ id, start_time, end_time, limit, cursor }, { backend, access }) {
    const page = await backend.getRunLogs(
      id,
      { startTime: start_time, endTime: end_time, limit, cursor },
      access("read"),
    );
    const body = page.lines.map((l) => `${l.timestamp} ${l.level ?? "-"} ${l.message}`).join("\n");
    return {
      structuredContent: { lines: page.lines, next_cursor: page.nextCursor },
      text: page.lines.length > 0 ? body : `No log lines for run ${id}`,
    };
  },
});
