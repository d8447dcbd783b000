import { z } from "zod";
import { cursor, nextCursor, runId, taskName, timestamp } from "../src/mcp/inputs.js";
import { defineTool, READ_ONLY } from "../src/mcp/tool.js";
import { AuditEvent } from "../src/store/types.js";
import { plural } from "./list-tasks.js";

export default defineTool({
  name: "list_audit_events",
  title: "List audit events",
  description:
    "Who started or cancelled what, and when: the audit trail of state changes made through this server, newest first, filtered by subject, task, run and time. Pass next_cursor back as cursor for more.",
  requires: { scopes: ["workflows:admin"] },
  annotations: { ...READ_ONLY, openWorldHint: false },
  input: {
    subject: z.string().min(1).max(256).optional().describe("Only events of this caller (`sub`)"),
    task: taskName.optional().describe("Only events about this task"),
    run_id: runId.optional().describe("Only events about this run"),
    since: timestamp.optional().describe("Only events at or after this time (ISO 8601)"),
    until: timestamp.optional().describe("Only events before this time (ISO 8601)"),
    limit: z.number().int().min(1).max(100).default(50).describe("Events per page (1–100)"),
    cursor,
  },
  output: {
    events: z.array(AuditEvent),
    next_cursor: nextCursor,
  },
  async handler({ subject, task, run_id, since, until, limit, cursor }, { audit }) {
    const page = await audit.listAuditEvents({
      subject,
      task,
      runId: run_id,
      since,
      until,
      limit,
      cursor,
    });
    const lines = page.events.map(
      (e) =>
        `\n${e.at} ${e.subject ?? "-"} ${e.tool ?? "-"} ${e.task ?? "-"} ${e.runId ?? "-"} ${e.outcome}`,
    );
    return {
      structuredContent: { events: page.events, next_cursor: page.nextCursor },
      text: `${plural(page.events.length, "event")}${page.nextCursor ? "; more with next_cursor" : ""}${lines.join("")}`,
    };
  },
});
