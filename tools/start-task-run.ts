import { taskName, waitSeconds } from "../src/mcp/inputs.js";
import { describeStarted, STARTED, startedAudit, startedTask } from "../src/mcp/started.js";
import { defineTool } from "../src/mcp/tool.js";
import { TaskInput } from "../src/workflows/run.js";

export default defineTool({
  name: "start_task_run",
  title: "Start a task run",
  description:
    "Starts a run of a workflow task with the given input. Set wait_seconds to wait for it to finish and get its result in the same call; otherwise poll with get_task_run. Clients that support the MCP Tasks extension get a task handle for the run instead.",
  noteFrom: (server) => server.approvals,
  requires: { taskScopeOf: "task" },
  annotations: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: false,
    openWorldHint: true,
  },
  input: {
    task: taskName,
    input: TaskInput.default([]).describe(
      "The task's arguments: an array of positional arguments (TypeScript tasks), or an object of named parameters (Python tasks on Render)",
    ),
    wait_seconds: waitSeconds,
  },
  output: STARTED,
  async handler({ task, input, wait_seconds }, { start, waitForRun }) {
    const started = await start(task, input);
    const answer =
      "run" in started && wait_seconds > 0
        ? { run: await waitForRun(started.run.id, wait_seconds) }
        : started;
    return { structuredContent: answer, text: describeStarted(answer) };
  },
  runOf: startedTask,
  audit: ({ task }, output) => startedAudit(task, output),
});
