import { z } from "zod";
import { Approval, ApprovalStatus } from "../src/approvals/approval.js";
import { cursor, nextCursor, taskName } from "../src/mcp/inputs.js";
import { defineTool, READ_ONLY } from "../src/mcp/tool.js";
import { plural } from "./list-tasks.js";

export default defineTool({
  name: "list_approval_requests",
  title: "List approval requests",
  description:
    "Lists approval requests, newest first: the ones you asked for, and — holding workflows:approve or workflows:approve:<task> — those you may decide. Optionally only those in one status or of one task. Items never carry a task's input (the approval page shows it to a person deciding). Pass next_cursor back as cursor; it works only with the same filters, for the same caller.",
  feature: "approvals",
  requires: { scopes: ["workflows:read"] },
  annotations: { ...READ_ONLY, openWorldHint: false },
  input: {
    status: ApprovalStatus.optional().describe("Only requests in this status"),
    task: taskName.optional().describe("Only requests for runs of this task"),
    limit: z.number().int().min(1).max(100).default(20).describe("Requests per page (1–100)"),
    cursor,
  },
  output: {
    approvals: z.array(Approval),
    next_cursor: nextCursor,
  },
  async handler({ status, task, limit, cursor }, { caller, approvals }) {
    if (!approvals) throw new Error("list_approval_requests is served only with approvals");
    const page = await approvals.list(caller, { status, task, limit, cursor });
    const lines = page.approvals.map(
      (a) => `\n${a.id} ${a.task} ${a.status} asked by ${a.requestedBy.subject} ${a.url}`,
    );
    return {
      structuredContent: { approvals: page.approvals, next_cursor: page.nextCursor },
      text: `${plural(page.approvals.length, "approval request")}${page.nextCursor ? "; more with next_cursor" : ""}${lines.join("")}`,
    };
  },
});
