import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseApprovalPolicy } from "../../src/approvals/policy.js";
import { Approvals } from "../../src/approvals/service.js";
import { createAuditor } from "../../src/audit/auditor.js";
import type { Caller } from "../../src/auth/caller.js";
import { createStore } from "../../src/store/index.js";
import type { Store } from "../../src/store/types.js";
import type { LocalEngine } from "../../src/workflows/local/index.js";
import { own, silent, workspace } from "../engine/helpers.js";

/**
 * The rules of approval requests, in process: the service over a real
 * SQLite store and the embedded engine with the fixture tasks, its clock
 * injected. Over HTTP, with real clients, in test/approvals-http.test.ts;
 * the race between instances on a real PostgreSQL in test/approvals-race.test.ts.
 */

const ISSUER = "https://issuer.test";
const caller = (subject: string, scopes: string[], clientId = `cli-${subject}`): Caller => ({
  issuer: ISSUER,
  subject,
  clientId,
  scopes,
});
const ada = caller("ada", ["workflows:run"]);
const bob = caller("bob", ["workflows:approve:add"]);
const carol = caller("carol", ["workflows:approve:echo"]);
const root = caller("root", ["workflows:admin"]);
/** Ada's subject at another issuer: another person. */
const adaElsewhere: Caller = {
  ...ada,
  issuer: "https://elsewhere.test",
  scopes: ["workflows:admin"],
};

let ws: ReturnType<typeof workspace>;
let engine: LocalEngine;
let store: Store;
let now: Date;
let approvals: Approvals;

function service(options: { ttlMinutes?: number; maxPending?: number } = {}) {
  return new Approvals(
    {
      policy: parseApprovalPolicy("add,echo=self,fail"),
      ttlMinutes: options.ttlMinutes ?? 60,
      maxPendingPerCaller: options.maxPending ?? 20,
      publicUrl: "https://mcp.example.com",
    },
    {
      store: store.approvals,
      backend: engine,
      auditor: createAuditor(store, silent),
      logger: silent,
      now: () => now,
    },
  );
}

beforeEach(async () => {
  ws = workspace();
  engine = await ws.open();
  store = await createStore({ sqlitePath: `${ws.dir}/owners.sqlite`, logger: silent });
  now = new Date("2026-06-01T10:00:00.000Z");
  approvals = service();
});
afterEach(async () => {
  await store.close();
  await ws.cleanup();
});

const runsOf = async (who: Caller) =>
  (await engine.listRuns({ limit: 100, access: own({ ...who, at: "" }) })).runs;

describe("a request", () => {
  it("records the task, input and requester, and starts nothing", async () => {
    const approval = await approvals.request(ada, "add", [2, 3], "start_task_run");
    expect(approval).toEqual({
      id: expect.stringMatching(/^apr-[0-9a-f]{32}$/),
      status: "pending",
      task: "add",
      mode: "approver",
      requestedBy: { issuer: ISSUER, subject: "ada", clientId: "cli-ada" },
      createdAt: "2026-06-01T10:00:00.000Z",
      expiresAt: "2026-06-01T11:00:00.000Z",
      url: `https://mcp.example.com/approvals/${approval.id}`,
    });
    expect(await runsOf(ada)).toEqual([]);
    expect((await store.approvals.get(approval.id))?.input).toEqual([2, 3]);
  });

  it("of an unknown task, or too large, is refused before anything is recorded", async () => {
    const star = new Approvals(
      {
        policy: parseApprovalPolicy("*"),
        ttlMinutes: 60,
        maxPendingPerCaller: 20,
        publicUrl: "https://mcp.example.com",
      },
      {
        store: store.approvals,
        backend: engine,
        auditor: createAuditor(store, silent),
        logger: silent,
      },
    );
    // A reference naming no task needs no approval: the start itself refuses it.
    expect(star.modeOf("nope")).toBeUndefined();
    expect(star.modeOf("add")).toBe("approver");
    await expect(
      approvals.request(ada, "add", ["x".repeat(4 * 1024 * 1024 + 1)], "start_task_run"),
    ).rejects.toMatchObject({ code: "ERR_INPUT_TOO_LARGE" });
    expect(await store.approvals.pendingCount(ada, now.toISOString())).toBe(0);
  });

  it("beyond APPROVAL_MAX_PENDING_PER_CALLER is refused with ERR_LIMIT_REACHED; others are not", async () => {
    approvals = service({ maxPending: 2 });
    await approvals.request(ada, "add", [1, 1], "start_task_run");
    const second = await approvals.request(ada, "add", [1, 2], "start_task_run");
    await expect(approvals.request(ada, "add", [1, 3], "start_task_run")).rejects.toMatchObject({
      code: "ERR_LIMIT_REACHED",
      retryAfterSeconds: 60,
      message:
        'You have 2 approval requests waiting for a decision, the most one caller may have here (APPROVAL_MAX_PENDING_PER_CALLER is 2); withdraw some, or wait until they are decided or expire (list_approval_requests with status "pending" shows them)',
    });
    await approvals.request(bob, "add", [1, 4], "start_task_run");
    // A decided one no longer counts.
    await approvals.withdraw(second.id, ada, "cancel_task_run");
    await approvals.request(ada, "add", [1, 5], "start_task_run");
  });
});

