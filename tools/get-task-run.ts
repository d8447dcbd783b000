import { ALL_RUNS_SCOPE } from "../src/auth/scopes.js";
import { describeRun } from "../src/mcp/format.js";
import { runId, waitSeconds } from "../src/mcp/inputs.js";
import { defineTool, READ_ONLY } from "../src/mcp/tool.js";
import { TaskRun } from "../src/workflows/run.js";

export default defineTool({
  name: "get_task_run",
  title: "Get a task run",
  description: `Shows a task run in full: status, input, result (results[0]) or error, attempts, who started it and its place in a chain of runs. Set wait_seconds to wait for it to finish. Without ${ALL_RUNS_SCOPE.read}, only runs you started are visible.`,
  requires: { scopes: ["workflows:read"] },
  annotations: READ_ONLY,
  input: {
    id: runId,
    wait_seconds: waitSeconds,
  },
  output: { run: TaskRun },
  async handler({ id, wait_seconds }, { backend, access, budget, waitForRun }) {
    const run =
      wait_seconds > 0
        ? await waitForRun(id, wait_seconds)
        : await backend.getRun(id, access("read"), budget);
    return { structuredContent: { run }, text: describeRun(run) };
  },
});
