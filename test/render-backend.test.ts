import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskRun } from "../src/workflows/run.js";
import type { FakeRun } from "./render/fake-render-api.js";
import { API_KEY, type RenderStack, startRenderStack, textOf } from "./render/stack.js";

/**
 * The whole server (spawned) on the render backend. The main client holds
 * the `:all` scopes, since most runs here are seeded straight into the fake
 * (started outside the server); the last tests use people without them.
 */

let stack: RenderStack;
beforeAll(async () => {
  stack = await startRenderStack({
    prepare(fake) {
      fake.addTask("square");
      fake.addTask("report");
      fake.addTask("child");
      // Render's lifecycle: start, an attempt fails, a retry succeeds.
      fake.script(
        "square",
        [
          { do: "start" },
          { do: "log", message: "squaring", level: "info" },
          { do: "failAttempt", error: "worker lost" },
          { do: "retry" },
          { do: "log", message: "done", level: "warn" },
          { do: "succeed", result: 9 },
        ],
        100,
      );
    },
  });
});
afterAll(() => stack?.close());

const runOf = (structured: unknown) => (structured as { run: TaskRun }).run;

describe("the render backend behind the MCP tools", () => {
  it("lists the workflow's tasks, naming the input convention", async () => {
    const result = await stack.call("list_tasks");
    expect(result.isError).toBeFalsy();
    const { tasks } = result.structuredContent as {
      tasks: { name: string; description: string }[];
    };
    expect(tasks.map((t) => t.name)).toEqual(["child", "report", "square"]);
    expect(tasks[2]?.description).toBe(
      "Runs as my-workflow/square on Render. Input: an array of positional arguments (TypeScript tasks) or an object of named parameters (Python tasks).",
    );
    const listed = stack.fake.requests.find((r) => r.path === "/tasks");
    expect(listed?.query.getAll("workflowId")).toEqual([stack.fake.workflow.id]);
  });

  it("says in list_task_runs what Render's listing reads per call", async () => {
    const { tools } = await stack.client.listTools();
    expect(tools.find((t) => t.name === "list_task_runs")?.description).toBe(
      "Lists task runs, newest first, optionally only those of one task or in given statuses. Items are summaries without input and results (get_task_run shows a whole run). Without workflows:read:all, only the runs you started are listed. Pass next_cursor back as cursor; it works only with the same filters, for the same caller. On Render, without workflows:read:all, the runs you started through this server are listed, not their subtask runs (get_task_run shows one by id), by task name across every version; status filtering happens on this server: per call it reads at most 10 of Render's pages of 100 runs (with workflows:read:all) or examines at most 500 of your runs (without), so a page can hold fewer than `limit` runs while next_cursor is still set.\n\nRequired scopes: workflows:read (or a scope implying them).",
    );
  });

  it("starts a run and waits, reporting each change (SSE) as progress, through a failed attempt", async () => {
    // Shorter than the 10 s safety check: only the event stream can bring the outcome in time.
    const { result, progress } = await stack.callWithProgress("start_task_run", {
      task: "my-workflow/square",
      input: [3],
      wait_seconds: 5,
    });
    expect(result.isError).toBeFalsy();
    const run = runOf(result.structuredContent);
    expect(run).toMatchObject({
      task: "my-workflow/square",
      status: "succeeded",
      input: [3],
      results: [9],
      retries: 1,
      rootTaskRunId: run.id,
    });
    expect(run.parentTaskRunId).toBeUndefined();
    expect(run.attempts.map((a) => [a.attempt, a.status, a.error])).toEqual([
      [1, "failed", "worker lost"],
      [2, "succeeded", undefined],
    ]);
    const messages = progress.map((p) => p.message);
    expect(messages).toContain(`${run.id}: running (attempt 2)`);
    expect(messages.at(-1)).toBe(`${run.id}: succeeded (attempt 2)`);
    expect(stack.fake.requests.some((r) => r.path === "/task-runs/events")).toBe(true);
    const post = stack.fake.requests.find((r) => r.method === "POST");
    expect(post?.body).toMatchObject({ task: "my-workflow/square", input: [3] });
  });

  it("falls back to polling when the event stream drops", async () => {
    stack.fake.dropEventStreams(true);
    try {
      const before = stack.fake.requests.length;
      const { result, progress } = await stack.callWithProgress("start_task_run", {
        task: "square",
        input: [4],
        wait_seconds: 5,
      });
      expect(runOf(result.structuredContent)).toMatchObject({ status: "succeeded", results: [9] });
      expect(progress.at(-1)?.message).toMatch(/: succeeded \(attempt 2\)$/);
      const later = stack.fake.requests.slice(before);
      expect(later.filter((r) => r.path === "/task-runs/events").length).toBe(1);
      expect(later.filter((r) => r.path.startsWith("/task-runs/trn-")).length).toBeGreaterThan(2);
    } finally {
      stack.fake.dropEventStreams(false);
    }
  });

  it("gets a run by id, and says so when there is none", async () => {
    const seeded = stack.fake.addRun("report", { status: "failed", input: [1] });
    const result = await stack.call("get_task_run", { id: seeded.id });
    expect(runOf(result.structuredContent)).toMatchObject({
      id: seeded.id,
      task: "my-workflow/report",
      status: "failed",
      error: "boom",
      input: [1],
    });
    const missing = await stack.call("get_task_run", { id: "trn-doesnotexist" });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toBe("No task run trn-doesnotexist in workflow my-workflow");
  });

  it("refuses tasks outside the served workflow, and unknown ones", async () => {
    const other = await stack.call("start_task_run", { task: "other-flow/square", input: [] });
    expect(other.isError).toBe(true);
    expect(textOf(other)).toBe(
      "Task other-flow/square belongs to workflow other-flow; this server serves workflow my-workflow only",
    );
    const unknown = await stack.call("start_task_run", { task: "cube", input: [] });
    expect(textOf(unknown)).toBe(
      "Workflow my-workflow has no task cube; its tasks: child, report, square",
    );
  });

  it("refuses an input over Render's 4 MB limit without sending it", async () => {
    const posts = stack.fake.requests.filter((r) => r.method === "POST").length;
    const result = await stack.call("start_task_run", {
      task: "square",
      input: ["x".repeat(4.5 * 1024 * 1024)],
    });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe(
      "The input is 4.5 MB as JSON; Render accepts at most 4 MB of task arguments",
    );
    expect(stack.fake.requests.filter((r) => r.method === "POST").length).toBe(posts);
  });

  it("walks every page of list_task_runs with the cursor", async () => {
    const seeded: FakeRun[] = [];
    for (let i = 0; i < 7; i++) seeded.push(stack.fake.addRun("child", { status: "completed" }));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const result = await stack.call("list_task_runs", {
        task: "child",
        limit: 3,
        ...(cursor ? { cursor } : {}),
      });
      const page = result.structuredContent as { runs: TaskRun[]; next_cursor?: string };
      seen.push(...page.runs.map((r) => r.id));
      expect(
        page.runs.every((r) => r.task === "my-workflow/child" && r.status === "succeeded"),
      ).toBe(true);
      // Summaries: a page stays small whatever the runs carried.
      expect(page.runs.some((r) => "input" in r || "results" in r)).toBe(false);
      cursor = page.next_cursor;
      pages++;
    } while (cursor && pages < 10);
    // Newest first, each once.
    expect(seen).toEqual(seeded.map((r) => r.id).reverse());
    const upstream = stack.fake.requests.filter(
      (r) =>
        r.path === "/task-runs" &&
        r.method === "GET" &&
        r.query.get("taskSlug") === "my-workflow/child",
    );
    expect(upstream.map((r) => r.query.get("limit"))).toEqual(["3", "3", "3"]);
  });

  it("filters by status on its side, across Render's pages", async () => {
    const failed: string[] = [];
    for (let i = 0; i < 230; i++) {
      const run = stack.fake.addRun("report", { status: i % 50 === 7 ? "failed" : "completed" });
      if (run.status === "failed") failed.push(run.id);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let n = 0; n < 10; n++) {
      const result = await stack.call("list_task_runs", {
        status: ["failed"],
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      const page = result.structuredContent as { runs: TaskRun[]; next_cursor?: string };
      expect(page.runs.every((r) => r.status === "failed")).toBe(true);
      seen.push(...page.runs.map((r) => r.id));
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    // The seeded failures (newest first) come before the older failed run from an earlier test.
    expect(seen.slice(0, failed.length)).toEqual([...failed].reverse());
    const upstream = stack.fake.requests.filter(
      (r) => r.path === "/task-runs" && r.method === "GET",
    );
    expect(upstream.every((r) => !r.query.has("status"))).toBe(true);
    expect(upstream.at(-1)?.query.get("limit")).toBe("100");
  });

  it("refuses a cursor it did not issue for that query", async () => {
    const first = await stack.call("list_task_runs", { task: "child", limit: 1 });
    const { next_cursor } = first.structuredContent as { next_cursor: string };
    const mismatched = await stack.call("list_task_runs", {
      task: "report",
      limit: 1,
      cursor: next_cursor,
    });
    expect(textOf(mismatched)).toBe(
      "That cursor was issued for a different task or status filter, or to another caller; repeat the same filters, or omit cursor to start over",
    );
    const forged = await stack.call("list_task_runs", { limit: 1, cursor: "bm90IG91cnM" });
    expect(textOf(forged)).toMatch(/^That cursor was not issued by this server/);
  });

  it("cancels a root run and its tree; a subtask's cancel names the root", async () => {
    const root = stack.fake.addRun("report", { status: "running" });
    const sub = stack.fake.addRun("child", { status: "running", parent: root });
    const refused = await stack.call("cancel_task_run", { id: sub.id });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toBe(
      `Run ${sub.id} is a subtask run; Render cancels a whole run tree from its root. Cancel its root run ${root.id} instead (that cancels ${sub.id} too).`,
    );
    const subtask = await stack.call("get_task_run", { id: sub.id });
    expect(runOf(subtask.structuredContent)).toMatchObject({
      parentTaskRunId: root.id,
      rootTaskRunId: root.id,
    });

    const cancelled = await stack.call("cancel_task_run", { id: root.id });
    expect(cancelled.structuredContent).toMatchObject({
      run: { id: root.id, status: "canceled" },
      already_finished: false,
    });
    expect(stack.fake.run(sub.id).status).toBe("canceled");
    const again = await stack.call("cancel_task_run", { id: root.id });
    expect(again.structuredContent).toMatchObject({ already_finished: true });
    expect(stack.fake.requests.filter((r) => r.method === "DELETE").map((r) => r.path)).toEqual([
      `/task-runs/${root.id}`,
    ]);
  });

  it("returns a run's logs oldest first with levels, paged by cursor", async () => {
    const run = stack.fake.addRun("report", { status: "running" });
    for (const [message, level] of [
      ["one", "info"],
      ["two", "warn"],
      ["three", "error"],
    ] as const) {
      stack.fake.apply(run.id, { do: "log", message, level });
    }
    const first = await stack.call("get_task_run_logs", { id: run.id, limit: 2 });
    const page1 = first.structuredContent as {
      lines: { level?: string; message: string }[];
      next_cursor?: string;
    };
    expect(page1.lines.map((l) => [l.level, l.message])).toEqual([
      ["info", "one"],
      ["warn", "two"],
    ]);
    expect(page1.next_cursor).toBeDefined();
    const second = await stack.call("get_task_run_logs", {
      id: run.id,
      limit: 2,
      cursor: page1.next_cursor,
    });
    const page2 = second.structuredContent as {
      lines: { message: string }[];
      next_cursor?: string;
    };
    expect(page2.lines.map((l) => l.message)).toEqual(["three"]);
    expect(page2.next_cursor).toBeUndefined();
    const query = stack.fake.requests.findLast((r) => r.path === "/logs")?.query;
    expect(query?.get("ownerId")).toMatch(/^tea-/);
    expect(query?.getAll("resource")).toEqual([stack.fake.workflow.id]);
    expect(query?.getAll("taskRun")).toEqual([run.id]);
  });

  it("retries a 429 after Retry-After and succeeds", async () => {
    const before = stack.fake.requests.length;
    stack.fake.failNext(1, { status: 429, retryAfter: 1, path: "/tasks" });
    const result = await stack.call("list_tasks");
    expect(result.isError).toBeFalsy();
    const calls = stack.fake.requests.slice(before).filter((r) => r.path === "/tasks");
    expect(calls.length).toBe(2);
  });

  it("ends a persistent 5xx in a clear tool error", async () => {
    const run = stack.fake.addRun("report", { status: "completed" });
    stack.fake.failAll({ status: 503 });
    try {
      const result = await stack.call("get_task_run", { id: run.id });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe(
        `Render's API failed (GET /task-runs/${run.id}: HTTP 503, fake 503) after 4 attempt(s); try again later`,
      );
    } finally {
      stack.fake.failAll(undefined);
    }
  });

  it("shows people without :all only the runs they started, recorded by the server", async () => {
    const alice = await stack.connect("workflows:read workflows:run workflows:cancel", {
      sub: "alice",
    });
    const bob = await stack.connect("workflows:read workflows:cancel", { sub: "bob" });
    const started = await alice.callTool("start_task_run", { task: "report", input: [1] });
    const run = runOf(started.structuredContent);
    expect(run.startedBy).toMatchObject({ subject: "alice", clientId: "test-client" });

    const mine = await alice.callTool("list_task_runs", {});
    expect((mine.structuredContent as { runs: TaskRun[] }).runs.map((r) => r.id)).toEqual([run.id]);
    const theirs = await bob.callTool("list_task_runs", {});
    expect((theirs.structuredContent as { runs: TaskRun[] }).runs).toEqual([]);

    const hidden = `No task run ${run.id} in workflow my-workflow that you started (runs started by others, or outside this server, need workflows:read:all)`;
    const got = await bob.callTool("get_task_run", { id: run.id });
    expect(got.isError).toBe(true);
    expect(textOf(got)).toBe(hidden);
    const none = await bob.callTool("get_task_run", { id: "trn-doesnotexist" });
    expect(textOf(none)).toBe(hidden.replace(run.id, "trn-doesnotexist"));
    const cancel = await bob.callTool("cancel_task_run", { id: run.id });
    expect(textOf(cancel)).toBe(hidden.replace("workflows:read:all", "workflows:cancel:all"));
    expect(stack.fake.run(run.id).status).toBe("pending");

    // With :all, who started it shows; a run started elsewhere has no one.
    const all = await stack.call("get_task_run", { id: run.id });
    expect(runOf(all.structuredContent).startedBy).toMatchObject({ subject: "alice" });
  });

  it("never forwards the client's token, nor logs the server's key", async () => {
    await stack.call("whoami");
    expect(stack.fake.requests.length).toBeGreaterThan(10);
    for (const request of stack.fake.requests) {
      expect(request.headers.authorization).toBe(`Bearer ${API_KEY}`);
      expect(JSON.stringify(request.headers)).not.toContain(stack.token);
    }
    const output = stack.server.output.join("\n");
    expect(output).toContain("Render workflow my-workflow");
    expect(output).not.toContain(API_KEY);
    expect(output).not.toContain(API_KEY.slice(4));
  });
});
