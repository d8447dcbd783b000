import { z } from "zod";
import { Approval } from "../src/approvals/approval.js";
import { describeApproval, describeRun } from "../src/mcp/format.js";
import { defineTool } from "../src/mcp/tool.js";
import { reaches } from "../src/workflows/access.js";
import { TaskRun, toSummary } from "../src/workflows/run.js";

export default defineTool({
  name: "decide_approval_request",
  title: "Approve or deny a run",
  description:
    "Approves or denies an approval request someone else made (list_approval_requests shows those you may decide). Approving starts the run for the person who asked, with the input they gave, and answers its run id; denying starts nothing. Decisions are final; deciding again the same way answers the request as it is. You can never decide a request you made yourself, and a request its requester confirms in a browser (mode self) is decided only there. To withdraw your own request, cancel it (cancel_task_run or tasks/cancel with its apr-… id).",
  feature: "approvals",
  requires: { approvalOf: "id" },
  annotations: {
    readOnlyHint: false,
    destructiveHint: true,
    idempotentHint: true,
    openWorldHint: true,
  },
  input: {
    id: z.string().min(1).max(256).describe("The approval request's id, apr-…"),
    decision: z.enum(["approve", "deny"]),
    reason: z
      .string()
      .max(1000)
      .optional()
      .describe("Why, for the person who asked and the audit trail"),
  },
  output: {
    approval: Approval,
    run: TaskRun.optional().describe("The run an approval started"),
  },
  async handler({ id, decision, reason }, { caller, approvals, access }) {
    if (!approvals) throw new Error("decide_approval_request is served only with approvals");
    const decided = await approvals.decide(id, caller, decision, {
      ...(reason ? { reason } : {}),
      channel: "tool",
      tool: "decide_approval_request",
    });
    // The run is the requester's: an approver who may not read others' runs sees what a list shows.
    const run =
      decided.run &&
      (reaches(access("read"), decided.run.startedBy) ? decided.run : toSummary(decided.run));
    const text = decided.startError
      ? `Approval request ${decided.approval.id}: approved; its run could not start yet (${decided.startError}): it is tried again within a minute, or now by approving again`
      : run
        ? `${describeApproval(decided.approval)}. ${describeRun(run)}`
        : describeApproval(decided.approval);
    return {
      structuredContent: { approval: decided.approval, ...(run ? { run } : {}) },
      text,
    };
  },
});
