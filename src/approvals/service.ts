import { randomBytes } from "node:crypto";
import type { Auditor } from "../audit/auditor.js";
import { auditEvent } from "../audit/events.js";
import type { Actor, Caller } from "../auth/caller.js";
import { approveScopeFor } from "../auth/policy.js";
import { holdsScope } from "../auth/scopes.js";
import type { Logger } from "../logger.js";
import type { ApprovalTargets } from "../mcp/requirements.js";
import type { ApprovalStore, AuditEvent } from "../store/types.js";
import type { Telemetry } from "../telemetry/telemetry.js";
import type { WorkflowBackend } from "../workflows/backend.js";
import { InputTooLarge, LimitReached, UnknownTask } from "../workflows/errors.js";
import { MAX_INPUT_BYTES, type TaskInput, type TaskRun } from "../workflows/run.js";
import { APPROVAL_ID_PREFIX, type Approval, type ApprovalRecord, type Person } from "./approval.js";
import { AlreadyDecided, ApprovalNotFound, DecisionNotAllowed } from "./errors.js";
import type { ApprovalMode, ApprovalPolicy } from "./policy.js";
import type { ApprovalWebhook } from "./webhook.js";

export interface ApprovalSettings {
  policy: ApprovalPolicy;
  /** Undecided requests expire after this long, and never run. */
  ttlMinutes: number;
  /** Pending requests one caller may have; more are refused. */
  maxPendingPerCaller: number;
  /** The public base URL: a request's page is `<publicUrl>/approvals/<id>`. */
  publicUrl: string;
}

export interface ApprovalParts {
  store: ApprovalStore;
  /** Counts requests by status (the metric workflows_mcp.approvals.requests) when telemetry is on. */
  telemetry?: Pick<Telemetry, "approvalRequest">;
  backend: Pick<WorkflowBackend, "taskNameOf" | "listTasks" | "startRun" | "getRun">;
  auditor: Auditor;
  webhook?: ApprovalWebhook;
  logger: Logger;
  now?: () => Date;
}

/** Where the decision came from: an MCP tool (an agent may hold the token) or the approval page (a person signed in). */
export type DecisionChannel = "tool" | "page";

export type Decision = "approve" | "deny";

/** A claim to start an approved run that is older than this was abandoned (its instance stopped). */
const START_CLAIM_MS = 60_000;
/** Requests expired per sweep, at most (the next sweep takes the rest). */
const EXPIRED_PER_SWEEP = 100;

/**
 * Approval requests, as issue 19 asks: a start of a task that needs approval
 * records a request instead of a run; a person decides it (someone else in
 * `approver` mode, holding `workflows:approve[:<task>]`; the requester in a
 * browser in `self` mode); approving starts the run as the requester, with
 * their input; every change is one conditional write to the shared store,
 * audited and announced to the webhook.
 */
export class Approvals {
  readonly #now: () => Date;

  constructor(
    private readonly settings: ApprovalSettings,
    private readonly parts: ApprovalParts,
  ) {
    this.#now = parts.now ?? (() => new Date());
  }

  get policy(): ApprovalPolicy {
    return this.settings.policy;
  }

  /** The mode a start of `taskRef` needs (the task as named in per-task scopes), or undefined. */
  modeOf(taskRef: string): ApprovalMode | undefined {
    // A reference that names no task of the backend is refused by its start, which runs nothing.
    const task = this.parts.backend.taskNameOf(taskRef);
    return task === undefined ? undefined : this.settings.policy.modeOf(task);
  }

  urlOf(id: string): string {
    return `${this.settings.publicUrl}/approvals/${encodeURIComponent(id)}`;
  }

  /** A record as clients see it: its page, and `expired` once its time has passed, swept or not. */
  view(record: Omit<ApprovalRecord, "input">): Approval {
    const { taskRef: _taskRef, input: _input, ...approval } = record as ApprovalRecord;
    const expired =
      approval.status === "pending" && Date.parse(approval.expiresAt) <= this.#now().getTime();
    return {
      ...approval,
      ...(expired ? { status: "expired", decidedAt: approval.expiresAt } : {}),
      url: this.urlOf(record.id),
    };
  }

