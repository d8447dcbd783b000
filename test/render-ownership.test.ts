import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunAccess, WorkflowBackend } from "../src/workflows/backend.js";
import { createRenderBackend, type RenderBackendOptions } from "../src/workflows/render/index.js";
import type { StartedBy, TaskRunSummary } from "../src/workflows/run.js";
import { readsAs } from "./helpers/client-reads.js";
import { type FakeRenderApi, startFakeRenderApi } from "./render/fake-render-api.js";
import { MemoryOwnership } from "./render/memory-ownership.js";
import { API_KEY } from "./render/stack.js";

/**
 * Who may see which run on Render, in process: the backend against the
 * loopback fake, with an in-memory ownership store standing in for the
 * shared database (the spawned-server tests use the real one).
 */

const logger = pino({ level: "silent" });
const ISSUER = "https://issuer.test";
const person = (subject: string, issuer = ISSUER): StartedBy => ({
  issuer,
  subject,
  clientId: "test-client",
  at: "2026-01-05T10:00:00.000Z",
});
const alice = person("alice");
const bob = person("bob");
/** Same subject as Alice, another issuer: another person. */
const impostor = person("alice", "https://elsewhere.test");
const own = (who: StartedBy): RunAccess => ({
  kind: "own",
  owner: { issuer: who.issuer, subject: who.subject },
});
const ALL: RunAccess = { kind: "all" };

const notFound = (id: string, scope = "workflows:read:all") =>
  `No task run ${id} in workflow my-workflow that you started (runs started by others, or outside this server, need ${scope})`;

let fake: FakeRenderApi;
let store: MemoryOwnership;
let backend: WorkflowBackend;
beforeEach(async () => {
  fake = await startFakeRenderApi({ apiKey: API_KEY });
  fake.addTask("square");
  fake.addTask("report");
  fake.addTask("child");
  store = new MemoryOwnership();
  backend = await open();
});

/** The backend on the fake and the store in memory. */
function open(options: Partial<RenderBackendOptions> = {}) {
  return createRenderBackend({
    apiUrl: fake.url,
    apiKey: API_KEY,
    workflow: "my-workflow",
    logger,
    ownership: store,
    http: { timeoutMs: 2_000, maxRetries: 1, retryBudgetMs: 2_000 },
    // These tests start many runs; pacing has tests of its own (render-traffic).
    budget: { writes: { burst: 100, perMinute: 6_000 } },
    ...options,
  });
}
afterEach(async () => {
  await backend.close();
  await fake.close();
});

const requestsSince = (before: number) => fake.requests.slice(before);
const runReads = (before: number) =>
  requestsSince(before).filter((r) => r.method === "GET" && r.path.startsWith("/task-runs/trn-"));

/** Every page of a list, following next_cursor. */
async function walk(
  query: Omit<Parameters<WorkflowBackend["listRuns"]>[0], "cursor">,
  maxPages = 20,
): Promise<TaskRunSummary[][]> {
  const pages: TaskRunSummary[][] = [];
  let cursor: string | undefined;
  do {
    const page = await backend.listRuns({ ...query, cursor });
    pages.push(page.runs);
    cursor = page.nextCursor;
  } while (cursor && pages.length < maxPages);
  return pages;
}

