import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TaskRun } from "../src/workflows/run.js";
import { runOf } from "./helpers/results.js";
import {
  connectClient,
  ERAS,
  type McpTestClient,
  type Stack,
  startStack,
  type ToolResult,
} from "./helpers/stack.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

const text = (result: ToolResult) => result.content[0]?.text ?? "";
const errorOf = (result: ToolResult) => result._meta?.["workflows-mcp/error"];

describe.each(ERAS)("the tools, %s era", (era) => {
  let client: McpTestClient;
  beforeAll(async () => {
    client = await stack.connect(undefined, era);
  });
  const call = (name: string, args: Record<string, unknown> = {}) => client.callTool(name, args);
  const start = async (task: string, input: unknown[], wait_seconds = 20) =>
    runOf(await call("start_task_run", { task, input, wait_seconds }));

  describe("tools/list", () => {
    it("lists every tool with its scopes in _meta and in its description", async () => {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual([
        "whoami",
        "list_tasks",
        "start_task_run",
        "rerun_task_run",
        "get_task_run",
        "list_task_runs",
        "cancel_task_run",
        "get_task_run_logs",
        "list_audit_events",
      ]);
      const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
      expect(byName.start_task_run?._meta).toEqual({ requiredScopes: ["workflows:run:<task>"] });
      expect(byName.start_task_run?.description).toMatch(
        /Required scope: workflows:run:<task> for the task named by `task`, or workflows:run for any task \(or workflows:admin\)\.$/,
      );
      expect(byName.get_task_run?._meta).toEqual({ requiredScopes: ["workflows:read"] });
      expect(byName.list_audit_events?._meta).toEqual({ requiredScopes: ["workflows:admin"] });
      expect(byName.whoami?._meta).toEqual({ requiredScopes: [] });
      expect(byName.whoami?.description).toMatch(/Required scopes: none beyond a valid token\.$/);
      expect(byName.cancel_task_run?.annotations).toMatchObject({
        destructiveHint: true,
        idempotentHint: true,
      });
      expect(byName.get_task_run?.annotations).toMatchObject({ readOnlyHint: true });
    });

    it("describes list_task_runs without another backend's bounds", async () => {
      const { tools } = await client.listTools();
      expect(tools.find((t) => t.name === "list_task_runs")?.description).toBe(
        "Lists task runs, newest first, optionally only those of one task or in given statuses. Items are summaries without input and results (get_task_run shows a whole run). Without workflows:read:all, only the runs you started are listed. Pass next_cursor back as cursor; it works only with the same filters, for the same caller.\n\nRequired scopes: workflows:read (or a scope implying them).",
      );
    });

    it("no output schema leaves a value untyped (`{}`): open values say so", async () => {
      const { tools } = await client.listTools();
      const empty: string[] = [];
      // A schema position holding `{}` accepts anything without saying so.
      const walk = (schema: unknown, path: string) => {
        if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return;
        if (Object.keys(schema).length === 0) empty.push(path);
        for (const [key, value] of Object.entries(schema)) {
          if (key === "properties" || key === "$defs") {
            // maps of names to schemas, not schemas themselves
            for (const [name, sub] of Object.entries(value as object))
              walk(sub, `${path}/${key}/${name}`);
          } else if (["items", "additionalProperties", "not"].includes(key))
            walk(value, `${path}/${key}`);
          else if (["anyOf", "oneOf", "allOf", "prefixItems"].includes(key)) {
            for (const [i, sub] of (value as unknown[]).entries()) walk(sub, `${path}/${key}/${i}`);
          }
        }
      };
      for (const tool of tools) {
        walk(tool.inputSchema, `${tool.name}/input`);
        walk(tool.outputSchema, `${tool.name}/output`);
      }
      expect(empty).toEqual([]);
      const start = tools.find((t) => t.name === "start_task_run");
      expect(JSON.stringify(start?.inputSchema)).toContain("Any JSON value (deliberately open");
    });
  });

  describe("whoami", () => {
    it("reports the caller and what its scopes allow after the hierarchy", async () => {
      const token = await stack.issuer.sign({
        sub: "ada",
        client_id: "cli-1",
        scope: "workflows:read workflows:run:add",
      });
      const reader = await connectClient(stack.server.url, token, era);
      const result = await reader.callTool("whoami");
      await reader.close();
      expect(result.structuredContent).toMatchObject({
        subject: "ada",
        clientId: "cli-1",
        issuer: stack.issuer.issuer,
        scopes: ["workflows:read", "workflows:run:add"],
        allowedTools: [
          "whoami",
          "list_tasks",
          "start_task_run",
          "get_task_run",
          "list_task_runs",
          "get_task_run_logs",
        ],
        deniedTools: [
          { name: "rerun_task_run", missingScopes: ["workflows:run"] },
          { name: "cancel_task_run", missingScopes: ["workflows:cancel"] },
          { name: "list_audit_events", missingScopes: ["workflows:admin"] },
        ],
        startableTasks: ["add"],
        runs: { read: "own", cancel: "own" },
      });
      expect(
        Date.parse((result.structuredContent as { expiresAt: string }).expiresAt),
      ).toBeGreaterThan(Date.now());
    });

    it("admin sees everything", async () => {
      const admin = await connectClient(
        stack.server.url,
        await stack.issuer.sign({ scope: "workflows:admin" }),
        era,
      );
      const result = await admin.callTool("whoami");
      await admin.close();
      expect(result.structuredContent).toMatchObject({
        deniedTools: [],
        runs: { read: "all", cancel: "all" },
      });
      expect((result.structuredContent as { startableTasks: string[] }).startableTasks).toEqual(
        expect.arrayContaining(["echo", "add", "fanOut"]),
      );
    });
  });

  describe("list_tasks", () => {
    it("lists the tasks with descriptions and input shapes", async () => {
      const result = await call("list_tasks");
      const tasks = (
        result.structuredContent as { tasks: { name: string; inputSchema?: unknown }[] }
      ).tasks;
      expect(tasks.map((t) => t.name)).toEqual(
        expect.arrayContaining(["echo", "add", "fail", "flaky", "fanOut"]),
      );
      expect(tasks.find((t) => t.name === "add")?.inputSchema).toMatchObject({ type: "array" });
    });
  });

  describe("runs", () => {
    it("succeeds and returns its result within the wait, recording who started it", async () => {
      const run = await start("add", [2, 3]);
      expect(run).toMatchObject({
        task: "add",
        status: "succeeded",
        results: [5],
        retries: 0,
        input: [2, 3],
        startedBy: { issuer: stack.issuer.issuer, subject: "user-123", clientId: "test-client" },
      });
      expect(Date.parse(run.startedBy?.at ?? "")).not.toBeNaN();
      expect(run.rootTaskRunId).toBe(run.id);
      expect(run.parentTaskRunId).toBeUndefined();
      expect(run.attempts).toHaveLength(1);
      expect(run.attempts[0]).toMatchObject({ attempt: 1, status: "succeeded" });
    });

    it("fails after its retries, with every attempt recorded", async () => {
      const run = await start("fail", ["boom"]);
      expect(run.status).toBe("failed");
      expect(run.error).toContain("boom");
      expect(run.retries).toBe(2);
      expect(run.attempts.map((a) => a.status)).toEqual(["failed", "failed", "failed"]);
    });

    it("retries a flaky task until it succeeds", async () => {
      const run = await start("flaky", [`k1-${era}`, 2]);
      expect(run.status).toBe("succeeded");
      expect(run.retries).toBe(2);
      expect(run.attempts.map((a) => a.status)).toEqual(["failed", "failed", "succeeded"]);
    });

    it("times out and stops the work", async () => {
      const run = await start("slow", [10_000]);
      expect(run.status).toBe("failed");
      expect(run.error).toMatch(/timed out/i);
    });

    it("chains subtask runs with parent and root ids, and the root's owner", async () => {
      const run = await start("fanOut", [3]);
      expect(run.status).toBe("succeeded");
      expect(run.results).toEqual([[0, 1, 2]]);
      const page = await call("list_task_runs", { task: "echo", limit: 100 });
      const children = (page.structuredContent as { runs: TaskRun[] }).runs.filter(
        (r) => r.parentTaskRunId === run.id,
      );
      expect(children).toHaveLength(3);
      for (const child of children) {
        expect(child.rootTaskRunId).toBe(run.id);
        expect(child.startedBy).toEqual(run.startedBy);
      }
    });

    it("re-runs a run: a new run of the same task with the same input, started by the caller", async () => {
      const first = await start("add", [20, 22]);
      const rerun = runOf(await call("rerun_task_run", { id: first.id }));
      expect(rerun.id).not.toBe(first.id);
      expect(rerun).toMatchObject({
        task: "add",
        input: [20, 22],
        startedBy: { subject: "user-123" },
      });
      const done = runOf(await call("get_task_run", { id: rerun.id, wait_seconds: 20 }));
      expect(done.results).toEqual([42]);
    });

    it("cancels a running run, idempotently", async () => {
      const started = runOf(await call("start_task_run", { task: "sleep", input: [60_000] }));
      await stack.connect(); // another request meanwhile: the server is not blocked
      const first = await call("cancel_task_run", { id: started.id });
      expect(first.structuredContent).toMatchObject({
        already_finished: false,
        run: { status: "canceled" },
      });
      const second = await call("cancel_task_run", { id: started.id });
      expect(second.structuredContent).toMatchObject({
        already_finished: true,
        run: { status: "canceled" },
      });
      expect(text(second)).toBe(
        `Run ${started.id} had already finished (canceled); nothing to cancel`,
      );
    });

    it("reports a finished run as already finished when cancelled", async () => {
      const run = await start("echo", ["done"]);
      const result = await call("cancel_task_run", { id: run.id });
      expect(result.structuredContent).toMatchObject({
        already_finished: true,
        run: { status: "succeeded" },
      });
    });

    it("keeps answering while a task burns CPU", async () => {
      const spinning = runOf(await call("start_task_run", { task: "spin", input: [2_000] }));
      const whoami = await call("whoami");
      expect(whoami.isError).toBeFalsy();
      const current = runOf(await call("get_task_run", { id: spinning.id }));
      expect(["pending", "running"]).toContain(current.status);
      const done = runOf(await call("get_task_run", { id: spinning.id, wait_seconds: 20 }));
      expect(done.status).toBe("succeeded");
    });

    it("sends progress notifications while waiting", async () => {
      const updates: { progress: number; message?: string }[] = [];
      const result = await client.callTool(
        "start_task_run",
        { task: "flaky", input: [`k2-${era}`, 1], wait_seconds: 20 },
        { onprogress: (p) => updates.push(p) },
      );
      expect(runOf(result).status).toBe("succeeded");
      expect(updates.length).toBeGreaterThanOrEqual(2);
      expect(updates.map((u) => u.progress)).toEqual([...updates.keys()].map((i) => i + 1));
      expect(updates.at(-1)?.message).toMatch(/succeeded/);
    });
  });

  describe("get_task_run and list_task_runs", () => {
    it("waits for a run that is still going", async () => {
      const started = runOf(await call("start_task_run", { task: "sleep", input: [300] }));
      const done = runOf(await call("get_task_run", { id: started.id, wait_seconds: 20 }));
      expect(done.status).toBe("succeeded");
    });

    it("pages newest first with an opaque cursor, filtered by task and status, as summaries", async () => {
      for (const value of ["a", "b", "c"]) await start("echo", [value]);
      const first = await call("list_task_runs", { task: "echo", status: ["succeeded"], limit: 2 });
      const page1 = first.structuredContent as { runs: TaskRun[]; next_cursor?: string };
      expect(page1.runs).toHaveLength(2);
      expect(page1.next_cursor).toEqual(expect.any(String));
      const second = await call("list_task_runs", {
        task: "echo",
        status: ["succeeded"],
        limit: 2,
        cursor: page1.next_cursor,
      });
      const page2 = second.structuredContent as { runs: TaskRun[] };
      const all = [...page1.runs, ...page2.runs];
      expect(new Set(all.map((r) => r.id)).size).toBe(all.length);
      for (const run of all) {
        expect(run).toMatchObject({ task: "echo", status: "succeeded" });
        // Summaries: a page stays small whatever the runs carried.
        expect(run).not.toHaveProperty("input");
        expect(run).not.toHaveProperty("results");
      }
      const created = all.map((r) => r.createdAt ?? "");
      expect(created).toEqual([...created].sort().reverse());
      expect(text(first)).toMatch(/^2 runs; more with next_cursor\n/);
    });

    it("says 1 run, not 1 runs", async () => {
      const one = await call("list_task_runs", { task: "add", status: ["succeeded"], limit: 1 });
      expect(text(one)).toMatch(/^1 run[;\n]/);
    });

    it("filters by status", async () => {
      const result = await call("list_task_runs", { status: ["failed"], limit: 100 });
      const runs = (result.structuredContent as { runs: TaskRun[] }).runs;
      expect(runs.length).toBeGreaterThan(0);
      for (const run of runs) expect(run.status).toBe("failed");
    });
  });

  describe("get_task_run_logs", () => {
    it("returns what the task logged, oldest first", async () => {
      const run = await start("logs", []);
      const result = await call("get_task_run_logs", { id: run.id });
      const lines = (
        result.structuredContent as {
          lines: { level?: string; message: string; timestamp: string }[];
        }
      ).lines;
      expect(lines.map((l) => l.message)).toEqual(
        expect.arrayContaining([
          expect.stringContaining("info from context"),
          expect.stringContaining("console.error"),
        ]),
      );
      expect(lines.find((l) => l.message.includes("warn from context"))?.level).toBe("warn");
      const times = lines.map((l) => Date.parse(l.timestamp));
      expect(times).toEqual([...times].sort((a, b) => a - b));
    });

    it("accepts whole-second times and offsets, and narrows by them", async () => {
      const run = await start("logs", []);
      const second = Math.floor(Date.parse(run.createdAt as string) / 1000) * 1000;
      const before = new Date(second).toISOString().replace(".000Z", "+00:00");
      const lines = async (args: Record<string, unknown>) =>
        (
          (await call("get_task_run_logs", { id: run.id, ...args })).structuredContent as {
            lines: unknown[];
          }
        ).lines.length;
      expect(await lines({ start_time: before })).toBe(4);
      expect(await lines({ end_time: before })).toBe(0);
      const page = await call("get_task_run_logs", { id: run.id, limit: 3 });
      const first = page.structuredContent as { lines: unknown[]; next_cursor?: string };
      expect(first.lines).toHaveLength(3);
      expect(await lines({ limit: 3, cursor: first.next_cursor })).toBe(1);
    });
  });

  describe("mistakes get tool errors a person — and a client — can act on", () => {
    it("an unknown task names the tasks there are", async () => {
      const result = await call("start_task_run", { task: "nope", input: [] });
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(/nope/);
      expect(text(result)).toMatch(/echo/);
      expect(errorOf(result)).toEqual({ code: "ERR_UNKNOWN_TASK", retryable: false });
    });

    it("an unknown run id", async () => {
      for (const name of ["get_task_run", "cancel_task_run", "get_task_run_logs"]) {
        const result = await call(name, { id: "trn-doesnotexist" });
        expect(result.isError).toBe(true);
        expect(text(result)).toMatch(/trn-doesnotexist/);
        expect(errorOf(result)).toEqual({ code: "ERR_RUN_NOT_FOUND", retryable: false });
      }
    });

    it("input the task refuses", async () => {
      const result = await call("start_task_run", { task: "add", input: ["two", 3] });
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(/input\[0\]/);
      expect(errorOf(result)).toEqual({ code: "ERR_INVALID_INPUT", retryable: false });
    });

    it("arguments of the wrong type", async () => {
      const result = await call("get_task_run", { id: 42 });
      expect(result.isError).toBe(true);
      expect(text(result)).toBe(
        "Invalid arguments for get_task_run: id: Invalid input: expected string, received number",
      );
      expect(errorOf(result)).toEqual({ code: "ERR_INVALID_ARGUMENTS", retryable: false });
    });

    it("a malformed cursor", async () => {
      const result = await call("list_task_runs", { cursor: "garbage!" });
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(/cursor/i);
      expect(errorOf(result)).toEqual({ code: "ERR_INVALID_CURSOR", retryable: false });
    });

    it("bounded inputs: 40,000 statuses are refused by the schema, not by SQLite", async () => {
      const result = await call("list_task_runs", {
        status: Array.from({ length: 40_000 }, () => "failed"),
      });
      expect(result.isError).toBe(true);
      expect(errorOf(result)).toEqual({ code: "ERR_INVALID_ARGUMENTS", retryable: false });
      expect(text(result)).toMatch(/status: Too big: expected array to have <=6 items/);
    });
  });
});
