import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as nodeModule from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runServerExpectingExit } from "./helpers/server.js";
import { type McpTestClient, type Stack, startStack } from "./helpers/stack.js";

/*
 * One tasks file for both engines: a module that imports `task` from
 * `@renderinc/sdk/workflows`, as a Render workflow service does, runs
 * unmodified in the embedded engine, from anywhere on disk, with its
 * descriptions and input schemas in workflows-mcp.json beside it.
 */

const EXAMPLE = fileURLToPath(new URL("../examples/workflow/index.js", import.meta.url));

type Run = {
  id: string;
  task: string;
  status: string;
  results?: unknown[];
  retries?: number;
  attempts?: unknown[];
  parentTaskRunId?: string;
};
const runOf = (result: { structuredContent?: Record<string, unknown> }) =>
  (result.structuredContent as { run: Run }).run;

describe("the README's tasks file (examples/workflow/index.js), through MCP", () => {
  let stack: Stack;
  let client: McpTestClient;
  beforeAll(async () => {
    stack = await startStack({ LOCAL_TASKS_MODULE: EXAMPLE });
    client = await stack.connect("workflows:read workflows:run");
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("list_tasks shows its tasks with the descriptions and input schemas of workflows-mcp.json", async () => {
    const { tasks } = (await client.callTool("list_tasks")).structuredContent as {
      tasks: { name: string; description?: string; inputSchema?: Record<string, unknown> }[];
    };
    expect(tasks.map((t) => t.name)).toEqual(["square", "sumOfSquares", "flipCoin"]);
    expect(tasks[0]).toMatchObject({
      description: "Squares a number.",
      inputSchema: {
        type: "array",
        prefixItems: [{ type: "number", description: "The number to square" }],
      },
    });
    expect(tasks[2]?.description).toBe("Flips a coin and fails on tails; retried up to 3 times.");
  });

  it("runs a task that runs one subtask per number with ctx.run", async () => {
    const run = runOf(
      await client.callTool("start_task_run", {
        task: "sumOfSquares",
        input: [[1, 2, 3]],
        wait_seconds: 30,
      }),
    );
    expect(run).toMatchObject({ task: "sumOfSquares", status: "succeeded", results: [14] });
    const { runs } = (await client.callTool("list_task_runs", { task: "square" }))
      .structuredContent as { runs: Run[] };
    expect(runs.filter((r) => r.parentTaskRunId === run.id)).toHaveLength(3);
  });

  it("refuses input its schema refuses, naming the problem", async () => {
    const result = await client.callTool("start_task_run", { task: "square", input: ["seven"] });
    expect(result.isError).toBe(true);
    expect(result.content[0]?.text).toBe(
      "square refused its input: input[0]: Invalid input: expected number, received string",
    );
  });
});

describe("a tasks project elsewhere on disk, built into dist/", () => {
  let dir: string;
  let stack: Stack;
  beforeAll(async () => {
    // A Render workflow project: package.json at its root, the built module in dist/,
    // workflows-mcp.json at the root (found from dist/ upwards).
    dir = mkdtempSync(join(tmpdir(), "workflow-project-"));
    mkdirSync(join(dir, "dist"));
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ type: "module", dependencies: { "@renderinc/sdk": "^1.7.0" } }),
    );
    writeFileSync(
      join(dir, "dist", "index.js"),
      `import { existsSync, writeFileSync } from "node:fs";
import { task } from "@renderinc/sdk/workflows";

const marker = new URL("./failed-once", import.meta.url);

// Fails its first attempt (the marker file says it did), then succeeds.
export const flaky = task(
  { name: "flaky", retry: { maxRetries: 2, waitDurationMs: 50 } },
  function flaky(_ctx, value) {
    if (!existsSync(marker)) {
      writeFileSync(marker, "1");
      throw new Error("first attempt fails");
    }
    return value;
  },
);

const double = task({ name: "double" }, (_ctx, n) => 2 * n);

task({ name: "quadruple" }, async (ctx, n) => ctx.run(double, await ctx.run(double, n)));
`,
    );
    writeFileSync(
      join(dir, "workflows-mcp.json"),
      JSON.stringify({ tasks: { double: { description: "Doubles a number." } } }),
    );
    stack = await startStack({ LOCAL_TASKS_MODULE: join(dir, "dist", "index.js") });
  });
  afterAll(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("retries a failed attempt, runs nested subtasks, and reads the description from the project root", async () => {
    const client = await stack.connect("workflows:read workflows:run");
    const flaky = runOf(
      await client.callTool("start_task_run", { task: "flaky", input: ["ok"], wait_seconds: 30 }),
    );
    expect(flaky).toMatchObject({ status: "succeeded", results: ["ok"], retries: 1 });
    expect(flaky.attempts).toHaveLength(2);
    const quadruple = runOf(
      await client.callTool("start_task_run", { task: "quadruple", input: [5], wait_seconds: 30 }),
    );
    expect(quadruple).toMatchObject({ status: "succeeded", results: [20] });
    const { tasks } = (await client.callTool("list_tasks")).structuredContent as {
      tasks: { name: string; description?: string }[];
    };
    expect(tasks.find((t) => t.name === "double")?.description).toBe("Doubles a number.");
  });
});

