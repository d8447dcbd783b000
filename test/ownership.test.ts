import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StartedBy } from "../src/workflows/run.js";
import { startTestIssuer } from "./helpers/issuer.js";
import {
  describeEachStore,
  describeWithoutPostgres,
  type RunningPostgres,
  startPostgres,
} from "./helpers/postgres.js";
import {
  codeOf,
  missingId,
  type RunPage,
  runOf,
  start,
  textOf,
  walk,
  withoutId,
} from "./helpers/results.js";
import { type RunningServer, startServer } from "./helpers/server.js";
import {
  ALL_SCOPES,
  connectClient,
  type Era,
  localEnv,
  type McpTestClient,
  postModern,
  RESOURCE,
  type Stack,
  startStack,
  taskMethod,
} from "./helpers/stack.js";

/**
 * Issue 10, on the embedded engine: runs belong to whoever started them
 * (issuer and subject of the verified token), and nothing about a run one may
 * not see — its existence included — reaches anyone else, through any tool,
 * the Tasks extension, a list page, a wait or an error message. Run against
 * both stores (the engine keeps owners in its own SQLite file; the store holds
 * the audit trail and must not change that).
 */

describeEachStore("run ownership on the embedded engine (%s store)", (kind) => {
  let postgres: RunningPostgres | undefined;
  let stack: Stack;
  /** Tokens kept for raw requests (the Tasks extension): each subject's latest. */
  const tokens: Record<string, string> = {};

  /** A person: a client of `era` with a token for `sub` carrying `scope`. */
  async function person(
    sub: string,
    scope = ALL_SCOPES,
    era: Era = "modern",
    claims: Record<string, unknown> = {},
  ): Promise<McpTestClient> {
    const client = await stack.connect(scope, era, { sub, ...claims });
    tokens[sub] = client.token;
    return client;
  }

  let alice: McpTestClient;
  let bob: McpTestClient;
  /** workflows:read:all (and nothing else). */
  let auditor: McpTestClient;
  let admin: McpTestClient;

  beforeAll(async () => {
    if (kind === "postgres") postgres = await startPostgres();
    stack = await startStack(postgres ? { DATABASE_URL: postgres.url } : {});
    alice = await person("alice");
    // Bob speaks the 2025 protocol: ownership does not depend on the era.
    bob = await person("bob", ALL_SCOPES, "legacy");
    auditor = await person("auditor", "workflows:read:all");
    admin = await person("admin", "workflows:admin");
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
    await postgres?.close();
  });

  const owner = (subject: string, clientId = "test-client") => ({
    issuer: stack.issuer.issuer,
    subject,
    clientId,
    at: expect.any(String),
  });

  it("uses the store the configuration names", () => {
    const stored = stack.server.logs.find((l) => l.msg === "store migrated");
    expect(stored).toMatchObject({ store: kind });
  });

  it("records who started a run from the verified token, and shows it to them", async () => {
    const run = await start(alice, "echo", ["hello"]);
    expect(run).toMatchObject({ status: "succeeded", results: ["hello"] });
    expect(run.startedBy).toEqual(owner("alice"));
    expect(Number.isNaN(Date.parse(run.startedBy?.at ?? ""))).toBe(false);
    const again = runOf(await alice.callTool("get_task_run", { id: run.id }));
    expect(again.startedBy).toEqual(run.startedBy);
  });

  it("ignores owner fields in the arguments: only the token says who started a run", async () => {
    const forged: StartedBy = {
      issuer: stack.issuer.issuer,
      subject: "bob",
      clientId: "forged-client",
      at: "2020-01-01T00:00:00.000Z",
    };
    const result = await alice.callTool("start_task_run", {
      task: "echo",
      input: ["forged"],
      wait_seconds: 20,
      startedBy: forged,
      started_by: forged,
      owner: "bob",
      subject: "bob",
      issuer: "https://elsewhere.test",
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const run = runOf(result);
    expect(run.startedBy).toEqual(owner("alice"));
    expect(run.startedBy?.at).not.toBe(forged.at);
    // Bob, whom the arguments named, does not own it.
    const bobs = await bob.callTool("get_task_run", { id: run.id });
    expect(bobs.isError).toBe(true);
    expect(codeOf(bobs)).toBe("ERR_RUN_NOT_FOUND");
  });

  it("someone else's run answers get, wait, logs and cancel exactly like a run that does not exist", async () => {
    const theirs = await start(bob, "sleep", [60_000], 0);
    const mine = await start(alice, "sleep", [60_000], 0);
    try {
      for (const [client, id] of [
        [alice, theirs.id],
        [bob, mine.id],
      ] as const) {
        const none = missingId();
        for (const [tool, args] of [
          ["get_task_run", {}],
          ["get_task_run", { wait_seconds: 5 }],
          ["get_task_run_logs", {}],
          ["get_task_run_logs", { limit: 1, start_time: "2020-01-01T00:00:00Z" }],
          ["cancel_task_run", {}],
        ] as const) {
          const hidden = await client.callTool(tool, { id, ...args });
          const absent = await client.callTool(tool, { id: none, ...args });
          expect(hidden.isError).toBe(true);
          expect(codeOf(hidden)).toBe("ERR_RUN_NOT_FOUND");
          expect(withoutId(hidden, id)).toBe(withoutId(absent, none));
        }
      }
      // The exact words, once: they depend on the caller's access only.
      const seen = await alice.callTool("get_task_run", { id: theirs.id });
      expect(textOf(seen)).toBe(
        `No task run with id "${theirs.id}" among the runs you started (list_task_runs shows them; runs started by others need workflows:read:all)`,
      );
      const cancel = await alice.callTool("cancel_task_run", { id: theirs.id });
      expect(textOf(cancel)).toBe(
        `No task run with id "${theirs.id}" among the runs you started (list_task_runs shows them; runs started by others need workflows:cancel:all)`,
      );
      // Nothing was cancelled by the refused calls.
      expect(runOf(await bob.callTool("get_task_run", { id: theirs.id })).status).not.toBe(
        "canceled",
      );
      expect(runOf(await alice.callTool("get_task_run", { id: mine.id })).status).not.toBe(
        "canceled",
      );
    } finally {
      await bob.callTool("cancel_task_run", { id: theirs.id });
      await alice.callTool("cancel_task_run", { id: mine.id });
    }
  });

  it("each person cancels their own runs; workflows:cancel:all cancels anyone's", async () => {
    const mine = await start(alice, "sleep", [60_000], 0);
    const theirs = await start(bob, "sleep", [60_000], 0);
    const another = await start(bob, "sleep", [60_000], 0);
    const ops = await person("ops", "workflows:read workflows:cancel:all");

    const own = await alice.callTool("cancel_task_run", { id: mine.id });
    expect(own.structuredContent).toMatchObject({
      already_finished: false,
      run: { id: mine.id, status: "canceled", startedBy: owner("alice") },
    });
    const byOps = await ops.callTool("cancel_task_run", { id: theirs.id });
    expect(byOps.structuredContent).toMatchObject({
      already_finished: false,
      run: { id: theirs.id, status: "canceled" },
    });
    const byAdmin = await admin.callTool("cancel_task_run", { id: another.id });
    expect(byAdmin.structuredContent).toMatchObject({
      already_finished: false,
      run: { id: another.id, status: "canceled", startedBy: owner("bob") },
    });
    // Bob sees his runs cancelled by others.
    for (const id of [theirs.id, another.id]) {
      expect(runOf(await bob.callTool("get_task_run", { id })).status).toBe("canceled");
    }
    // workflows:cancel:all is not workflows:read:all: ops still cannot read Bob's run.
    const read = await ops.callTool("get_task_run", { id: theirs.id });
    expect(codeOf(read)).toBe("ERR_RUN_NOT_FOUND");
  });

  it("cancelling a run one may not read does not show its input or results", async () => {
    const secret = `bob-input-${randomBytes(8).toString("hex")}`;
    const theirs = await start(bob, "echo", [secret]);
    expect(theirs.status).toBe("succeeded");
    const ops = await person("ops-2", "workflows:read workflows:cancel:all");
    // get_task_run refuses ops this run: cancel_task_run must not be a way around that.
    expect(codeOf(await ops.callTool("get_task_run", { id: theirs.id }))).toBe("ERR_RUN_NOT_FOUND");
    const result = await ops.callTool("cancel_task_run", { id: theirs.id });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      already_finished: true,
      run: { id: theirs.id, status: "succeeded" },
    });
    expect(JSON.stringify(result)).not.toContain(secret);
  });

  it("workflows:read:all and workflows:admin see every run, with who started it", async () => {
    const a = await start(alice, "echo", ["a"]);
    const b = await start(bob, "echo", ["b"]);
    for (const viewer of [auditor, admin]) {
      expect(runOf(await viewer.callTool("get_task_run", { id: a.id })).startedBy).toEqual(
        owner("alice"),
      );
      expect(runOf(await viewer.callTool("get_task_run", { id: b.id })).startedBy).toEqual(
        owner("bob"),
      );
      const logs = await viewer.callTool("get_task_run_logs", { id: b.id });
      expect(logs.isError).toBeFalsy();
      const listed = (await walk(viewer, { task: "echo", limit: 100 })).flat().map((r) => r.id);
      expect(listed).toEqual(expect.arrayContaining([a.id, b.id]));
    }
    // read:all alone cancels nothing.
    const refused = await postModern(
      stack.server.url,
      "tools/call",
      { name: "cancel_task_run", arguments: { id: b.id } },
      { token: tokens.auditor },
    );
    expect(refused.status).toBe(403);
  });

  it("ownership is issuer and subject, not the client: the same person through another client", async () => {
    const run = await start(alice, "sleep", [60_000], 0);
    const laptop = await person("alice", ALL_SCOPES, "legacy", { client_id: "other-client" });
    const seen = runOf(await laptop.callTool("get_task_run", { id: run.id }));
    expect(seen.startedBy).toEqual(owner("alice"));
    const listed = (await walk(laptop, { task: "sleep", limit: 100 })).flat().map((r) => r.id);
    expect(listed).toContain(run.id);
    const cancel = await laptop.callTool("cancel_task_run", { id: run.id });
    expect(cancel.structuredContent).toMatchObject({ run: { status: "canceled" } });
    // What it starts records the client it used.
    const other = await start(laptop, "echo", ["x"]);
    expect(other.startedBy).toEqual(owner("alice", "other-client"));
  });

  it("a subtask run started by Alice's run is Alice's", async () => {
    const root = await start(alice, "fanOut", [3]);
    expect(root).toMatchObject({ status: "succeeded", results: [[0, 1, 2]] });
    const children = (await walk(auditor, { task: "echo", limit: 100 }))
      .flat()
      .filter((r) => r.parentTaskRunId === root.id);
    expect(children).toHaveLength(3);
    for (const child of children) {
      expect(child.rootTaskRunId).toBe(root.id);
      expect(child.startedBy).toEqual(root.startedBy);
      expect(runOf(await alice.callTool("get_task_run", { id: child.id })).startedBy).toEqual(
        owner("alice"),
      );
      const none = missingId();
      for (const tool of ["get_task_run", "get_task_run_logs", "cancel_task_run"]) {
        const hidden = await bob.callTool(tool, { id: child.id });
        const absent = await bob.callTool(tool, { id: none });
        expect(codeOf(hidden)).toBe("ERR_RUN_NOT_FOUND");
        expect(withoutId(hidden, child.id)).toBe(withoutId(absent, none));
      }
    }
    const alices = (await walk(alice, { task: "echo", limit: 100 })).flat().map((r) => r.id);
    expect(alices).toEqual(expect.arrayContaining(children.map((c) => c.id)));
    const bobs = (await walk(bob, { task: "echo", limit: 100 })).flat().map((r) => r.id);
    for (const child of children) expect(bobs).not.toContain(child.id);
  });

  it("rerun_task_run reaches only runs one may read, and the new run is the caller's", async () => {
    const input = `bob-rerun-${randomBytes(8).toString("hex")}`;
    const theirs = await start(bob, "echo", [input]);
    const alicesBefore = (await walk(alice, { limit: 100 })).flat().length;
    const none = missingId();
    const hidden = await alice.callTool("rerun_task_run", { id: theirs.id });
    const absent = await alice.callTool("rerun_task_run", { id: none });
    expect(codeOf(hidden)).toBe("ERR_RUN_NOT_FOUND");
    expect(withoutId(hidden, theirs.id)).toBe(withoutId(absent, none));
    expect(JSON.stringify(hidden)).not.toContain(input);
    expect((await walk(alice, { limit: 100 })).flat().length).toBe(alicesBefore);

    // Someone who may read every run repeats Bob's: the new run is theirs, not Bob's.
    const rerunner = await person("rerunner", "workflows:read:all workflows:run");
    const again = await rerunner.callTool("rerun_task_run", { id: theirs.id });
    expect(again.isError, textOf(again)).toBeFalsy();
    const copy = runOf(again);
    expect(copy).toMatchObject({ task: "echo", input: [input], startedBy: owner("rerunner") });
    expect(copy.id).not.toBe(theirs.id);
    expect(codeOf(await bob.callTool("get_task_run", { id: copy.id }))).toBe("ERR_RUN_NOT_FOUND");
    // One's own run, repeated, is one's own.
    const mine = await start(alice, "echo", ["again"]);
    const own = runOf(await alice.callTool("rerun_task_run", { id: mine.id }));
    expect(own).toMatchObject({ task: "echo", input: ["again"], startedBy: owner("alice") });
  });

  describe("list_task_runs pages", () => {
    // Fresh people, so the pages hold exactly the runs started here.
    let carol: McpTestClient;
    let dave: McpTestClient;
    const carols: string[] = [];
    const daves: string[] = [];
    const daveEchoes: string[] = [];
    beforeAll(async () => {
      carol = await person("carol");
      dave = await person("dave", ALL_SCOPES, "legacy");
      for (let i = 0; i < 7; i++) {
        carols.push((await start(carol, "echo", [`c${i}`])).id);
        const echo = (await start(dave, "echo", [`d${i}`])).id;
        daves.push(echo);
        daveEchoes.push(echo);
        if (i % 2 === 0) daves.push((await start(dave, "add", [i, 1])).id);
      }
    }, 60_000);

    it("are full, hold only one's own runs, newest first, each once", async () => {
      const pages = await walk(carol, { limit: 3 });
      expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
      expect(pages.flat().map((r) => r.id)).toEqual([...carols].reverse());
      for (const run of pages.flat()) {
        expect(run.startedBy).toEqual(owner("carol"));
        expect(run).not.toHaveProperty("input");
        expect(run).not.toHaveProperty("results");
      }
      const daves2 = await walk(dave, { limit: 4 });
      expect(daves2.map((p) => p.length)).toEqual([4, 4, 3]);
      expect(daves2.flat().map((r) => r.id)).toEqual([...daves].reverse());
      // With filters too: Dave's echo runs that succeeded, two a page.
      const echoes = await walk(dave, { task: "echo", status: ["succeeded"], limit: 2 });
      expect(echoes.map((p) => p.length)).toEqual([2, 2, 2, 1]);
      expect(echoes.flat().map((r) => r.id)).toEqual([...daveEchoes].reverse());
    });

    it("through workflows:read:all hold everyone's runs, each once", async () => {
      const pages = await walk(auditor, { limit: 5 });
      const ids = pages.flat().map((r) => r.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(pages.slice(0, -1).every((p) => p.length === 5)).toBe(true);
      expect(ids).toEqual(expect.arrayContaining([...carols, ...daves]));
      const byId = new Map(pages.flat().map((r) => [r.id, r]));
      for (const id of carols) expect(byId.get(id)?.startedBy).toEqual(owner("carol"));
      for (const id of daves) expect(byId.get(id)?.startedBy).toEqual(owner("dave"));
    });

    it("a cursor issued to Carol is refused for Dave", async () => {
      const first = (await carol.callTool("list_task_runs", { limit: 2 }))
        .structuredContent as unknown as RunPage;
      expect(first.next_cursor).toEqual(expect.any(String));
      const result = await dave.callTool("list_task_runs", {
        limit: 2,
        cursor: first.next_cursor,
      });
      expect(result.isError).toBe(true);
      expect(codeOf(result)).toBe("ERR_INVALID_CURSOR");
    });

    it("a cursor issued for one filter is refused for another", async () => {
      const first = (await carol.callTool("list_task_runs", { limit: 2 }))
        .structuredContent as unknown as RunPage;
      const result = await carol.callTool("list_task_runs", {
        task: "add",
        limit: 2,
        cursor: first.next_cursor,
      });
      expect(result.isError).toBe(true);
      expect(codeOf(result)).toBe("ERR_INVALID_CURSOR");
    });
  });

  describe("the Tasks extension", () => {
    const taskCall = (method: string, taskId: string, sub: string) =>
      taskMethod(stack.server.url, method, taskId, tokens[sub] as string);

    it("tasks/get and tasks/cancel of someone else's run answer exactly like a missing one", async () => {
      const theirs = await start(bob, "sleep", [60_000], 0);
      try {
        const none = missingId();
        for (const method of ["tasks/get", "tasks/update", "tasks/cancel"]) {
          const hidden = await taskCall(method, theirs.id, "alice");
          const absent = await taskCall(method, none, "alice");
          expect(hidden.result).toBeUndefined();
          expect(hidden.error).toMatchObject({
            code: -32602,
            data: { code: "ERR_RUN_NOT_FOUND" },
          });
          expect(withoutId(hidden, theirs.id)).toBe(withoutId(absent, none));
        }
        expect(runOf(await bob.callTool("get_task_run", { id: theirs.id })).status).not.toBe(
          "canceled",
        );
        // Its owner and workflows:admin reach it.
        expect((await taskCall("tasks/get", theirs.id, "bob")).result).toMatchObject({
          taskId: theirs.id,
          status: "working",
        });
        expect((await taskCall("tasks/get", theirs.id, "auditor")).result).toMatchObject({
          taskId: theirs.id,
        });
        expect((await taskCall("tasks/cancel", theirs.id, "admin")).result).toMatchObject({
          resultType: "complete",
        });
        expect(runOf(await bob.callTool("get_task_run", { id: theirs.id })).status).toBe(
          "canceled",
        );
      } finally {
        await bob.callTool("cancel_task_run", { id: theirs.id });
      }
    });
  });
});

describeWithoutPostgres("the same subject at another issuer is another person", () => {
  // The server trusts one issuer at a time, so two issuers cannot both be
  // accepted by one process. The engine's database outlives the process, so
  // the server is restarted on the same database trusting a second issuer:
  // "alice" there is not the "alice" who started the runs.
  let stack: Stack;
  let second: Awaited<ReturnType<typeof startTestIssuer>> | undefined;
  let server: RunningServer | undefined;
  const clients: McpTestClient[] = [];
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await server?.stop();
    await second?.close();
    await stack?.close();
  });

  it("sees none of the runs, with the answers a missing run gets; an admin there sees whose they are", async () => {
    stack = await startStack();
    const first = stack.issuer.issuer;
    const aliceAtFirst = await stack.connect(ALL_SCOPES, "modern", { sub: "alice" });
    const done = runOf(
      await aliceAtFirst.callTool("start_task_run", {
        task: "echo",
        input: ["first"],
        wait_seconds: 20,
      }),
    );
    expect(done.startedBy).toMatchObject({ issuer: first, subject: "alice" });
    await aliceAtFirst.close();
    await stack.server.stop();

    second = await startTestIssuer({ audience: RESOURCE });
    expect(second.issuer).not.toBe(first);
    server = await startServer(localEnv(second, stack.dbPath));
    const connect = async (scope: string) => {
      const client = await connectClient(
        (server as RunningServer).url,
        await (second as NonNullable<typeof second>).sign({ sub: "alice", scope }),
      );
      clients.push(client);
      return client;
    };
    const aliceAtSecond = await connect(ALL_SCOPES);
    const none = missingId();
    for (const tool of ["get_task_run", "get_task_run_logs", "cancel_task_run"]) {
      const hidden = await aliceAtSecond.callTool(tool, { id: done.id });
      const absent = await aliceAtSecond.callTool(tool, { id: none });
      expect(codeOf(hidden)).toBe("ERR_RUN_NOT_FOUND");
      expect(withoutId(hidden, done.id)).toBe(withoutId(absent, none));
    }
    const listed = await aliceAtSecond.callTool("list_task_runs", {});
    expect((listed.structuredContent as unknown as RunPage).runs).toEqual([]);
    // Her own runs there are hers.
    const hers = runOf(
      await aliceAtSecond.callTool("start_task_run", {
        task: "echo",
        input: ["second"],
        wait_seconds: 20,
      }),
    );
    expect(hers.startedBy).toMatchObject({ issuer: second.issuer, subject: "alice" });

    const admin = await connect("workflows:admin");
    expect(runOf(await admin.callTool("get_task_run", { id: done.id })).startedBy).toEqual(
      done.startedBy,
    );
    const all = (
      (await admin.callTool("list_task_runs", { task: "echo" }))
        .structuredContent as unknown as RunPage
    ).runs.map((r) => [r.id, r.startedBy?.issuer, r.startedBy?.subject]);
    expect(all).toEqual([
      [hers.id, second.issuer, "alice"],
      [done.id, first, "alice"],
    ]);
  });
});

