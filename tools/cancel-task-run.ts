import { z } from "zod";
import { ALL_RUNS_SCOPE } from "../src/auth/scopes.js";
import { runId } from "../src/mcp/inputs.js";
import { defineTool } from "../src/mcp/tool.js";
import { reaches } from "../src/workflows/access.js";
import { TaskRun, toSummary } from "../src/workflows/run.js";

export default defineTool({
  name: "cancel_task_run",
  title: "Cancel a task run",
  description: `Cancels a task run and the subtask runs it started. Idempotent: a run that already finished is left as it is and reported so. Without ${ALL_RUNS_SCOPE.cancel}, only runs you started can be cancelled.`,
  requires: { scopes: ["workflows:cancel"] },
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
    openWorldHint: true,
  },
  input: { id: runId },
  output: {
    run: TaskRun,
    already_finished: z
      .boolean()
      .describe("True when the run had already finished; nothing was changed"),
  },
  async handler({ id }, { backend, access, budget }) {
    const cancelled = await backend.cancelRun(id, access("cancel"), budget);
    const { alreadyFinished } = cancelled;
    // Cancelling someone's run (workflows:cancel:all) is not reading it: without the
    // right to read it, the caller sees what a list would show, not its input or results.
    const run = reaches(access("read"), cancelled.run.startedBy)
      ? cancelled.run
      : toSummary(cancelled.run);
    const text = alreadyFinished
      ? `Run ${id} had already finished (${run.status}); nothing to cancel`
      : `Run ${id} is ${run.status}`;
    return { structuredContent: { run, already_finished: alreadyFinished }, text };
  },
  audit: ({ id }, output) => ({
    runId: id,
    task: output?.run.task,
    outcome: output?.already_finished ? "already_finished" : "canceled",
  }),
});
