import { z } from "zod";
import { Approval, isApprovalId } from "../src/approvals/approval.js";
import { ALL_RUNS_SCOPE } from "../src/auth/scopes.js";
import { describeApproval } from "../src/mcp/format.js";
import { runId } from "../src/mcp/inputs.js";
import { defineTool, type ToolContext } from "../src/mcp/tool.js";
import { reaches } from "../src/workflows/access.js";
import { TaskRun, toSummary } from "../src/workflows/run.js";

export default defineTool({
  name: "cancel_task_run",
  title: "Cancel a task run",
  description: `Cancels a task run and the subtask runs it started. Idempotent: a run that already finished is left as it is and reported so. Without ${ALL_RUNS_SCOPE.cancel}, only runs you started can be cancelled. Given the apr-… id of your own approval request, it withdraws the request while it waits (canceled; nothing runs), or cancels the run its approval started.`,
  requires: { scopes: ["workflows:cancel"] },
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
    openWorldHint: true,
  },
  input: { id: runId.describe("The run's id, e.g. trn-… (or an approval request's, apr-…)") },
  output: {
    run: TaskRun.optional().describe(
      "The run cancelled (absent for a request withdrawn before it ran)",
    ),
    approval: Approval.optional().describe("The approval request the id names, if it names one"),
    already_finished: z
      .boolean()
      .describe(
        "True when the run had already finished (or the request had been decided); nothing was changed",
      ),
  },
  async handler({ id }, context) {
    const { approvals, caller } = context;
    if (!approvals || !isApprovalId(id)) return cancelRun(id, context);
    const withdrawn = await approvals.withdraw(id, caller, "cancel_task_run");
    const { approval } = withdrawn;
    // Approved and started: cancelling the request is cancelling its run (a Tasks client's one task).
    if (approval.runId) return cancelRun(approval.runId, context, approval);
    return {
      structuredContent: { approval, already_finished: !withdrawn.changed },
      text: withdrawn.changed
        ? describeApproval(approval)
        : `${describeApproval(approval)}; nothing to withdraw`,
    };
  },
  audit: ({ id }, output) =>
    // A request withdrawn was recorded by the approvals service as it ended.
    output?.approval && !output.run
      ? undefined
      : {
          runId: output?.run?.id ?? id,
          task: output?.run?.task,
          ...(output?.approval ? { approvalId: output.approval.id } : {}),
          outcome: output?.already_finished ? "already_finished" : "canceled",
        },
});

async function cancelRun(
  id: string,
  { backend, access, budget }: ToolContext,
  approval?: Approval,
) {
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
  return {
    structuredContent: {
      run,
      ...(approval ? { approval } : {}),
      already_finished: alreadyFinished,
    },
    text,
  };
}
