import { z } from "zod";
import { defineTool, READ_ONLY } from "../src/mcp/tool.js";
import { TaskRun, TaskRunStatus } from "../src/workflows/run.js";

export default defineTool({
  name: "list_task_runs",
  title: "List task runs",
  description:
    "Lists task runs, newest first, optionally only those of one task or in given statuses. Items may omit input, results and error (get_task_run has them). Pass next_cursor back as cursor for the next page. On Render, status filtering happens on this server, which reads at most 10 of Render's pages of 100 runs per call, so a page can hold fewer than `limit` runs while next_cursor is still set.",
  scopes: ["workflows:read"],
  annotations: READ_ONLY,
  input: {
    task: z.string().min(1).optional().describe("Only runs of this task"),
    status: z.array(TaskRunStatus).min(1).optional().describe("Only runs in one of these statuses"),
    limit: z.number().int().min(1).max(100).default(20).describe("Runs per page (1–100)"),
    cursor: z.string().min(1).optional().describe("next_cursor from the previous page"),
  },
  output: {
    runs: z.array(TaskRun),
    next_cursor: z.string().optional().describe("Present when there may be more runs"),
  },
  async handler({ task, status, limit, cursor }, { backend }) {
    const page = await backend.listRuns({ task, status, limit, cursor });
    const more = page.nextCursor ? "; more with next_cursor" : "";
    return {
      structuredContent: { runs: page.runs, next_cursor: page.nextCursor },
      text: `${page.runs.length} runs${more}${page.runs.map((r) => `\n${r.id} ${r.task} ${r.status}`).join("")}`,
    };
  },
});
