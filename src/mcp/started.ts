import { Approval } from "../approvals/approval.js";
import { TaskRun } from "../workflows/run.js";
import { describeApproval, describeRun } from "./format.js";
import type { AuditFacts } from "./tool.js";

/**
 * What a tool that starts a run answers: the run — or, for a task that needs
 * a person's approval, the approval request recorded instead (nothing ran).
 * One of the two is present.
 */
export const STARTED = {
  run: TaskRun.optional().describe("The run started (absent when it needs approval first)"),
  approval: Approval.optional().describe(
    "The approval request recorded instead of a run, for a task that needs a person's approval: nothing runs until a person approves it",
  ),
};

type Started = { run?: TaskRun; approval?: Approval };

/** The run, or the approval request, a start answered with (the Tasks extension's task). */
export function startedTask({ run, approval }: Started): TaskRun | Approval {
  const subject = run ?? approval;
  if (!subject) throw new Error("a start answered neither a run nor an approval request");
  return subject;
}

export const describeStarted = ({ run, approval }: Started): string =>
  run ? describeRun(run) : approval ? describeApproval(approval) : "";

/**
 * The audit facts of a start: the run started (the task as the backend names
 * it, on Render `workflow/task`, so a start and a later cancel of the run are
 * found under one name). An approval request recorded instead was audited
 * by the approvals service as it recorded it.
 */
export function startedAudit(task: string | undefined, output?: Started): AuditFacts | undefined {
  if (output?.approval) return undefined;
  return { task: output?.run?.task ?? task, runId: output?.run?.id, outcome: "started" };
}