describe("starting a run on Render", () => {
  it("records who started it before answering, and shows it", async () => {
    const run = await backend.startRun("square", [2], alice);
    expect(run).toMatchObject({ task: "my-workflow/square", input: [2], startedBy: alice });
    expect(store.records).toEqual([
      { runId: run.id, task: "my-workflow/square", startedBy: alice },
    ]);
    await expect(backend.getRun(run.id, own(alice))).resolves.toMatchObject({
      id: run.id,
      input: [2],
      startedBy: alice,
    });
  });

  it("with the store down, starts nothing: the bound on unfinished runs cannot be checked", async () => {
    store.failing = true;
    const before = fake.requests.length;
    await expect(backend.startRun("square", [2], alice)).rejects.toMatchObject({
      code: "ERR_BACKEND_UNAVAILABLE",
      retryable: true,
      message:
        "This server could not read who started which run (its database failed); try again later",
    });
    expect(requestsSince(before).filter((r) => r.method === "POST")).toEqual([]);
  });

  it("cancels a run it could not record, and says so", async () => {
    // Without the bound on unfinished runs, nothing reads the store before the run is started.
    await backend.close();
    backend = await open({ maxActiveRunsPerCaller: 0 });
    store.failing = true;
    const before = fake.requests.length;
    const error = await backend.startRun("square", [2], alice).then(
      () => undefined,
      (e: unknown) => e,
    );
    const post = requestsSince(before).find((r) => r.method === "POST");
    const runId = fake.requests.find((r) => r.method === "DELETE")?.path.replace("/task-runs/", "");
    expect(post).toBeDefined();
    expect(runId).toMatch(/^trn-/);
    expect(error).toMatchObject({
      code: "ERR_BACKEND_UNAVAILABLE",
      retryable: true,
      message: `Render started run ${runId}, but this server could not record that you started it (its database failed), so the run was cancelled; try again later`,
    });
    expect(fake.run(runId as string).status).toBe("canceled");
    expect(store.calls.recordRun).toBe(2);
    expect(requestsSince(before).filter((r) => r.method === "POST").length).toBe(1);
  });

  it("names tasks without I/O, as per-task scopes need", () => {
    const before = fake.requests.length;
    expect(
      ["square", "my-workflow/square", "my-workflow/square:3", "my-workflow/square:abc.1"].map(
        (ref) => backend.taskNameOf(ref),
      ),
    ).toEqual(["square", "square", "square", "square"]);
    expect(
      ["other-flow/square", "a/b/c", "", "my-workflow/", "square:", "two words"].map((ref) =>
        backend.taskNameOf(ref),
      ),
    ).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
    expect(fake.requests.length).toBe(before);
  });
});

describe("a run someone else started", () => {
  it("answers get, cancel, wait and logs exactly like a run that does not exist", async () => {
    const run = await backend.startRun("square", [3], alice);
    const missing = "trn-0123456789abcdef0123";
    for (const who of [bob, impostor]) {
      const access = own(who);
      for (const id of [run.id, missing]) {
        await expect(readsAs(backend.getRun(id, access))).resolves.toMatchObject({
          code: "ERR_RUN_NOT_FOUND",
          message: notFound(id),
        });
        await expect(
          readsAs(backend.waitForRun(id, { timeoutMs: 1_000, access })),
        ).resolves.toMatchObject({
          code: "ERR_RUN_NOT_FOUND",
          message: notFound(id),
        });
        await expect(readsAs(backend.getRunLogs(id, { limit: 10 }, access))).resolves.toMatchObject(
          {
            code: "ERR_RUN_NOT_FOUND",
            message: notFound(id),
          },
        );
        await expect(readsAs(backend.cancelRun(id, access))).resolves.toMatchObject({
          code: "ERR_RUN_NOT_FOUND",
          message: notFound(id, "workflows:cancel:all"),
        });
      }
    }
    expect(fake.requests.some((r) => r.method === "DELETE")).toBe(false);
    expect(fake.requests.some((r) => r.path === "/task-runs/events")).toBe(false);
    expect(fake.requests.some((r) => r.path === "/logs")).toBe(false);
    expect(fake.run(run.id).status).toBe("pending");
  });

  it("is visible with :all access, with who started it; runs started elsewhere have no one", async () => {
    const ours = await backend.startRun("square", [3], alice);
    const elsewhere = fake.addRun("report", { status: "completed" });
    await expect(backend.getRun(ours.id, ALL)).resolves.toMatchObject({ startedBy: alice });
    const theirs = await backend.getRun(elsewhere.id, ALL);
    expect(theirs.startedBy).toBeUndefined();
    await expect(readsAs(backend.getRun(elsewhere.id, own(alice)))).resolves.toMatchObject({
      message: notFound(elsewhere.id),
    });
    const { runs } = await backend.listRuns({ limit: 10, access: ALL });
    expect(runs.map((r) => [r.id, r.startedBy?.subject])).toEqual([
      [elsewhere.id, undefined],
      [ours.id, "alice"],
    ]);
  });
});

