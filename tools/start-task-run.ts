import { describeRun } from "../src/mcp/format.js";
import { taskName, waitSeconds } from "../src/mcp/inputs.js";
import { defineTool } from "../src/mcp/tool.js";
import { TaskInput, TaskRun } from "../src/workflows/run.js";

export default defineTool({
  name: "start_task_run",
  title: "Start a task run",
  description:
    "Starts a run of a workflow task with the given input. Set wait_seconds to wait for it to finish and get its result in the same call; otherwise poll with get_task_run. Clients that support the MCP Tasks extension get a task handle for the run instead.",
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
  output: { run: TaskRun },
  async handler({ task, input, wait_seconds }, { backend, startedBy, waitForRun }) {
    const started = await backend.startRun(task, input, startedBy());
    const run = wait_seconds > 0 ? await waitForRun(started.id, wait_seconds) : started;
    return { structuredContent: { run }, text: describeRun(run) };
  },
  runOf: ({ run }) => run,
  // The task as the backend names it (on Render `workflow/task`, whatever form was typed),
  // so a start and a later cancel of the run are found under the same name.
  audit: ({ task }, output) => ({
    task: output?.run.task ?? task,
    runId: output?.run.id,
    outcome: "started",
  }),
});
