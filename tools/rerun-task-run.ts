import { runId } from "../src/mcp/inputs.js";
import { describeStarted, STARTED, startedAudit, startedTask } from "../src/mcp/started.js";
import { defineTool } from "../src/mcp/tool.js";

export default defineTool({
  name: "rerun_task_run",
  title: "Re-run a task run",
  description: "Starts a new run of a run's task with the same input.",
  // The task is known only once the run is read, so starting any task is required.
  requires: { scopes: ["workflows:read", "workflows:run"] },
  annotations: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: false,
    openWorldHint: true,
  },
  input: { id: runId.describe("The run to repeat") },
  output: STARTED,
  async handler({ id }, { backend, access, budget, start }) {
    const previous = await backend.getRun(id, access("read"), budget);
    // A task that needs approval needs it again: a rerun records an approval request too.
    const started = await start(previous.task, previous.input ?? []);
    return { structuredContent: started, text: describeStarted(started) };
  },
  runOf: startedTask,
  audit: (_input, output) => startedAudit(undefined, output),
});
