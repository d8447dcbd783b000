import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEvent } from "../src/store/types.js";
import { describeEachStore, type RunningPostgres, startPostgres } from "./helpers/postgres.js";
import { codeOf, runOf, start, textOf } from "./helpers/results.js";
import {
  ALL_SCOPES,
  type McpTestClient,
  postMcp,
  postModern,
  type Stack,
  startStack,
  TASKS_CAPABILITY,
  taskMethod,
  toolCall,
} from "./helpers/stack.js";

/**
 * Issue 10's audit trail, on the embedded engine with each store: every
 * start and cancel (tools and tasks/cancel) is one JSON log line
 * (`msg: "audit"`), and one stored event `list_audit_events` answers with
 * when it changed something (issue 17: what a caller can repeat without
 * changing anything — refusals, failures, cancels of finished or invisible
 * runs — is logged only); and no token, Authorization header or task input
 * appears in an event or anywhere in the server's output.
 */

const secret = (label: string) => `${label}-${randomBytes(12).toString("hex")}`;

/** The stable field names, in the order the log and the store give them. */
const FIELDS = [
  "at",
  "issuer",
  "subject",
  "clientId",
  "tool",
  "task",
  "runId",
  "decision",
  "outcome",
  "reason",
];

interface AuditPage {
  events: AuditEvent[];
  next_cursor?: string;
}

