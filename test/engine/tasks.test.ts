/** Defining and loading tasks: Render's SDK 1.x shape, LOCAL_TASKS_MODULE, the bundled examples. */
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLocalBackend } from "../../src/workflows/local/index.js";
import {
  localContext,
  type TaskContext,
  type TaskDefinition,
  task,
} from "../../src/workflows/local/task.js";
import { square, sumOfSquares } from "../../src/workflows/local/tasks/index.js";
import { loadTasks, tasksModuleUrl } from "../../src/workflows/local/tasks-module.js";
import { ADA, ALL, finished, silent, workspace } from "./helpers.js";

let ws: ReturnType<typeof workspace>;
beforeEach(() => {
  ws = workspace();
});
afterEach(() => ws.cleanup());

/** The built task definitions module, as a tasks module written elsewhere would import it. */
const BUILT_TASK_API = pathToFileURL(resolve("dist/src/workflows/local/task.js")).href;

describe("task()", () => {
  it("returns a frozen definition, as the SDK does, whose func runs in-process", async () => {
    expect(Object.keys(square)).toEqual(["name", "func"]);
    expect(Object.isFrozen(square)).toBe(true);
    // A unit test's own context, as the SDK suggests: ctx.run calls the task directly.
    const ctx: TaskContext = {
      run: <A extends unknown[], R>(definition: TaskDefinition<A, R>, ...args: A) =>
        Promise.resolve(definition.func(ctx, ...args)),
    };
    expect(await sumOfSquares.func(ctx, [1, 2, 3])).toBe(14);
  });

  it("requires a name", () => {
    expect(() => task({ name: "" }, () => 1)).toThrow("task(): options.name is required");
  });

  it("offers the engine's extras only on the engine's own context", () => {
    expect(() => localContext({ run: () => Promise.reject(new Error("no")) })).toThrow(
      "localContext() needs the context the embedded engine passed to the task",
    );
  });
});

describe("LOCAL_TASKS_MODULE", () => {
  it("refuses a TypeScript file, naming the built file to use instead", () => {
    expect(() => tasksModuleUrl("src/my-tasks.ts")).toThrow(
      "LOCAL_TASKS_MODULE: src/my-tasks.ts is TypeScript, which Node does not load here: build it with `npm run build` and set LOCAL_TASKS_MODULE=dist/src/my-tasks.js",
    );
    expect(() => tasksModuleUrl(resolve("lib/more.mts"))).toThrow(
      `LOCAL_TASKS_MODULE: ${resolve("lib/more.mts")} is TypeScript, which Node does not load here: build it with \`npm run build\` and set LOCAL_TASKS_MODULE=dist/lib/more.mjs`,
    );
  });

  it("serves every task a module defines, exported or not, as Render does", async () => {
    const path = join(ws.dir, "tasks.mjs");
    writeFileSync(
      path,
      `import { task } from ${JSON.stringify(BUILT_TASK_API)};
task({ name: "hidden" }, (_ctx, n) => n + 1);
export const shown = task({ name: "shown" }, () => "shown");
`,
    );
    expect([...(await loadTasks(pathToFileURL(path).href)).keys()].sort()).toEqual([
      "hidden",
      "shown",
    ]);
    const engine = await createLocalBackend({
      dbPath: ws.dbPath,
      tasksModule: path,
      logger: silent,
    });
    try {
      const run = await finished(engine, (await engine.startRun("hidden", [41], ADA)).id);
      expect(run).toMatchObject({ status: "succeeded", results: [42] });
    } finally {
      await engine.close();
    }
  });

  it("refuses a module that defines no task, or two tasks of one name", async () => {
    const empty = join(ws.dir, "empty.mjs");
    writeFileSync(empty, "export const nothing = 1;\n");
    await expect(
      createLocalBackend({ dbPath: ws.dbPath, tasksModule: empty, logger: silent }),
    ).rejects.toThrow(
      `LOCAL_TASKS_MODULE: ${empty} defines no tasks (define them with task() from @renderinc/sdk/workflows)`,
    );
    const twice = join(ws.dir, "twice.mjs");
    writeFileSync(
      twice,
      `import { task } from ${JSON.stringify(BUILT_TASK_API)};
task({ name: "same" }, () => 1);
task({ name: "same" }, () => 2);
`,
    );
    await expect(
      createLocalBackend({ dbPath: ws.dbPath, tasksModule: twice, logger: silent }),
    ).rejects.toThrow(`LOCAL_TASKS_MODULE: cannot load ${twice}: two tasks are named "same"`);
  });

  it("refuses limits that could deadlock", async () => {
    await expect(
      createLocalBackend({
        dbPath: ws.dbPath,
        logger: silent,
        limits: { maxThreads: 3, maxSubtaskDepth: 3 },
      }),
    ).rejects.toThrow(
      "embedded engine limits: maxSubtaskDepth: must be below maxThreads: a chain of subtasks holds one thread per level, and roots need one more",
    );
  });
});

describe("the bundled examples", () => {
  it("are listed with their input shapes and retry policies", async () => {
    const engine = await createLocalBackend({ dbPath: ws.dbPath, logger: silent });
    try {
      const tasks = await engine.listTasks();
      expect(tasks.map((t) => t.name)).toEqual([
        "greet",
        "square",
        "sumOfSquares",
        "flipCoin",
        "longRunning",
      ]);
      expect(tasks.find((t) => t.name === "flipCoin")?.retry).toEqual({
        maxRetries: 3,
        waitDurationMs: 500,
        backoffScaling: 2,
      });
      expect(tasks.find((t) => t.name === "greet")?.inputSchema).toMatchObject({ type: "array" });
    } finally {
      await engine.close();
    }
  });

  it("sum the squares of 100 numbers within the default 6 threads", async () => {
    const engine = await createLocalBackend({ dbPath: ws.dbPath, logger: silent });
    try {
      const numbers = Array.from({ length: 100 }, (_, i) => i + 1);
      const run = await finished(
        engine,
        (await engine.startRun("sumOfSquares", [numbers], ADA)).id,
      );
      expect(run).toMatchObject({ status: "succeeded", results: [338_350] });
      const { runs } = await engine.listRuns({ task: "square", limit: 1000, access: ALL });
      expect(runs).toHaveLength(100);
      expect(engine.stats().mostThreads).toBeLessThanOrEqual(6);
    } finally {
      await engine.close();
    }
  });
});
