import { z } from "zod";
import { describeRun } from "../src/mcp/format.js";
import { waitSeconds } from "../src/mcp/inputs.js";
import { defineTool } from "../src/mcp/tool.js";
import { TaskInput, TaskRun } from "../src/workflows/run.js";

export default defineTool({
  name: "start_task_run",
  title: "Start a task run",
  description:
    "Starts a run of a workflow task with the given input. Set wait_seconds to wait for it to finish and get its result in the same call; otherwise poll with get_task_run.",
  scopes: ["workflows:run"],
  annotations: {
    readOnlyHint: false,
    destructiveHint: false,
    idempotentHint: false,
    openWorldHint: true,
  },
  input: {
    task: z.string().min(1).describe("The task's name, as list_tasks shows it"),
    input: TaskInput.default([]).describe(
      "The task's arguments: an array of positional arguments (TypeScript tasks), or an object of named parameters (Python tasks on Render)",
    ),
    wait_seconds: waitSeconds,
  },
  output: { run: TaskRun },
  async handler({ task, input, wait_seconds }, { backend, waitForRun }) {
    const started = await backend.startRun(task, input);
    const run = wait_seconds > 0 ? await waitForRun(started.id, wait_seconds) : started;
    return { structuredContent: { run }, text: describeRun(run) };
  },
});