describeEachStore("the audit trail (%s store)", (kind) => {
  let postgres: RunningPostgres | undefined;
  let stack: Stack;
  /** Every token handed to the server, and every task input sent: none may be printed. */
  const tokens: string[] = [];
  const inputs: string[] = [];
  const tokenOf: Record<string, string> = {};

  async function person(sub: string, scope: string, claims: Record<string, unknown> = {}) {
    const client = await stack.connect(scope, "modern", {
      sub,
      client_id: `${sub}-cli`,
      ...claims,
    });
    tokens.push(client.token);
    tokenOf[sub] = client.token;
    return client;
  }

  let alice: McpTestClient;
  let bob: McpTestClient;
  let admin: McpTestClient;

  beforeAll(async () => {
    if (kind === "postgres") postgres = await startPostgres();
    stack = await startStack(postgres ? { DATABASE_URL: postgres.url } : {});
    alice = await person("alice", ALL_SCOPES);
    bob = await person("bob", ALL_SCOPES);
    admin = await person("root", "workflows:admin");
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await postgres?.close();
  });

  const logged = () =>
    stack.server.logs.filter((l) => l.msg === "audit").map((l) => l.audit as AuditEvent);
  /** The audit log lines matching, once the server's stdout has delivered them (bounded). */
  async function loggedWhere(match: (e: AuditEvent) => boolean, count = 1) {
    for (let i = 0; i < 100; i++) {
      const found = logged().filter(match);
      if (found.length >= count) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return logged().filter(match);
  }
  const list = async (args: Record<string, unknown>) => {
    const result = await admin.callTool("list_audit_events", args);
    expect(result.isError, textOf(result)).toBeFalsy();
    return result.structuredContent as unknown as AuditPage;
  };
  /** Every stored event matching the filters, newest first, following next_cursor. */
  async function all(args: Record<string, unknown> = {}, limit = 100) {
    const pages: AuditEvent[][] = [];
    let cursor: string | undefined;
    do {
      const page = await list({ ...args, limit, cursor });
      pages.push(page.events);
      cursor = page.next_cursor;
    } while (cursor && pages.length < 100);
    return pages;
  }
  const cancelTask = (sub: string, taskId: string) =>
    taskMethod(stack.server.url, "tasks/cancel", taskId, tokenOf[sub] as string);

  it("start_task_run: one event in the log and the same one in the store, with stable names", async () => {
    const input = secret("start-input");
    inputs.push(input);
    const run = await start(alice, "echo", [input]);
    const expected = {
      at: expect.any(String),
      issuer: stack.issuer.issuer,
      subject: "alice",
      clientId: "alice-cli",
      tool: "start_task_run",
      task: "echo",
      runId: run.id,
      decision: "allowed",
      outcome: "started",
    };
    const stored = await list({ run_id: run.id });
    expect(stored).toEqual({ events: [expected] });
    const event = stored.events[0] as AuditEvent;
    expect(Object.keys(event)).toEqual(FIELDS.filter((f) => f !== "reason"));
    expect(Date.parse(event.at)).not.toBeNaN();
    // The log line: msg "audit", the event under `audit`, the very same.
    const lines = await loggedWhere((e) => e.runId === run.id);
    expect(lines).toEqual([event]);
    const line = stack.server.output.find((l) => l.includes(run.id) && l.includes('"audit"'));
    expect(JSON.parse(line as string)).toMatchObject({ msg: "audit", audit: event });
  });

  it("a token without a client id leaves clientId out, never empty", async () => {
    const anonymous = await person("dana", ALL_SCOPES, { client_id: undefined });
    const run = await start(anonymous, "echo", ["x"]);
    const { events } = await list({ run_id: run.id });
    expect(events).toEqual([
      {
        at: expect.any(String),
        issuer: stack.issuer.issuer,
        subject: "dana",
        tool: "start_task_run",
        task: "echo",
        runId: run.id,
        decision: "allowed",
        outcome: "started",
      },
    ]);
    expect(await loggedWhere((e) => e.runId === run.id)).toEqual(events);
  });

  it("cancel_task_run: canceled is stored; already_finished (nothing changed) is logged only", async () => {
    const run = await start(alice, "sleep", [60_000], 0);
    const first = await alice.callTool("cancel_task_run", { id: run.id });
    expect(first.structuredContent).toMatchObject({ already_finished: false });
    const second = await alice.callTool("cancel_task_run", { id: run.id });
    expect(second.structuredContent).toMatchObject({ already_finished: true });
    const base = {
      at: expect.any(String),
      issuer: stack.issuer.issuer,
      subject: "alice",
      clientId: "alice-cli",
      task: "sleep",
      runId: run.id,
      decision: "allowed",
    };
    const { events } = await list({ run_id: run.id });
    expect(events).toEqual([
      { ...base, tool: "cancel_task_run", outcome: "canceled" },
      { ...base, tool: "start_task_run", outcome: "started" },
    ]);
    expect(await loggedWhere((e) => e.runId === run.id, 3)).toEqual([
      ...[...events].reverse(),
      { ...base, tool: "cancel_task_run", outcome: "already_finished" },
    ]);
  });

  it("rerun_task_run is audited as a start of the new run", async () => {
    const input = secret("rerun-input");
    inputs.push(input);
    const original = await start(alice, "echo", [input]);
    const result = await alice.callTool("rerun_task_run", { id: original.id });
    expect(result.isError, textOf(result)).toBeFalsy();
    const copy = runOf(result);
    const { events } = await list({ run_id: copy.id });
    expect(events).toEqual([
      {
        at: expect.any(String),
        issuer: stack.issuer.issuer,
        subject: "alice",
        clientId: "alice-cli",
        tool: "rerun_task_run",
        task: "echo",
        runId: copy.id,
        decision: "allowed",
        outcome: "started",
      },
    ]);
    expect(await loggedWhere((e) => e.runId === copy.id)).toEqual(events);
  });

  it("tasks/cancel is audited like cancel_task_run, under its method's name", async () => {
    const run = await start(bob, "sleep", [60_000], 0);
    expect((await cancelTask("bob", run.id)).result).toMatchObject({ resultType: "complete" });
    expect((await cancelTask("bob", run.id)).result).toMatchObject({ resultType: "complete" });
    const base = {
      at: expect.any(String),
      issuer: stack.issuer.issuer,
      subject: "bob",
      clientId: "bob-cli",
      task: "sleep",
      runId: run.id,
      decision: "allowed",
    };
    const { events } = await list({ run_id: run.id });
    expect(events).toEqual([
      { ...base, tool: "tasks/cancel", outcome: "canceled" },
      { ...base, tool: "start_task_run", outcome: "started" },
    ]);
    expect(await loggedWhere((e) => e.runId === run.id, 3)).toEqual([
      ...[...events].reverse(),
      { ...base, tool: "tasks/cancel", outcome: "already_finished" },
    ]);
  });

  it("failures are logged with outcome failed and the error code, and cancels of runs the caller cannot see as refusals; none is stored", async () => {
    const bobs = await start(bob, "echo", ["bob's"]);
    const missing = `trn-${randomBytes(10).toString("hex")}`;
    const badInput = secret("bad-input");
    const unknownInput = secret("unknown-task-input");
    inputs.push(badInput, unknownInput);
    const storedBefore = (await all({ subject: "alice" })).flat();

    const unknown = await alice.callTool("start_task_run", {
      task: "no-such-task",
      input: [unknownInput],
    });
    expect(codeOf(unknown)).toBe("ERR_UNKNOWN_TASK");
    const refused = await alice.callTool("start_task_run", { task: "add", input: [badInput, 1] });
    expect(codeOf(refused)).toBe("ERR_INVALID_INPUT");
    const notMine = await alice.callTool("cancel_task_run", { id: bobs.id });
    expect(codeOf(notMine)).toBe("ERR_RUN_NOT_FOUND");
    const viaTasks = await cancelTask("alice", missing);
    expect(viaTasks.error?.code).toBe(-32602);

    const base = {
      at: expect.any(String),
      issuer: stack.issuer.issuer,
      subject: "alice",
      clientId: "alice-cli",
    };
    const failed = { ...base, decision: "allowed", outcome: "failed" };
    const notFound = { ...base, decision: "refused", outcome: "not_found" };
    const lines = await loggedWhere(
      (e) => e.subject === "alice" && (e.outcome === "failed" || e.outcome === "not_found"),
      4,
    );
    expect(lines.slice(-4)).toEqual([
      { ...failed, tool: "start_task_run", task: "no-such-task", reason: "ERR_UNKNOWN_TASK" },
      { ...failed, tool: "start_task_run", task: "add", reason: "ERR_INVALID_INPUT" },
      { ...notFound, tool: "cancel_task_run", runId: bobs.id, reason: "ERR_RUN_NOT_FOUND" },
      { ...notFound, tool: "tasks/cancel", runId: missing, reason: "ERR_RUN_NOT_FOUND" },
    ]);
    expect((await all({ subject: "alice" })).flat()).toEqual(storedBefore);
    // Bob's run was not touched, and its trail says only that it started.
    expect((await list({ run_id: bobs.id })).events.map((e) => [e.subject, e.outcome])).toEqual([
      ["bob", "started"],
    ]);
  });

  it("a start refused for its arguments (ERR_INVALID_ARGUMENTS) is logged, not stored", async () => {
    const before = (await all({ subject: "bob" })).flat().length;
    const result = await bob.callTool("start_task_run", { task: "echo", wait_seconds: 9_999 });
    expect(codeOf(result)).toBe("ERR_INVALID_ARGUMENTS");
    expect((await all({ subject: "bob" })).flat().length).toBe(before);
    const [line] = (
      await loggedWhere((e) => e.subject === "bob" && e.reason === "ERR_INVALID_ARGUMENTS")
    ).slice(-1);
    expect(line).toEqual({
      at: expect.any(String),
      issuer: stack.issuer.issuer,
      subject: "bob",
      clientId: "bob-cli",
      tool: "start_task_run",
      task: "echo",
      decision: "allowed",
      outcome: "failed",
      reason: "ERR_INVALID_ARGUMENTS",
    });
  });

  it("200 cancels of runs that do not exist, from a token holding only workflows:cancel, store nothing", async () => {
    const canceller = await person("flooder", "workflows:cancel");
    const stored = (await all()).flat().length;
    const forged = (i: number) => `trn-${String(i).padStart(3, "0")}${"f".repeat(193)}`;
    for (let i = 0; i < 100; i++) {
      const result = await canceller.callTool("cancel_task_run", { id: forged(i) });
      expect(codeOf(result)).toBe("ERR_RUN_NOT_FOUND");
      const viaTasks = await cancelTask("flooder", forged(100 + i));
      expect(viaTasks.error?.code).toBe(-32602);
    }
    expect((await all()).flat().length).toBe(stored);
    const refusals = await loggedWhere(
      (e) => e.subject === "flooder" && e.decision === "refused" && e.outcome === "not_found",
      200,
    );
    expect(refusals).toHaveLength(200);
  });

  it("401 and 403 refusals are logged, never stored", async () => {
    const storedBefore = (await all()).flat().length;
    const marker = secret("refusal-task");
    const neverRun = secret("never-run");
    inputs.push(neverRun);

    // 401: no token, then a token that fails validation, then a non-Bearer header.
    const none = await postMcp(stack.server.url, toolCall("whoami"));
    expect(none.status).toBe(401);
    const expired = await stack.issuer.sign(
      { sub: "late", scope: ALL_SCOPES },
      { expiresIn: -600 },
    );
    tokens.push(expired);
    const late = await postMcp(stack.server.url, toolCall("whoami"), {
      authorization: `Bearer ${expired}`,
    });
    expect(late.status).toBe(401);
    const basicSecret = secret("basic-credentials");
    tokens.push(basicSecret);
    const basic = await postMcp(stack.server.url, toolCall("whoami"), {
      authorization: `Basic ${basicSecret}`,
    });
    expect(basic.status).toBe(401);

    // 403: a reader starting a run (its task named), and asking for the audit trail.
    const readerToken = await stack.issuer.sign({
      sub: "reader",
      scope: "workflows:read:all",
      client_id: "reader-cli",
    });
    tokens.push(readerToken);
    const start = await postModern(
      stack.server.url,
      "tools/call",
      { name: "start_task_run", arguments: { task: marker, input: [neverRun] } },
      { token: readerToken },
    );
    expect(start.status).toBe(403);
    const trail = await postModern(
      stack.server.url,
      "tools/call",
      { name: "list_audit_events", arguments: {} },
      { token: readerToken },
    );
    expect(trail.status).toBe(403);
    const cancel = await postModern(
      stack.server.url,
      "tasks/cancel",
      { taskId: "trn-00000000000000000000" },
      { token: readerToken, capabilities: TASKS_CAPABILITY },
    );
    expect(cancel.status).toBe(403);

    const refusals = await loggedWhere(
      (e) => e.decision === "refused" && e.outcome !== "not_found",
      6,
    );
    const reader = {
      at: expect.any(String),
      issuer: stack.issuer.issuer,
      subject: "reader",
      clientId: "reader-cli",
      decision: "refused",
      outcome: "insufficient_scope",
    };
    expect(refusals.slice(-6)).toEqual([
      { at: expect.any(String), decision: "refused", outcome: "no_token" },
      {
        at: expect.any(String),
        decision: "refused",
        outcome: "invalid_token",
        reason: "ERR_TOKEN_EXPIRED",
      },
      {
        at: expect.any(String),
        decision: "refused",
        outcome: "invalid_token",
        reason: "ERR_TOKEN_MALFORMED",
      },
      { ...reader, tool: "start_task_run", task: marker, reason: "workflows:run" },
      { ...reader, tool: "list_audit_events", reason: "workflows:admin" },
      { ...reader, tool: "tasks/cancel", reason: "workflows:cancel" },
    ]);
    const stored = (await all()).flat();
    expect(stored.length).toBe(storedBefore);
    expect(stored.filter((e) => e.decision !== "allowed")).toEqual([]);
    expect(JSON.stringify(stored)).not.toContain(marker);
  });

  it("list_audit_events needs workflows:admin, whatever else the token holds", async () => {
    const everything = await stack.issuer.sign({
      sub: "almost",
      scope: "workflows:read:all workflows:run workflows:cancel:all",
    });
    tokens.push(everything);
    const res = await postModern(
      stack.server.url,
      "tools/call",
      { name: "list_audit_events", arguments: {} },
      { token: everything },
    );
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate")).toMatch(
      /^Bearer error="insufficient_scope", error_description="list_audit_events requires workflows:admin; /,
    );
    expect(((await res.json()) as { error: unknown }).error).toMatchObject({
      code: -32003,
      data: { tool: "list_audit_events", missingScopes: ["workflows:admin"] },
    });
  });

  describe("who started or cancelled what, when", () => {
    let erin: McpTestClient;
    let frank: McpTestClient;
    /** Erin's runs, in the order started. */
    const erins: string[] = [];
    const franks: string[] = [];
    let cancelled: string;
    beforeAll(async () => {
      erin = await person("erin", ALL_SCOPES);
      frank = await person("frank", ALL_SCOPES);
      for (let i = 0; i < 5; i++) {
        erins.push((await start(erin, "echo", [i])).id);
        if (i < 3) franks.push((await start(frank, "add", [i, i])).id);
      }
      cancelled = (await start(frank, "sleep", [60_000], 0)).id;
      await frank.callTool("cancel_task_run", { id: cancelled });
    }, 60_000);

    it("by subject, a page at a time, newest first, each event once", async () => {
      const pages = await all({ subject: "erin" }, 2);
      expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
      const events = pages.flat();
      expect(events.map((e) => e.runId)).toEqual([...erins].reverse());
      expect(events.every((e) => e.subject === "erin" && e.outcome === "started")).toBe(true);
      const times = events.map((e) => Date.parse(e.at));
      expect(times).toEqual([...times].sort((a, b) => b - a));
    });

    it("by task and by run", async () => {
      const adds = (await all({ subject: "frank", task: "add" }, 2)).flat();
      expect(adds.map((e) => [e.runId, e.outcome])).toEqual(
        [...franks].reverse().map((id) => [id, "started"]),
      );
      const sleeps = (await all({ subject: "frank", task: "sleep" })).flat();
      expect(sleeps.map((e) => [e.tool, e.outcome])).toEqual([
        ["cancel_task_run", "canceled"],
        ["start_task_run", "started"],
      ]);
      const one = await list({ run_id: erins[2] });
      expect(one.events.map((e) => [e.subject, e.runId])).toEqual([["erin", erins[2]]]);
      expect(one.next_cursor).toBeUndefined();
    });

    it("since (inclusive) and until (exclusive)", async () => {
      const events = (await all({ subject: "erin" })).flat();
      const middle = events[2] as AuditEvent;
      const since = (await all({ subject: "erin", since: middle.at }, 2)).flat();
      expect(since).toEqual(events.filter((e) => e.at >= middle.at));
      expect(since).toContainEqual(middle);
      const until = (await all({ subject: "erin", until: middle.at }, 2)).flat();
      expect(until).toEqual(events.filter((e) => e.at < middle.at));
      expect(until).not.toContainEqual(middle);
      const both = await list({ subject: "erin", since: middle.at, until: middle.at });
      expect(both.events).toEqual([]);
    });

    it("a cursor is honoured only with the filters it was issued for", async () => {
      const first = await list({ subject: "erin", limit: 1 });
      expect(first.next_cursor).toEqual(expect.any(String));
      const result = await admin.callTool("list_audit_events", {
        subject: "frank",
        limit: 1,
        cursor: first.next_cursor,
      });
      expect(result.isError).toBe(true);
      expect(codeOf(result)).toBe("ERR_INVALID_CURSOR");
    });
  });

  it("no token, Authorization header or task input appears in any event or any output", async () => {
    // Inputs that end up in a run's error, and in a 403'd call, as well.
    const failing = secret("failing-input");
    inputs.push(failing);
    const failed = await start(alice, "fail", [failing]);
    expect(failed).toMatchObject({ status: "failed", error: failing });
    // Each token has been used; the audit trail and every line printed are clean.
    const stored = JSON.stringify((await all()).flat());
    const output = stack.server.output.join("\n");
    expect(tokens.length).toBeGreaterThan(5);
    expect(inputs.length).toBeGreaterThan(3);
    for (const value of [...tokens, ...inputs]) {
      expect(stored).not.toContain(value);
      expect(output).not.toContain(value);
    }
    for (const token of tokens) {
      // Not even the signature alone.
      const signature = token.split(".")[2];
      if (signature) expect(output).not.toContain(signature);
    }
    expect(output).not.toMatch(/bearer [A-Za-z0-9]/i);
    expect(output).not.toMatch(/"authorization"/i);
    expect(stack.server.logs.filter((l) => l.msg === "audit").length).toBeGreaterThan(15);
  });
});
