import { isScopeToken } from "../auth/scopes.js";

/**
 * Who decides a run of a task that needs approval: `approver`, someone other
 * than the person who asked, holding `workflows:approve` or
 * `workflows:approve:<task>`; or `self`, the person who asked, in a
 * browser, signed in as themselves — proof that a person, not only their
 * agent, wants the run.
 */
export type ApprovalMode = "approver" | "self";

export interface ApprovalPolicy {
  /** The mode a run of `task` (as named in per-task scopes) needs, or undefined when none is needed. */
  modeOf(task: string | undefined): ApprovalMode | undefined;
  /** The tasks named one by one (not through `*`), for scopes_supported and whoami. */
  readonly named: ReadonlyMap<string, ApprovalMode>;
  /** The mode `*` gives every other task, if set. */
  readonly everyTask?: ApprovalMode;
  /** Whether any task needs approval at all. */
  readonly any: boolean;
  /** One sentence for start_task_run's description; undefined when nothing needs approval. */
  describe(): string | undefined;
  /**
   * The tasks someone decides as an approver, among `taskNames` and those
   * named here: whose `workflows:approve:<task>` scopes mean something.
   */
  approverTasks(taskNames: Iterable<string>): string[];
}

/** The most tasks APPROVAL_TASKS may name: the list is configuration, not data. */
const MAX_ENTRIES = 1_000;

/**
 * Parses APPROVAL_TASKS: a comma-separated list of `task` or `task=mode`
 * (`*` matches every task; names as in per-task scopes). Throws an Error
 * whose message says what is wrong, for the configuration to name the
 * variable.
 */
export function parseApprovalPolicy(value: string | undefined): ApprovalPolicy {
  const named = new Map<string, ApprovalMode>();
  let everyTask: ApprovalMode | undefined;
  const entries = (value ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length > MAX_ENTRIES) throw new Error(`names more than ${MAX_ENTRIES} tasks`);
  for (const entry of entries) {
    const [rawTask, rawMode, ...rest] = entry.split("=").map((part) => part.trim());
    const task = rawTask ?? "";
    const mode = rawMode === undefined ? "approver" : rawMode;
    if (rest.length > 0 || (mode !== "approver" && mode !== "self")) {
      throw new Error(
        `"${entry.slice(0, 100)}": each entry is a task name or task=mode, mode approver or self`,
      );
    }
    if (task !== "*" && !isScopeToken(`workflows:approve:${task}`)) {
      throw new Error(
        `"${task.slice(0, 100)}" cannot be a task here: names are as in per-task scopes (no spaces, quotes or backslashes)`,
      );
    }
    const previous = task === "*" ? everyTask : named.get(task);
    if (previous !== undefined) throw new Error(`"${task}" is listed twice`);
    if (task === "*") everyTask = mode;
    else named.set(task, mode);
  }
  return {
    named,
    ...(everyTask === undefined ? {} : { everyTask }),
    any: named.size > 0 || everyTask !== undefined,
    modeOf: (task) => (task !== undefined ? named.get(task) : undefined) ?? everyTask,
    approverTasks(taskNames) {
      const tasks = new Set([...taskNames, ...named.keys()]);
      return [...tasks].filter((task) => this.modeOf(task) === "approver");
    },
    describe() {
      if (!this.any) return undefined;
      const which =
        everyTask !== undefined
          ? "Runs of every task need a person's approval"
          : `Runs of ${[...named.keys()].join(", ")} need a person's approval`;
      return `${which} before they start: such a start answers with an approval request (structuredContent.approval) and its URL, not a run; the run starts once a person approves it.`;
    },
  };
}