describeWithoutPostgres("whoami reflects what the scopes allow", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.close());

  const whoami = async (scope: string) => {
    const client = await stack.connect(scope, "modern", { sub: "who" });
    try {
      return (await client.callTool("whoami")).structuredContent;
    } finally {
      await client.close();
    }
  };

  it("workflows:read:all reads every run and cancels none", async () => {
    expect(await whoami("workflows:read:all")).toMatchObject({
      allowedTools: ["whoami", "list_tasks", "get_task_run", "list_task_runs", "get_task_run_logs"],
      deniedTools: [
        { name: "start_task_run", missingScopes: ["workflows:run:<task>"] },
        { name: "rerun_task_run", missingScopes: ["workflows:run"] },
        { name: "cancel_task_run", missingScopes: ["workflows:cancel"] },
        { name: "list_audit_events", missingScopes: ["workflows:admin"] },
      ],
      startableTasks: [],
      runs: { read: "all", cancel: "own" },
    });
  });

  it("workflows:read with workflows:cancel:all reads its own runs and cancels any", async () => {
    expect(await whoami("workflows:read workflows:cancel:all")).toMatchObject({
      allowedTools: [
        "whoami",
        "list_tasks",
        "get_task_run",
        "list_task_runs",
        "cancel_task_run",
        "get_task_run_logs",
      ],
      deniedTools: [
        { name: "start_task_run", missingScopes: ["workflows:run:<task>"] },
        { name: "rerun_task_run", missingScopes: ["workflows:run"] },
        { name: "list_audit_events", missingScopes: ["workflows:admin"] },
      ],
      runs: { read: "own", cancel: "all" },
    });
  });

  it("workflows:run alone starts any task and sees nothing", async () => {
    const result = (await whoami("workflows:run")) as { startableTasks: string[] };
    expect(result).toMatchObject({
      allowedTools: ["whoami", "start_task_run"],
      deniedTools: [
        { name: "list_tasks", missingScopes: ["workflows:read"] },
        { name: "rerun_task_run", missingScopes: ["workflows:read"] },
        { name: "get_task_run", missingScopes: ["workflows:read"] },
        { name: "list_task_runs", missingScopes: ["workflows:read"] },
        { name: "cancel_task_run", missingScopes: ["workflows:cancel"] },
        { name: "get_task_run_logs", missingScopes: ["workflows:read"] },
        { name: "list_audit_events", missingScopes: ["workflows:admin"] },
      ],
      runs: { read: "own", cancel: "own" },
    });
    expect([...result.startableTasks].sort()).toEqual(
      [
        "add",
        "big",
        "busy",
        "chain",
        "chatty",
        "echo",
        "fail",
        "fanOut",
        "flaky",
        "hog",
        "logs",
        "sleep",
        "slow",
        "spin",
        "tree",
      ].sort(),
    );
  });

  it("a token with no scope this server knows allows whoami only", async () => {
    expect(await whoami("openid profile")).toMatchObject({
      scopes: ["openid", "profile"],
      allowedTools: ["whoami"],
      startableTasks: [],
      runs: { read: "own", cancel: "own" },
    });
  });
});