describe("subtask runs", () => {
  it("belong to whoever started their root run", async () => {
    const root = await backend.startRun("report", [], alice);
    const sub = fake.addRun("child", { status: "running", parent: fake.run(root.id) });
    await expect(backend.getRun(sub.id, own(alice))).resolves.toMatchObject({
      id: sub.id,
      parentTaskRunId: root.id,
      rootTaskRunId: root.id,
      startedBy: alice,
    });
    await expect(readsAs(backend.getRun(sub.id, own(bob)))).resolves.toMatchObject({
      message: notFound(sub.id),
    });
    await expect(backend.cancelRun(sub.id, own(alice))).rejects.toMatchObject({
      code: "ERR_NOT_ROOT_RUN",
    });
    await expect(backend.cancelRun(root.id, own(alice))).resolves.toMatchObject({
      run: { id: root.id, status: "canceled", startedBy: alice },
      alreadyFinished: false,
    });
    expect(fake.run(sub.id).status).toBe("canceled");
  });
});

describe("listing one's own runs", () => {
  it("selects them in the query: full pages, every run once, newest first", async () => {
    const mine: string[] = [];
    for (let i = 0; i < 7; i++) {
      mine.push((await backend.startRun("square", [i], alice)).id);
      await backend.startRun("square", [i], bob);
      for (let j = 0; j < 4; j++) fake.addRun("report", { status: "completed" });
    }
    const before = fake.requests.length;
    const pages = await walk({ limit: 3, access: own(alice) });
    expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
    expect(pages.flat().map((r) => r.id)).toEqual([...mine].reverse());
    for (const run of pages.flat()) {
      expect(run).toMatchObject({
        task: "my-workflow/square",
        status: "pending",
        startedBy: alice,
      });
      expect(run).not.toHaveProperty("input");
      expect(run).not.toHaveProperty("results");
    }
    // One list request per page, naming the page's runs; no run read on its own.
    const lists = requestsSince(before).filter((r) => r.path === "/task-runs");
    expect(lists.map((r) => r.query.getAll("rootTaskRunId").length)).toEqual([3, 3, 1]);
    expect(lists.every((r) => r.query.getAll("workflowId")[0] === fake.workflow.id)).toBe(true);
    expect(runReads(before)).toEqual([]);
  });

  it("reads a run on its own only when the list does not bring it", async () => {
    const root = await backend.startRun("report", [], alice);
    // A tree bigger than one list page pushes its root (the oldest) off it.
    for (let i = 0; i < 120; i++) fake.addRun("child", { parent: fake.run(root.id) });
    const before = fake.requests.length;
    const { runs } = await backend.listRuns({ limit: 5, access: own(alice) });
    expect(runs.map((r) => r.id)).toEqual([root.id]);
    expect(runReads(before).map((r) => r.path)).toEqual([`/task-runs/${root.id}`]);
  });

  it("filters by task in the store's query; a version is refused", async () => {
    const square = await backend.startRun("square", [1], alice);
    await backend.startRun("report", [1], alice);
    const { runs } = await backend.listRuns({ task: "square", limit: 10, access: own(alice) });
    expect(runs.map((r) => r.id)).toEqual([square.id]);
    await expect(
      readsAs(backend.listRuns({ task: "my-workflow/square:v2", limit: 10, access: own(alice) })),
    ).resolves.toMatchObject({
      code: "ERR_INVALID_INPUT",
      message:
        "Your own runs are listed by task name, every version together: filter by my-workflow/square without :v2 (Render's version filter needs workflows:read:all)",
    });
  });

  it("filters by status among at most 500 runs per call, finished runs remembered", async () => {
    // Runs the server started earlier, as the store records them.
    const record = (status: "completed" | "failed") => {
      const run = fake.addRun("report", { status });
      store.records.push({ runId: run.id, task: "my-workflow/report", startedBy: alice });
      return run;
    };
    const oldFailure = record("failed");
    for (let i = 0; i < 520; i++) record("completed");
    const newFailure = record("failed");

    const before = fake.requests.length;
    const first = await backend.listRuns({ status: ["failed"], limit: 5, access: own(alice) });
    expect(first.runs.map((r) => r.id)).toEqual([newFailure.id]);
    expect(first.nextCursor).toBeDefined();
    // 500 runs looked at, 25 a request.
    expect(requestsSince(before).filter((r) => r.path === "/task-runs").length).toBe(20);

    const second = await backend.listRuns({
      status: ["failed"],
      limit: 5,
      cursor: first.nextCursor,
      access: own(alice),
    });
    expect(second.runs.map((r) => r.id)).toEqual([oldFailure.id]);
    expect(second.nextCursor).toBeUndefined();

    // Finished runs do not change: looking again asks Render nothing.
    const again = fake.requests.length;
    await backend.listRuns({ status: ["failed"], limit: 5, access: own(alice) });
    expect(fake.requests.length).toBe(again);
  });

  it("keeps a cursor valid while newer runs are started", async () => {
    const first: string[] = [];
    for (let i = 0; i < 4; i++) first.push((await backend.startRun("square", [i], alice)).id);
    const page1 = await backend.listRuns({ limit: 2, access: own(alice) });
    await backend.startRun("square", [9], alice);
    const page2 = await backend.listRuns({
      limit: 2,
      cursor: page1.nextCursor,
      access: own(alice),
    });
    expect([...page1.runs, ...page2.runs].map((r) => r.id)).toEqual([...first].reverse());
    expect(page2.nextCursor).toBeUndefined();
  });
});

