import { z } from "zod";
import { Approval } from "../src/approvals/approval.js";
import type { Approvals } from "../src/approvals/service.js";
import { authorize } from "../src/auth/policy.js";
import { ANY_TASK_SCOPE, visibility } from "../src/auth/scopes.js";
import { requirementLabel, requirementOf } from "../src/mcp/requirements.js";
import { type Caller, defineTool } from "../src/mcp/tool.js";

const Visibility = z.enum(["all", "own"]);

/** Pending requests whoami shows; list_approval_requests shows every one. */
const WAITING_SHOWN = 20;

export default defineTool({
  name: "whoami",
  title: "Who am I",
  description:
    "Shows who the server sees calling (subject, client, issuer, token expiry), the scopes the token carries, and what they allow once the scope hierarchy is applied: which tools, which tasks it may start, and whether it sees and cancels every run or only its own.",
  requires: { scopes: [] },
  annotations: {
    readOnlyHint: true,
    destructiveHint: false,
    idempotentHint: true,
    openWorldHint: false,
  },
  input: {},
  output: {
    subject: z.string(),
    clientId: z.string(),
    issuer: z.string(),
    scopes: z.array(z.string()).describe("As granted in the token"),
    expiresAt: z.string().optional().describe("ISO 8601"),
    allowedTools: z.array(z.string()),
    deniedTools: z.array(
      z.object({
        name: z.string(),
        missingScopes: z.array(z.string()).describe("The narrowest scopes that would allow it"),
      }),
    ),
    startableTasks: z
      .array(z.string())
      .describe(`The tasks the token may start (per-task scopes, or ${ANY_TASK_SCOPE} for all)`),
    runs: z.object({
      read: Visibility.describe("all: every run; own: the runs this caller started"),
      cancel: Visibility.describe("all: any run; own: the runs this caller started"),
    }),
    approvals: z
      .object({
        needed: z
          .array(z.object({ task: z.string(), mode: z.enum(["approver", "self"]) }))
          .describe(
            "Startable tasks whose runs need a person's approval first: approver (someone else decides) or self (you confirm in a browser)",
          ),
        decides: z
          .union([z.literal("all"), z.array(z.string())])
          .describe("The tasks whose approval requests you may decide (all: every task)"),
        waiting: z
          .array(Approval)
          .describe(
            `Pending requests of others you may decide, newest first (at most ${WAITING_SHOWN})`,
          ),
      })
      .optional()
      .describe("Present where some task needs a person's approval (APPROVAL_TASKS)"),
  },
  async handler(_input, { caller, catalogue, backend, approvals }) {
    const mayStart = (task?: string) =>
      authorize(requirementOf({ taskScopeOf: "task" }, { task }, backend), caller.scopes).allowed;
    const startable = (await backend.listTasks()).map((t) => t.name).filter((t) => mayStart(t));
    const allowed: string[] = [];
    const denied: { name: string; missingScopes: string[] }[] = [];
    for (const tool of catalogue) {
      if ("scopes" in tool.requires) {
        const decision = authorize(tool.requires.scopes, caller.scopes);
        if (decision.allowed) allowed.push(tool.name);
        else denied.push({ name: tool.name, missingScopes: decision.missing });
      } else if ("approvalOf" in tool.requires) {
        // Deciding: allowed when some approve scope decides some task's requests.
        if (approvals?.decidable(caller)) allowed.push(tool.name);
        else denied.push({ name: tool.name, missingScopes: requirementLabel(tool.requires) });
      } else if (startable.length > 0 || mayStart()) {
        // Per-task: allowed when some task (or, with the any-task scope, any) may be started.
        allowed.push(tool.name);
      } else {
        denied.push({ name: tool.name, missingScopes: requirementLabel(tool.requires) });
      }
    }
    const approvalFacts = approvals && (await approvalsOf(approvals, caller, startable));
    const read = visibility(caller.scopes, "read");
    const cancel = visibility(caller.scopes, "cancel");
    const expiresAt = caller.expiresAt
      ? new Date(caller.expiresAt * 1000).toISOString()
      : undefined;
    return {
      structuredContent: {
        subject: caller.subject,
        clientId: caller.clientId,
        issuer: caller.issuer,
        scopes: caller.scopes,
        expiresAt,
        allowedTools: allowed,
        deniedTools: denied,
        startableTasks: startable,
        runs: { read, cancel },
        ...(approvalFacts ? { approvals: approvalFacts } : {}),
      },
      text: `${caller.subject} via client ${caller.clientId || "(unknown)"}; scopes: ${caller.scopes.join(" ") || "(none)"}; allowed tools: ${allowed.join(", ") || "(none)"}; may start: ${startable.join(", ") || "(no task)"}; sees ${read === "all" ? "every run" : "its own runs"}${approvalFacts ? approvalLine(approvalFacts) : ""}`,
    };
  },
});

async function approvalsOf(approvals: Approvals, caller: Caller, startable: string[]) {
  const needed = startable.flatMap((task) => {
    const mode = approvals.modeOf(task);
    return mode ? [{ task, mode }] : [];
  });
  const decides = approvals.decidable(caller) ?? [];
  const waiting =
    decides.length === 0
      ? []
      : (
          await approvals.list(caller, { status: "pending", limit: WAITING_SHOWN })
        ).approvals.filter((a) => approvals.mayDecide(a, caller));
  return { needed, decides, waiting };
}

function approvalLine({ needed, decides, waiting }: Awaited<ReturnType<typeof approvalsOf>>) {
  const need =
    needed.length > 0
      ? `; need approval: ${needed.map((n) => `${n.task} (${n.mode})`).join(", ")}`
      : "";
  const decide =
    decides === "all" || decides.length > 0
      ? `; may decide requests for ${decides === "all" ? "every task" : decides.join(", ")} (${waiting.length} waiting)`
      : "";
  return `${need}${decide}`;
}
