import { describeRun } from "../src/mcp/format.js";
import { runId } from "../src/mcp/inputs.js";
import { defineTool } from "../src/mcp/tool.js";
import { TaskRun } from "../src/workflows/run.js";

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
  output: { run: TaskRun },
  async handler({ id }, { backend, access, budget, startedBy }) {
    const previous = await backend.getRun(id, access("read"), budget);
    const run = await backend.startRun(previous.task, previous.input ?? [], startedBy());
    return { structuredContent: { run }, text: describeRun(run) };
  },
  runOf: ({ run }) => run,
  audit: (_input, output) => ({
    task: output?.run.task,
    runId: output?.run.id,
    outcome: "started",
  }),
});