describe("list cursors", () => {
  it("are bound to their caller and their query", async () => {
    for (let i = 0; i < 3; i++) await backend.startRun("square", [i], alice);
    for (let i = 0; i < 3; i++) await backend.startRun("square", [i], bob);
    const { nextCursor } = await backend.listRuns({ limit: 1, access: own(alice) });
    const refusal =
      "That cursor was issued for a different task or status filter, or to another caller; repeat the same filters, or omit cursor to start over";
    for (const query of [
      { limit: 1, access: own(bob) },
      { limit: 1, access: own(impostor) },
      { limit: 1, access: ALL },
      { limit: 1, task: "square", access: own(alice) },
      { limit: 1, status: ["pending" as const], access: own(alice) },
    ]) {
      await expect(backend.listRuns({ ...query, cursor: nextCursor })).rejects.toMatchObject({
        code: "ERR_INVALID_CURSOR",
        message: refusal,
      });
    }
    const all = await backend.listRuns({ limit: 1, access: ALL });
    await expect(
      backend.listRuns({ limit: 1, cursor: all.nextCursor, access: own(alice) }),
    ).rejects.toMatchObject({ message: refusal });
  });
});

describe("waiting and logs with one's own access", () => {
  it("waits on one's own run and reads its logs", async () => {
    fake.script(
      "square",
      [{ do: "start" }, { do: "log", message: "squaring" }, { do: "succeed", result: 4 }],
      30,
    );
    const run = await backend.startRun("square", [2], alice);
    const done = await backend.waitForRun(run.id, { timeoutMs: 5_000, access: own(alice) });
    expect(done).toMatchObject({ status: "succeeded", results: [4], startedBy: alice });
    expect(done.attempts.every((a) => !("results" in a) || a.results === undefined)).toBe(true);
    const logs = await backend.getRunLogs(run.id, { limit: 10 }, own(alice));
    expect(logs.lines.map((l) => l.message)).toEqual(["squaring"]);
  });
});
