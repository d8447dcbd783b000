import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEvent } from "../src/store/types.js";
import type { TaskRun } from "../src/workflows/run.js";
import { startTestIssuer, type TestIssuer } from "./helpers/issuer.js";
import {
  describeEachStore,
  describePostgres,
  type RunningPostgres,
  startPostgres,
} from "./helpers/postgres.js";
import {
  codeOf,
  missingId,
  type RunPage,
  runOf,
  textOf,
  walk,
  withoutId,
} from "./helpers/results.js";
import { type RunningServer, startServer } from "./helpers/server.js";
import {
  ALL_SCOPES,
  connectClient,
  type McpTestClient,
  postModern,
  RESOURCE,
  rpcMessages,
  TASKS_CAPABILITY,
} from "./helpers/stack.js";
import { type FakeRenderApi, startFakeRenderApi } from "./render/fake-render-api.js";
import { API_KEY, renderEnv } from "./render/stack.js";

/**
 * Issue 10 on the render backend, spawned servers against the loopback
 * Render fake. Render's runs carry no owner: the server records who started
 * each run in its store (the SQLite file, or PostgreSQL with DATABASE_URL),
 * and every instance sharing that store must agree. Each server paces its
 * writes to Render (4 at once, then one every 3 s), so these tests start few
 * runs and seed the rest straight into the fake, as runs started elsewhere.
 */

async function taskCall(server: RunningServer, method: string, taskId: string, token: string) {
  const res = await postModern(
    server.url,
    method,
    { taskId },
    { token, capabilities: TASKS_CAPABILITY },
  );
  return (await rpcMessages(res)).at(-1) as {
    result?: Record<string, unknown>;
    error?: { code: number; message: string; data?: unknown };
  };
}

const hiddenMessage = (id: string, scope = "workflows:read:all") =>
  `No task run ${id} in workflow my-workflow that you started (runs started by others, or outside this server, need ${scope})`;

