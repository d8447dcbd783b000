import { z } from "zod";
import { ALL_RUNS_SCOPE } from "../src/auth/scopes.js";
import { cursor, nextCursor, statuses, taskName } from "../src/mcp/inputs.js";
import { defineTool, READ_ONLY } from "../src/mcp/tool.js";
import { TaskRunSummary } from "../src/workflows/run.js";
import { plural } from "./list-tasks.js";

export default defineTool({
  name: "list_task_runs",
  title: "List task runs",
  description: `Lists task runs, newest first, optionally only those of one task or in given statuses. Items are summaries without input and results (get_task_run shows a whole run). Without ${ALL_RUNS_SCOPE.read}, only the runs you started are listed. Pass next_cursor back as cursor; it works only with the same filters, for the same caller.`,
  noteFrom: (backend) => backend.listing,
  requires: { scopes: ["workflows:read"] },
  annotations: READ_ONLY,
  input: {
    task: taskName.optional().describe("Only runs of this task"),
    status: statuses,
    limit: z.number().int().min(1).max(100).default(20).describe("Runs per page (1–100)"),
    cursor,
  },
  output: {
    runs: z.array(TaskRunSummary),
    next_cursor: nextCursor,
  },
  async handler({ task, status, limit, cursor }, { backend, access }) {
    const page = await backend.listRuns({
      task,
      status: status && [...new Set(status)],
      limit,
      cursor,
      access: access("read"),
    });
    const more = page.nextCursor ? "; more with next_cursor" : "";
    return {
      structuredContent: { runs: page.runs, next_cursor: page.nextCursor },
      text: `${plural(page.runs.length, "run")}${more}${page.runs.map((r) => `\n${r.id} ${r.task} ${r.status}`).join("")}`,
    };
  },
});