describe("deciding", () => {
  it("the requester of an approver-mode request can never decide it, whatever they hold", async () => {
    const { id } = await approvals.request(root, "add", [1, 2], "start_task_run");
    for (const decision of ["approve", "deny"] as const) {
      await expect(approvals.decide(id, root, decision, { channel: "tool" })).rejects.toMatchObject(
        {
          code: "ERR_DECISION_NOT_ALLOWED",
          message: `You asked for approval request ${id}: someone else holding workflows:approve:add (or workflows:approve) decides it`,
        },
      );
      await expect(approvals.decide(id, root, decision, { channel: "page" })).rejects.toMatchObject(
        {
          code: "ERR_DECISION_NOT_ALLOWED",
        },
      );
    }
    expect((await store.approvals.get(id))?.status).toBe("pending");
  });

  it("takes the approve scope of the request's task; without it the request is not even visible", async () => {
    const { id } = await approvals.request(ada, "add", [1, 2], "start_task_run");
    await expect(approvals.decide(id, carol, "approve", { channel: "tool" })).rejects.toMatchObject(
      {
        code: "ERR_APPROVAL_NOT_FOUND",
        message: `No approval request "${id}" among those you asked for or may decide (list_approval_requests shows them)`,
      },
    );
    // The same subject at another issuer is another person: an admin there decides.
    const decided = await approvals.decide(id, adaElsewhere, "deny", { channel: "tool" });
    expect(decided.approval.decidedBy).toEqual({
      issuer: "https://elsewhere.test",
      subject: "ada",
      clientId: "cli-ada",
    });
  });

  it("approve starts the run once, as the requester, with the input as requested", async () => {
    const { id } = await approvals.request(ada, "add", [2, 3], "start_task_run");
    now = new Date("2026-06-01T10:05:00.000Z");
    const first = await approvals.decide(id, bob, "approve", { channel: "tool", reason: "ok" });
    expect(first.approval).toMatchObject({
      status: "approved",
      decidedBy: { issuer: ISSUER, subject: "bob", clientId: "cli-bob" },
      decidedAt: "2026-06-01T10:05:00.000Z",
      reason: "ok",
      runId: first.run?.id,
    });
    expect(first.run).toMatchObject({
      task: "add",
      input: [2, 3],
      startedBy: { issuer: ISSUER, subject: "ada", clientId: "cli-ada" },
    });
    // Final and idempotent: approving again answers it as it is, and starts nothing more.
    const again = await approvals.decide(id, bob, "approve", { channel: "tool" });
    expect(again.approval).toEqual(first.approval);
    expect(again.run?.id).toBe(first.run?.id);
    expect((await runsOf(ada)).map((r) => r.id)).toEqual([first.run?.id]);
    await expect(approvals.decide(id, root, "deny", { channel: "tool" })).rejects.toMatchObject({
      code: "ERR_ALREADY_DECIDED",
      message: `Approval request ${id} was approved by bob at 2026-06-01T10:05:00.000Z; decisions are final`,
    });
  });

  it("deny starts nothing; approving a denied request is refused", async () => {
    const { id } = await approvals.request(ada, "add", [2, 3], "start_task_run");
    const denied = await approvals.decide(id, bob, "deny", { channel: "tool", reason: "not now" });
    expect(denied).toEqual({
      approval: expect.objectContaining({ status: "denied", reason: "not now" }),
    });
    await expect(approvals.decide(id, bob, "approve", { channel: "tool" })).rejects.toMatchObject({
      code: "ERR_ALREADY_DECIDED",
    });
    expect(await runsOf(ada)).toEqual([]);
  });

  it("self mode: only the requester, only on the page", async () => {
    const { id } = await approvals.request(ada, "echo", ["hi"], "start_task_run");
    await expect(approvals.decide(id, ada, "approve", { channel: "tool" })).rejects.toMatchObject({
      code: "ERR_DECISION_NOT_ALLOWED",
      message: `Approval request ${id} is confirmed by the person who asked (ada) in a browser, signed in as themselves: open https://mcp.example.com/approvals/${id}`,
    });
    // Nobody else sees it: no approve scope decides a self-mode request.
    await expect(approvals.decide(id, root, "approve", { channel: "page" })).rejects.toMatchObject({
      code: "ERR_APPROVAL_NOT_FOUND",
    });
    const confirmed = await approvals.decide(id, ada, "approve", { channel: "page" });
    expect(confirmed.run).toMatchObject({ task: "echo", input: ["hi"] });
    expect(confirmed.approval.decidedBy).toEqual({
      issuer: ISSUER,
      subject: "ada",
      clientId: "cli-ada",
    });
  });
});