describeEachStore("run ownership on Render (%s store)", (kind) => {
  let postgres: RunningPostgres | undefined;
  let fake: FakeRenderApi;
  let issuer: TestIssuer;
  let server: RunningServer;
  let dir: string;
  const clients: McpTestClient[] = [];
  const tokens: Record<string, string> = {};

  async function person(sub: string, scope = ALL_SCOPES) {
    const token = await issuer.sign({ sub, scope });
    tokens[sub] = token;
    const client = await connectClient(server.url, token);
    clients.push(client);
    return client;
  }

  let alice: McpTestClient;
  let bob: McpTestClient;
  let auditor: McpTestClient;
  let ops: McpTestClient;
  let admin: McpTestClient;
  /** Alice's long-lived run (report runs stay pending on the fake). */
  let pending: TaskRun;

  beforeAll(async () => {
    if (kind === "postgres") postgres = await startPostgres();
    fake = await startFakeRenderApi({ apiKey: API_KEY });
    fake.addTask("square");
    fake.addTask("report");
    fake.addTask("child");
    fake.script(
      "square",
      [{ do: "start" }, { do: "log", message: "squaring" }, { do: "succeed", result: 4 }],
      30,
    );
    issuer = await startTestIssuer({ audience: RESOURCE });
    dir = mkdtempSync(join(tmpdir(), "workflows-mcp-render-"));
    server = await startServer(renderEnv(fake, issuer, join(dir, "one.sqlite"), postgres?.url));
    alice = await person("alice");
    bob = await person("bob");
    auditor = await person("auditor", "workflows:read:all");
    ops = await person("ops", "workflows:read workflows:cancel:all");
    admin = await person("admin", "workflows:admin");
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await server?.stop();
    await issuer?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await fake?.close();
    await postgres?.close();
  });

  const owner = (subject: string) => ({
    issuer: issuer.issuer,
    subject,
    clientId: "test-client",
    at: expect.any(String),
  });

  it("records who started a run in the configured store, from the token only", async () => {
    expect(server.logs.find((l) => l.msg === "store migrated")).toMatchObject({ store: kind });
    const result = await alice.callTool("start_task_run", {
      task: "square",
      input: [2],
      wait_seconds: 10,
      startedBy: { issuer: issuer.issuer, subject: "bob", at: "2020-01-01T00:00:00.000Z" },
      owner: "bob",
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const run = runOf(result);
    expect(run).toMatchObject({
      task: "my-workflow/square",
      status: "succeeded",
      results: [4],
      startedBy: owner("alice"),
    });
    expect(runOf(await alice.callTool("get_task_run", { id: run.id })).startedBy).toEqual(
      run.startedBy,
    );
    const logs = await alice.callTool("get_task_run_logs", { id: run.id });
    expect((logs.structuredContent as { lines: { message: string }[] }).lines).toMatchObject([
      { message: "squaring" },
    ]);
    expect(codeOf(await bob.callTool("get_task_run", { id: run.id }))).toBe("ERR_RUN_NOT_FOUND");
  });

  it("someone else's run, and a run started outside, answer like a missing one, asking Render to change nothing", async () => {
    pending = runOf(await alice.callTool("start_task_run", { task: "report", input: [1] }));
    expect(pending.startedBy).toEqual(owner("alice"));
    const outside = fake.addRun("report", { status: "running" });
    const before = fake.requests.length;
    for (const [client, id] of [
      [bob, pending.id],
      [bob, outside.id],
      [alice, outside.id],
    ] as const) {
      const none = missingId();
      for (const [tool, args] of [
        ["get_task_run", {}],
        ["get_task_run", { wait_seconds: 5 }],
        ["get_task_run_logs", {}],
        ["cancel_task_run", {}],
      ] as const) {
        const hidden = await client.callTool(tool, { id, ...args });
        const absent = await client.callTool(tool, { id: none, ...args });
        expect(codeOf(hidden)).toBe("ERR_RUN_NOT_FOUND");
        expect(withoutId(hidden, id)).toBe(withoutId(absent, none));
      }
    }
    expect(textOf(await bob.callTool("get_task_run", { id: pending.id }))).toBe(
      hiddenMessage(pending.id),
    );
    expect(textOf(await bob.callTool("cancel_task_run", { id: pending.id }))).toBe(
      hiddenMessage(pending.id, "workflows:cancel:all"),
    );
    // The Tasks extension too.
    const none = missingId();
    for (const method of ["tasks/get", "tasks/cancel"]) {
      const hidden = await taskCall(server, method, pending.id, tokens.bob as string);
      const absent = await taskCall(server, method, none, tokens.bob as string);
      expect(hidden.error).toMatchObject({ code: -32602, data: { code: "ERR_RUN_NOT_FOUND" } });
      expect(withoutId(hidden, pending.id)).toBe(withoutId(absent, none));
    }
    const sent = fake.requests.slice(before);
    expect(sent.filter((r) => r.method !== "GET")).toEqual([]);
    expect(sent.filter((r) => r.path === "/logs" || r.path === "/task-runs/events")).toEqual([]);
    expect(fake.run(pending.id).status).toBe("pending");
    expect(fake.run(outside.id).status).toBe("running");
  });

  it("runs started outside the server are seen only with workflows:read:all, cancelled only with workflows:cancel:all", async () => {
    const outside = fake.addRun("report", { status: "running" });
    const seen = runOf(await auditor.callTool("get_task_run", { id: outside.id }));
    expect(seen).toMatchObject({ id: outside.id, task: "my-workflow/report", status: "running" });
    expect(seen).not.toHaveProperty("startedBy");
    const listed = (await auditor.callTool("list_task_runs", { limit: 5 }))
      .structuredContent as unknown as RunPage;
    const first = listed.runs[0] as TaskRun;
    expect(first.id).toBe(outside.id);
    expect(first).not.toHaveProperty("startedBy");
    const pendingListed = (await walk(auditor, { limit: 100 }))
      .flat()
      .find((r) => r.id === pending.id);
    expect(pendingListed?.startedBy).toEqual(owner("alice"));
    // Alice lists only her own.
    const hers = (await walk(alice, { limit: 100 })).flat().map((r) => r.id);
    expect(hers).not.toContain(outside.id);
    expect(hers).toContain(pending.id);
    // ops may cancel anything, but reads only its own runs.
    expect(codeOf(await ops.callTool("get_task_run", { id: outside.id }))).toBe(
      "ERR_RUN_NOT_FOUND",
    );
    const cancel = await ops.callTool("cancel_task_run", { id: outside.id });
    expect(cancel.isError, textOf(cancel)).toBeFalsy();
    expect(cancel.structuredContent).toMatchObject({
      already_finished: false,
      run: { id: outside.id, status: "canceled" },
    });
    expect(fake.run(outside.id).status).toBe("canceled");
  });

  it("a subtask run started by Alice's run is Alice's", async () => {
    const sub = fake.addRun("child", { status: "running", parent: fake.run(pending.id) });
    const seen = runOf(await alice.callTool("get_task_run", { id: sub.id }));
    expect(seen).toMatchObject({
      id: sub.id,
      parentTaskRunId: pending.id,
      rootTaskRunId: pending.id,
      startedBy: owner("alice"),
    });
    const none = missingId();
    for (const tool of ["get_task_run", "get_task_run_logs", "cancel_task_run"]) {
      const hidden = await bob.callTool(tool, { id: sub.id });
      const absent = await bob.callTool(tool, { id: none });
      expect(codeOf(hidden)).toBe("ERR_RUN_NOT_FOUND");
      expect(withoutId(hidden, sub.id)).toBe(withoutId(absent, none));
    }
    expect(runOf(await auditor.callTool("get_task_run", { id: sub.id })).startedBy).toEqual(
      owner("alice"),
    );
  });

  describe("list_task_runs pages for two owners", () => {
    let carol: McpTestClient;
    let dave: McpTestClient;
    const carols: string[] = [];
    const daves: string[] = [];
    const outside: string[] = [];
    beforeAll(async () => {
      carol = await person("carol");
      dave = await person("dave");
      for (let i = 0; i < 3; i++) {
        const c = await carol.callTool("start_task_run", { task: "report", input: [i] });
        expect(c.isError, textOf(c)).toBeFalsy();
        carols.push(runOf(c).id);
        outside.push(fake.addRun("report", { status: "completed" }).id);
        if (i < 2) {
          const d = await dave.callTool("start_task_run", { task: "report", input: [i] });
          expect(d.isError, textOf(d)).toBeFalsy();
          daves.push(runOf(d).id);
        }
        outside.push(fake.addRun("square", { status: "failed" }).id);
      }
    }, 60_000);

    it("hold only one's own runs, full, newest first, each once", async () => {
      const pages = await walk(carol, { limit: 2 });
      expect(pages.map((p) => p.length)).toEqual([2, 1]);
      expect(pages.flat().map((r) => r.id)).toEqual([...carols].reverse());
      for (const run of pages.flat()) {
        expect(run).toMatchObject({ task: "my-workflow/report", startedBy: owner("carol") });
        expect(run).not.toHaveProperty("input");
      }
      const daves1 = await walk(dave, { limit: 1 });
      expect(daves1.map((p) => p.length)).toEqual([1, 1]);
      expect(daves1.flat().map((r) => r.id)).toEqual([...daves].reverse());
      for (const run of daves1.flat()) expect(run.startedBy).toEqual(owner("dave"));
      // By task: Carol started no square run.
      expect((await walk(carol, { task: "square", limit: 2 })).flat()).toEqual([]);
    });

    it("through workflows:read:all hold every run, with who started it where the server did", async () => {
      const pages = await walk(auditor, { limit: 3 });
      expect(pages.slice(0, -1).every((p) => p.length === 3)).toBe(true);
      const runs = pages.flat();
      const ids = runs.map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(expect.arrayContaining([...carols, ...daves, ...outside]));
      const byId = new Map(runs.map((r) => [r.id, r]));
      for (const id of carols) expect(byId.get(id)?.startedBy).toEqual(owner("carol"));
      for (const id of daves) expect(byId.get(id)?.startedBy).toEqual(owner("dave"));
      for (const id of outside) expect(byId.get(id)).not.toHaveProperty("startedBy");
    });

    it("a cursor issued to Carol is refused for Dave, and for :all", async () => {
      const first = (await carol.callTool("list_task_runs", { limit: 1 }))
        .structuredContent as unknown as RunPage;
      expect(first.next_cursor).toEqual(expect.any(String));
      for (const other of [dave, auditor]) {
        const result = await other.callTool("list_task_runs", {
          limit: 1,
          cursor: first.next_cursor,
        });
        expect(result.isError).toBe(true);
        expect(codeOf(result)).toBe("ERR_INVALID_CURSOR");
      }
    });
  });

  it("the audit trail names a run's task the same way when it is started and when it is cancelled", async () => {
    const cancel = await alice.callTool("cancel_task_run", { id: pending.id });
    expect(cancel.structuredContent).toMatchObject({ run: { status: "canceled" } });
    const trail = (await admin.callTool("list_audit_events", { run_id: pending.id }))
      .structuredContent as unknown as { events: AuditEvent[] };
    // Bob's refused cancels are logged only (issue 17); Alice's events:
    const events = trail.events.filter((e) => e.subject === "alice");
    expect(events.map((e) => [e.subject, e.tool, e.outcome])).toEqual([
      ["alice", "cancel_task_run", "canceled"],
      ["alice", "start_task_run", "started"],
    ]);
    // One name per task, so that filtering by task finds both.
    expect(events.map((e) => e.task)).toEqual(["my-workflow/report", "my-workflow/report"]);
    const byTask = (await admin.callTool("list_audit_events", { task: "my-workflow/report" }))
      .structuredContent as unknown as { events: AuditEvent[] };
    expect(byTask.events.filter((e) => e.runId === pending.id)).toHaveLength(2);
  });
});

describePostgres("two instances sharing one PostgreSQL agree on ownership", () => {
  let postgres: RunningPostgres;
  let fake: FakeRenderApi;
  let first: TestIssuer;
  let second: TestIssuer;
  let dir: string;
  /** one and two trust the first issuer; other trusts the second. */
  let one: RunningServer;
  let two: RunningServer;
  let other: RunningServer;
  const clients: McpTestClient[] = [];

  beforeAll(async () => {
    postgres = await startPostgres();
    fake = await startFakeRenderApi({ apiKey: API_KEY });
    fake.addTask("report");
    first = await startTestIssuer({ audience: RESOURCE });
    second = await startTestIssuer({ audience: RESOURCE });
    dir = mkdtempSync(join(tmpdir(), "workflows-mcp-render-"));
    // Started one after another: the first migrates the database.
    one = await startServer(renderEnv(fake, first, join(dir, "one.sqlite"), postgres.url));
    two = await startServer(renderEnv(fake, first, join(dir, "two.sqlite"), postgres.url));
    other = await startServer(renderEnv(fake, second, join(dir, "other.sqlite"), postgres.url));
  }, 90_000);
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.allSettled([one?.stop(), two?.stop(), other?.stop()]);
    await first?.close();
    await second?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await fake?.close();
    await postgres?.close();
  });

  async function person(
    server: RunningServer,
    issuer: TestIssuer,
    sub: string,
    scope = ALL_SCOPES,
  ) {
    const token = await issuer.sign({ sub, scope });
    const client = await connectClient(server.url, token);
    clients.push(client);
    return { client, token };
  }

  it("Alice starts on one; two shows the same owner, lets her read and cancel, refuses Bob like a missing run", async () => {
    // All three name the one database they share, without its password.
    const { username, password, hostname, port, pathname } = new URL(postgres.url);
    for (const server of [one, two, other]) {
      const listening = server.logs.find((l) => l.msg === "listening");
      expect(listening).toMatchObject({
        store: `PostgreSQL postgres://${username}@${hostname}:${port}${pathname}`,
      });
      expect(JSON.stringify(listening)).not.toContain(password);
    }
    const aliceOnOne = (await person(one, first, "alice")).client;
    const started = runOf(
      await aliceOnOne.callTool("start_task_run", { task: "report", input: ["one"] }),
    );
    expect(started.startedBy).toMatchObject({ issuer: first.issuer, subject: "alice" });

    const aliceOnTwo = (await person(two, first, "alice")).client;
    const seen = runOf(await aliceOnTwo.callTool("get_task_run", { id: started.id }));
    expect(seen.startedBy).toEqual(started.startedBy);
    const listed = (await aliceOnTwo.callTool("list_task_runs", {}))
      .structuredContent as unknown as RunPage;
    expect(listed.runs.map((r) => [r.id, r.startedBy])).toEqual([[started.id, started.startedBy]]);

    const bob = await person(two, first, "bob");
    const none = missingId();
    for (const tool of ["get_task_run", "get_task_run_logs", "cancel_task_run"]) {
      const hidden = await bob.client.callTool(tool, { id: started.id });
      const absent = await bob.client.callTool(tool, { id: none });
      expect(codeOf(hidden)).toBe("ERR_RUN_NOT_FOUND");
      expect(withoutId(hidden, started.id)).toBe(withoutId(absent, none));
    }
    for (const method of ["tasks/get", "tasks/cancel"]) {
      const hidden = await taskCall(two, method, started.id, bob.token);
      const absent = await taskCall(two, method, none, bob.token);
      expect(hidden.error?.code).toBe(-32602);
      expect(withoutId(hidden, started.id)).toBe(withoutId(absent, none));
    }
    expect((await bob.client.callTool("list_task_runs", {})).structuredContent).toEqual({
      runs: [],
    });
    expect(fake.run(started.id).status).toBe("pending");

    // The same subject at another issuer is another person, on a third instance.
    const aliceElsewhere = (await person(other, second, "alice")).client;
    for (const tool of ["get_task_run", "cancel_task_run"]) {
      const hidden = await aliceElsewhere.callTool(tool, { id: started.id });
      const absent = await aliceElsewhere.callTool(tool, { id: none });
      expect(codeOf(hidden)).toBe("ERR_RUN_NOT_FOUND");
      expect(withoutId(hidden, started.id)).toBe(withoutId(absent, none));
    }
    expect((await aliceElsewhere.callTool("list_task_runs", {})).structuredContent).toEqual({
      runs: [],
    });
    const adminElsewhere = (await person(other, second, "admin", "workflows:admin")).client;
    expect(
      runOf(await adminElsewhere.callTool("get_task_run", { id: started.id })).startedBy,
    ).toEqual(started.startedBy);

    // Alice cancels through two; the audit trail, shared too, has both halves.
    const cancel = await aliceOnTwo.callTool("cancel_task_run", { id: started.id });
    expect(cancel.structuredContent).toMatchObject({
      already_finished: false,
      run: { id: started.id, status: "canceled", startedBy: started.startedBy },
    });
    expect(fake.run(started.id).status).toBe("canceled");
    const admin = (await person(one, first, "admin", "workflows:admin")).client;
    const { events } = (await admin.callTool("list_audit_events", { run_id: started.id }))
      .structuredContent as unknown as { events: AuditEvent[] };
    // The refused cancels (another issuer's Alice, Bob) changed nothing: logged, not stored.
    expect(events.map((e) => [e.issuer, e.subject, e.tool, e.outcome, e.reason])).toEqual([
      [first.issuer, "alice", "cancel_task_run", "canceled", undefined],
      [first.issuer, "alice", "start_task_run", "started", undefined],
    ]);
  });
});