describe("a tasks module that cannot load says what to do, in one line", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "workflow-errors-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The server's refusal to start, with the module and workflows-mcp.json written first. */
  async function refusal(files: Record<string, string>, module = "index.js") {
    const at = mkdtempSync(join(dir, "case-"));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(at, name), text);
    const { code, stderr } = await runServerExpectingExit({
      LOCAL_TASKS_MODULE: join(at, module),
      LOCAL_DB_PATH: join(at, "runs.sqlite"),
    });
    return { code, stderr, at };
  }

  // Node 22.15+ resolves the specifier in each thread for every module (module.registerHooks);
  // Node 20 only for a tasks module that names it itself (module.register costs a thread).
  const inThreadHooks = "registerHooks" in nodeModule;
  const transitive = {
    "index.js": 'export * from "./tasks.js";\n',
    "tasks.js":
      'import { task } from "@renderinc/sdk/workflows";\nexport const one = task({ name: "one" }, () => 1);\n',
  };

  it.runIf(inThreadHooks)(
    "a module importing the SDK through another file runs (Node 22)",
    async () => {
      const at = mkdtempSync(join(dir, "case-"));
      for (const [name, text] of Object.entries(transitive)) writeFileSync(join(at, name), text);
      const stack = await startStack({ LOCAL_TASKS_MODULE: join(at, "index.js") });
      try {
        const client = await stack.connect("workflows:read workflows:run");
        const run = runOf(
          await client.callTool("start_task_run", { task: "one", input: [], wait_seconds: 30 }),
        );
        expect(run).toMatchObject({ status: "succeeded", results: [1] });
      } finally {
        await stack.close();
      }
    },
  );

  it.runIf(!inThreadHooks)(
    "on Node 20, importing the SDK only through another file says what to do",
    async () => {
      const { code, stderr, at } = await refusal(transitive);
      expect(code).toBe(1);
      expect(stderr).toContain(
        `(on Node.js 20 the embedded engine provides @renderinc/sdk/workflows only to a tasks module that imports it itself: import it in ${join(at, "index.js")} too, or use Node.js 22)\n`,
      );
    },
  );

  it("a syntax error names the file, line and column", async () => {
    const { code, stderr, at } = await refusal({
      "index.js": 'import { task } from "@renderinc/sdk/workflows";\n\nconst broken = ;\n',
    });
    expect(code).toBe(1);
    const file = join(at, "index.js");
    expect(stderr).toContain(
      `workflows-mcp cannot start:\n  LOCAL_TASKS_MODULE: cannot load ${file}: SyntaxError at ${file}:3:16: Unexpected token ';'\n`,
    );
  });

  it("an export the engine's SDK does not have is named, with what it has", async () => {
    const { stderr, at } = await refusal({
      "index.js":
        'import { task, schedule } from "@renderinc/sdk/workflows";\nexport { task, schedule };\n',
    });
    expect(stderr).toContain(
      `  LOCAL_TASKS_MODULE: cannot load ${join(at, "index.js")}: SyntaxError: The requested module '@renderinc/sdk/workflows' does not provide an export named 'schedule' (the embedded engine offers @renderinc/sdk/workflows's task API: task and its types)\n`,
    );
  });

  it("a module under dist/ that does not exist suggests npm run build", async () => {
    const { code, stderr } = await runServerExpectingExit({
      LOCAL_TASKS_MODULE: "dist/src/my-tasks.js",
      LOCAL_DB_PATH: join(dir, "missing.sqlite"),
    });
    expect(code).toBe(1);
    expect(stderr).toBe(
      "workflows-mcp cannot start:\n  LOCAL_TASKS_MODULE: dist/src/my-tasks.js does not exist: it is build output, so run `npm run build` first (and check that the build writes it there)\n",
    );
  });

  it("a module elsewhere that does not exist is named with its full path", async () => {
    const missing = join(dir, "nowhere", "index.js");
    const { stderr } = await runServerExpectingExit({
      LOCAL_TASKS_MODULE: "../nowhere.js",
      LOCAL_DB_PATH: join(dir, "missing.sqlite"),
    });
    expect(stderr).toBe(
      `workflows-mcp cannot start:\n  LOCAL_TASKS_MODULE: ../nowhere.js does not exist (${resolve("../nowhere.js")})\n`,
    );
    expect(missing).toContain("nowhere");
  });

  it.each([
    ["not JSON", "{ tasks: ", /: not readable JSON \(.+\)$/],
    [
      "a task the module does not define",
      JSON.stringify({ tasks: { cube: { description: "Cubes." } } }),
      /: describes task cube, which .+index\.js does not define \(it defines square\)$/,
    ],
    [
      "an unknown field",
      JSON.stringify({ tasks: { square: { descripton: "typo" } } }),
      /: tasks\.square: Unrecognized key: "descripton"$/,
    ],
  ])("workflows-mcp.json with %s is refused, naming the file", async (_what, json, pattern) => {
    const { code, stderr, at } = await refusal({
      "index.js":
        'import { task } from "@renderinc/sdk/workflows";\ntask({ name: "square" }, (_ctx, n) => n * n);\n',
      "workflows-mcp.json": json,
    });
    expect(code).toBe(1);
    const line = stderr.split("\n").find((l) => l.includes("LOCAL_TASKS_MODULE")) as string;
    expect(
      line.startsWith(
        `  LOCAL_TASKS_MODULE: cannot load ${join(at, "index.js")}: ${join(at, "workflows-mcp.json")}: `,
      ),
    ).toBe(true);
    expect(line).toMatch(pattern);
  });
});