describe("time and withdrawal", () => {
  it("an undecided request expires and never runs", async () => {
    const { id } = await approvals.request(ada, "add", [2, 3], "start_task_run");
    now = new Date("2026-06-01T11:00:00.000Z");
    // Past its time it reads as expired before any sweep, and cannot be decided.
    expect(approvals.view(await approvals.get(id, ada)).status).toBe("expired");
    await expect(approvals.decide(id, bob, "approve", { channel: "tool" })).rejects.toMatchObject({
      code: "ERR_ALREADY_DECIDED",
      message: `Approval request ${id} expired at 2026-06-01T11:00:00.000Z undecided; it never runs (start the task again for a new request)`,
    });
    expect(await approvals.sweep()).toBe(1);
    expect(await approvals.sweep()).toBe(0);
    expect((await store.approvals.get(id))?.status).toBe("expired");
    expect(await runsOf(ada)).toEqual([]);
    const events = await store.listAuditEvents({ limit: 10 });
    expect(events.events.map((e) => e.outcome)).toEqual(["approval_expired", "approval_requested"]);
  });

  it("the requester withdraws a pending request; nobody else can", async () => {
    const { id } = await approvals.request(ada, "add", [2, 3], "start_task_run");
    await expect(approvals.withdraw(id, bob, "cancel_task_run")).rejects.toMatchObject({
      code: "ERR_DECISION_NOT_ALLOWED",
      message: `Only the person who asked (ada) may withdraw approval request ${id}`,
    });
    const withdrawn = await approvals.withdraw(id, ada, "cancel_task_run");
    expect(withdrawn).toMatchObject({ changed: true, approval: { status: "canceled" } });
    expect(withdrawn.approval.decidedBy).toBeUndefined();
    expect(await approvals.withdraw(id, ada, "cancel_task_run")).toMatchObject({
      changed: false,
      approval: { status: "canceled" },
    });
    await expect(approvals.decide(id, bob, "approve", { channel: "tool" })).rejects.toMatchObject({
      code: "ERR_ALREADY_DECIDED",
    });
  });

  it("an approval whose run did not start is started by the sweep, once", async () => {
    const { id } = await approvals.request(ada, "add", [2, 3], "start_task_run");
    // An instance decided and stopped before starting the run (nothing recorded a claim).
    await store.approvals.decide(id, {
      status: "approved",
      by: { issuer: ISSUER, subject: "bob" },
      at: now.toISOString(),
    });
    expect(await runsOf(ada)).toEqual([]);
    await approvals.sweep();
    await approvals.sweep();
    const runs = await runsOf(ada);
    expect(runs).toHaveLength(1);
    expect((await store.approvals.get(id))?.runId).toBe(runs[0]?.id);
  });
});

describe("an approved run that cannot start yet", () => {
  it("is answered approved with why; the sweep starts it once it can", async () => {
    await ws.close(engine);
    engine = await ws.open({ maxActiveRunsPerCaller: 1 });
    approvals = service();
    const busy = await engine.startRun("sleep", [60_000], { ...ada, at: now.toISOString() });
    const { id } = await approvals.request(ada, "add", [2, 3], "start_task_run");
    const decided = await approvals.decide(id, bob, "approve", { channel: "tool" });
    expect(decided.approval.status).toBe("approved");
    expect(decided.run).toBeUndefined();
    expect(decided.startError).toMatch(
      /^You have 1 run that has not finished, the most one caller/,
    );
    // Its claim was given up at once: the sweep may take it without waiting a minute.
    expect(
      await store.approvals.unstarted(now.toISOString(), "2026-01-01T00:00:00.000Z", 10),
    ).toEqual([id]);
    await engine.cancelRun(busy.id, own({ ...ada, at: "" }));
    await approvals.sweep();
    const started = await store.approvals.get(id);
    expect(started?.runId).toMatch(/^trn-/);
    const runs = (await runsOf(ada)).filter((r) => r.task === "add");
    expect(runs.map((r) => r.id)).toEqual([started?.runId]);
  });
});

describe("what each caller lists", () => {
  it("their own requests, and those they may decide, newest first", async () => {
    const a1 = await approvals.request(ada, "add", [1, 1], "start_task_run");
    now = new Date(now.getTime() + 1000);
    const a2 = await approvals.request(ada, "echo", ["self"], "start_task_run");
    now = new Date(now.getTime() + 1000);
    const b1 = await approvals.request(bob, "add", [2, 2], "start_task_run");
    const ids = async (who: Caller, query = {}) =>
      (await approvals.list(who, { limit: 20, ...query })).approvals.map((a) => a.id);
    expect(await ids(ada)).toEqual([a2.id, a1.id]);
    // Bob may decide add: Ada's add request, not her self-mode one; and his own.
    expect(await ids(bob)).toEqual([b1.id, a1.id]);
    expect(await ids(carol)).toEqual([]);
    expect(await ids(root)).toEqual([b1.id, a1.id]);
    expect(await ids(bob, { task: "add", status: "pending" })).toEqual([b1.id, a1.id]);
    expect(await ids(bob, { status: "approved" })).toEqual([]);
    expect(approvals.decidable(bob)).toEqual(["add"]);
    expect(approvals.decidable(root)).toBe("all");
    expect(approvals.decidable(ada)).toBeUndefined();
  });
});