  /** Records a request for a run of `taskRef` with `input`, by `caller`: nothing starts. */
  async request(caller: Actor, taskRef: string, input: TaskInput, tool: string): Promise<Approval> {
    const mode = this.modeOf(taskRef);
    const task = this.parts.backend.taskNameOf(taskRef);
    if (mode === undefined || task === undefined) {
      throw new Error(`request(): ${taskRef} needs no approval`);
    }
    const known = (await this.parts.backend.listTasks()).some((t) => t.name === task);
    if (!known) {
      throw new UnknownTask(`Unknown task "${task.slice(0, 100)}" (list_tasks shows the tasks)`);
    }
    const bytes = Buffer.byteLength(JSON.stringify(input));
    if (bytes > MAX_INPUT_BYTES) {
      throw new InputTooLarge(
        `The input is ${(bytes / 1024 / 1024).toFixed(1)} MB as JSON; at most 4 MB of task arguments are accepted`,
      );
    }
    const now = this.#now();
    const pending = await this.parts.store.pendingCount(caller, now.toISOString());
    if (pending >= this.settings.maxPendingPerCaller) {
      throw new LimitReached(
        `You have ${pending} approval requests waiting for a decision, the most one caller may have here (APPROVAL_MAX_PENDING_PER_CALLER is ${this.settings.maxPendingPerCaller}); withdraw some, or wait until they are decided or expire (list_approval_requests with status "pending" shows them)`,
        { retryAfterSeconds: 60 },
      );
    }
    const record: ApprovalRecord = {
      id: `${APPROVAL_ID_PREFIX}${randomBytes(16).toString("hex")}`,
      status: "pending",
      task,
      taskRef,
      input,
      mode,
      requestedBy: personOf(caller),
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.settings.ttlMinutes * 60_000).toISOString(),
    };
    await this.parts.store.create(record);
    const approval = this.view(record);
    await this.audit(record, caller, tool, "approval_requested");
    this.parts.telemetry?.approvalRequest("pending");
    this.parts.webhook?.announce(approval);
    return approval;
  }

  /** A request the caller may see (its own, or one it may decide), or ApprovalNotFound. */
  async get(id: string, caller: Caller): Promise<ApprovalRecord> {
    const record = await this.parts.store.get(id);
    if (!record || !(isRequester(record, caller) || this.mayDecide(record, caller))) {
      throw notFound(id);
    }
    return record;
  }

  /**
   * For the approval page, whoever holds its URL: what the request is about
   * (which scope to ask for at sign-in) and who asked (a `self`-mode request
   * names who alone may confirm it). Never its input; undefined when unknown.
   */
  async outline(
    id: string,
  ): Promise<Pick<ApprovalRecord, "id" | "task" | "mode" | "requestedBy"> | undefined> {
    const target = await this.parts.store.target(id);
    return target && { id, ...target };
  }

  /**
   * What the named requests are about, for the scope check of a decision
   * before anything else runs (a request not in the map does not exist).
   * Bound: a request handler calls it unbound.
   */
  readonly targetsOf = async (ids: readonly string[]): Promise<ApprovalTargets> => {
    try {
      const records = await Promise.all(ids.map((id) => this.parts.store.target(id)));
      return new Map(
        records.flatMap((target, i) =>
          target ? [[ids[i] as string, { task: target.task, mode: target.mode }] as const] : [],
        ),
      );
    } catch (error) {
      this.parts.logger.warn(
        { err: error },
        "approval requests could not be read for authorization",
      );
      throw error;
    }
  };

  /** Whether `caller` may approve or deny this request (not withdraw it). */
  mayDecide(record: Pick<Approval, "mode" | "task" | "requestedBy">, caller: Caller): boolean {
    return (
      record.mode === "approver" &&
      !isRequester(record, caller) &&
      holdsScope(caller.scopes, approveScopeFor(record.task))
    );
  }

  /**
   * Decides a request. Final and idempotent: deciding it again the same way
   * answers it as it is; two deciders at once produce one decision (the
   * store's conditional write) and at most one run. Approving starts the run
   * as the requester, with the input as requested.
   */
  async decide(
    id: string,
    caller: Actor,
    decision: Decision,
    options: { reason?: string; channel: DecisionChannel; tool?: string },
  ): Promise<{ approval: Approval; run?: TaskRun; startError?: string }> {
    const record = await this.get(id, caller);
    this.checkAllowed(record, caller, decision, options.channel);
    const wanted = decision === "approve" ? "approved" : "denied";
    const current = await this.end(record, caller, wanted, {
      by: personOf(caller),
      ...(options.reason ? { reason: options.reason } : {}),
      tool: options.tool ?? "approval page",
    });
    const shown = this.view(current);
    if (shown.status !== wanted) {
      throw new AlreadyDecided(
        shown.status === "expired"
          ? `Approval request ${id} expired at ${shown.expiresAt} undecided; it never runs (start the task again for a new request)`
          : `Approval request ${id} was ${shown.status}${shown.decidedBy ? ` by ${shown.decidedBy.subject}` : ""}${shown.decidedAt ? ` at ${shown.decidedAt}` : ""}; decisions are final`,
      );
    }
    if (wanted !== "approved") return { approval: shown };
    return this.startApproved(current, caller.traceId);
  }

  /**
   * Withdraws the caller's own pending request (`canceled`): `changed` is
   * false when it had already ended (approved, denied, expired, withdrawn),
   * which is answered as it is.
   */
  async withdraw(
    id: string,
    caller: Actor,
    tool: string,
  ): Promise<{ approval: Approval; changed: boolean }> {
    const record = await this.get(id, caller);
    this.checkAllowed(record, caller, "withdraw", "tool");
    const current = await this.end(record, caller, "canceled", { tool });
    return {
      approval: this.view(current),
      changed: current.status === "canceled" && record.status === "pending",
    };
  }

  /**
   * Ends a pending request with `status` — one conditional write, so of two
   * instances deciding at once one wins — audits it and announces it: the
   * record after, whoever ended it (or as it was, if it had ended before).
   */
  private async end(
    record: ApprovalRecord,
    caller: Actor,
    status: Exclude<ApprovalRecord["status"], "pending" | "expired">,
    change: { by?: Person; reason?: string; tool: string },
  ): Promise<ApprovalRecord> {
    if (record.status !== "pending") return record;
    const ended = await this.parts.store.decide(record.id, {
      status,
      ...(change.by ? { by: change.by } : {}),
      at: this.#now().toISOString(),
      ...(change.reason ? { reason: change.reason } : {}),
    });
    if (!ended) {
      // Someone decided first, or it expired: answer what it is now.
      return (await this.parts.store.get(record.id)) ?? record;
    }
    await this.audit(ended, caller, change.tool, `approval_${status}`);
    this.parts.telemetry?.approvalRequest(status);
    this.parts.webhook?.announce(this.view(ended));
    return ended;
  }

  /** Starts the run of an approved request once (retried, it starts none twice). */
  async startApproved(
    record: ApprovalRecord,
    /** The approving call's trace: the run's attempts continue it. */
    traceId?: string,
  ): Promise<{ approval: Approval; run?: TaskRun; startError?: string }> {
    if (record.runId) {
      const run = await this.parts.backend
        .getRun(record.runId, { kind: "own", owner: record.requestedBy })
        .catch(() => undefined);
      return { approval: this.view(record), ...(run ? { run } : {}) };
    }
    const now = this.#now();
    const claimed = await this.parts.store.claimStart(
      record.id,
      now.toISOString(),
      new Date(now.getTime() - START_CLAIM_MS).toISOString(),
    );
    if (!claimed) return { approval: this.view(record) };
    try {
      // The requester's run, as if they had started it: the person who asked owns it.
      const run = await this.parts.backend.startRun(
        record.taskRef,
        record.input,
        { ...record.requestedBy, at: now.toISOString(), ...(traceId ? { traceId } : {}) },
        { idempotencyKey: record.id },
      );
      await this.parts.store.recordRun(record.id, run.id);
      const started = { ...record, runId: run.id };
      await this.parts.auditor.record({
        at: now.toISOString(),
        issuer: record.requestedBy.issuer,
        subject: record.requestedBy.subject,
        ...(record.requestedBy.clientId ? { clientId: record.requestedBy.clientId } : {}),
        tool: "approval",
        task: run.task,
        runId: run.id,
        decision: "allowed",
        outcome: "started",
        approvalId: record.id,
        ...(traceId ? { traceId } : {}),
      });
      return { approval: this.view(started), run };
    } catch (error) {
      // Released at once: approving again, or the next sweep, tries again.
      await this.parts.store.releaseStart(record.id);
      this.parts.logger.warn(
        { approval: record.id, err: error },
        "an approved run could not start; the sweep (or approving again) retries",
      );
      const reason = error instanceof Error ? error.message : String(error);
      return { approval: this.view(record), startError: reason.slice(0, 500) };
    }
  }

  /** Requests this caller asked for, and those it may decide, newest first. */
  async list(
    caller: Caller,
    query: { status?: Approval["status"]; task?: string; limit: number; cursor?: string },
  ) {
    const decides = this.decidable(caller);
    // A pending request past its time is expired: a status filter finds it under its real status.
    await this.expire();
    const page = await this.parts.store.list({
      requester: caller,
      ...(decides ? { decides } : {}),
      ...query,
    });
    return { approvals: page.approvals.map((a) => this.view(a)), nextCursor: page.nextCursor };
  }

  /** The tasks whose approver-mode requests `caller` may decide: every one, some, or none. */
  decidable(caller: Caller): "all" | string[] | undefined {
    if (holdsScope(caller.scopes, approveScopeFor(undefined))) return "all";
    const { policy } = this.settings;
    const tasks = [...policy.named.keys()].filter((task) =>
      holdsScope(caller.scopes, approveScopeFor(task)),
    );
    // With `*`, a per-task approve scope names a task the policy does not list one by one.
    if (policy.everyTask === "approver") {
      for (const scope of caller.scopes) {
        const task = scope.startsWith("workflows:approve:")
          ? scope.slice("workflows:approve:".length)
          : "";
        if (task && !tasks.includes(task)) tasks.push(task);
      }
    }
    return tasks.length > 0 ? tasks : undefined;
  }

  /**
   * Expires what is past its time (every instance sweeps; the store lets
   * each request expire once), and starts approved runs whose start was
   * abandoned (the instance that approved them stopped, or the backend
   * refused for a while): an approval is never silently lost.
   */
  async sweep(): Promise<number> {
    const now = this.#now().getTime();
    const staleBefore = new Date(now - START_CLAIM_MS).toISOString();
    // A start that keeps failing is retried for as long as the request could have waited, no longer.
    const decidedAfter = new Date(now - this.settings.ttlMinutes * 60_000).toISOString();
    const unstarted = await this.parts.store.unstarted(
      staleBefore,
      decidedAfter,
      EXPIRED_PER_SWEEP,
    );
    for (const id of unstarted) {
      const record = await this.parts.store.get(id);
      if (record) await this.startApproved(record);
    }
    return this.expire();
  }

  /** Expires what is past its time: the store lets each request expire once, whichever instance asks. */
  async expire(): Promise<number> {
    const expired = await this.parts.store.expireDue(this.#now().toISOString(), EXPIRED_PER_SWEEP);
    for (const record of expired) {
      await this.parts.auditor.record({
        at: record.decidedAt ?? this.#now().toISOString(),
        issuer: record.requestedBy.issuer,
        subject: record.requestedBy.subject,
        ...(record.requestedBy.clientId ? { clientId: record.requestedBy.clientId } : {}),
        tool: "approval expiry",
        task: record.task,
        decision: "allowed",
        outcome: "approval_expired",
        approvalId: record.id,
        requester: record.requestedBy.subject,
      });
      this.parts.telemetry?.approvalRequest("expired");
      this.parts.webhook?.announce(this.view(record));
    }
    return expired.length;
  }

  private checkAllowed(
    record: ApprovalRecord,
    caller: Caller,
    decision: Decision | "withdraw",
    channel: DecisionChannel,
  ): void {
    if (decision === "withdraw") {
      if (!isRequester(record, caller)) {
        throw new DecisionNotAllowed(
          `Only the person who asked (${record.requestedBy.subject}) may withdraw approval request ${record.id}`,
        );
      }
      return;
    }
    if (record.mode === "self") {
      if (channel !== "page" || !isRequester(record, caller)) {
        throw new DecisionNotAllowed(
          `Approval request ${record.id} is confirmed by the person who asked (${record.requestedBy.subject}) in a browser, signed in as themselves: open ${this.urlOf(record.id)}`,
        );
      }
      return;
    }
    if (isRequester(record, caller)) {
      throw new DecisionNotAllowed(
        `You asked for approval request ${record.id}: someone else holding ${approveScopeFor(record.task)} (or workflows:approve) decides it`,
      );
    }
    if (!this.mayDecide(record, caller)) {
      throw new DecisionNotAllowed(
        `Deciding approval request ${record.id} takes ${approveScopeFor(record.task)} (or workflows:approve)`,
      );
    }
  }

  private audit(
    record: Omit<ApprovalRecord, "input">,
    actor: Actor,
    tool: string,
    outcome: string,
  ): Promise<void> {
    const event: AuditEvent = {
      ...auditEvent(actor, tool, "allowed"),
      at: this.#now().toISOString(),
      task: record.task,
      ...(record.runId ? { runId: record.runId } : {}),
      outcome,
      approvalId: record.id,
      requester: record.requestedBy.subject,
      ...(actor.traceId ? { traceId: actor.traceId } : {}),
    };
    return this.parts.auditor.record(event);
  }
}

const personOf = (caller: Caller): Person => ({
  issuer: caller.issuer,
  subject: caller.subject,
  ...(caller.clientId ? { clientId: caller.clientId } : {}),
});

/** Whether `caller` is the person who asked: issuer and subject, whatever client either used. */
export const isRequester = (record: Pick<Approval, "requestedBy">, caller: Caller): boolean =>
  record.requestedBy.issuer === caller.issuer && record.requestedBy.subject === caller.subject;

const notFound = (id: string) =>
  new ApprovalNotFound(
    `No approval request "${id.slice(0, 64)}" among those you asked for or may decide (list_approval_requests shows them)`,
  );
