/**
 * The backend contract (test/backends/contract.ts) against every backend, in
 * process: the embedded engine on a temporary SQLite file with the fixture
 * tasks, and Render through createRenderBackend against the loopback fake of
 * its API, recording owners in the real SQLite store. A new backend is one
 * more entry here.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe } from "vitest";
import { openSqliteStore } from "../src/store/sqlite.js";
import { createRenderBackend } from "../src/workflows/render/index.js";
import { MAX_INPUT_BYTES } from "../src/workflows/run.js";
import { type BackendEntry, backendContract } from "./backends/contract.js";
import { ALL, silent, until, workspace } from "./engine/helpers.js";
import { startFakeRenderApi } from "./render/fake-render-api.js";
import { API_KEY } from "./render/stack.js";

/** What the fixture task `logs` writes: through its context, then the console. */
const LOG_LINES: [string, string][] = [
  ["info", "info from context"],
  ["warn", "warn from context"],
  ["info", "console.log line"],
  ["error", "console.error line"],
];
const ID = /^trn-[0-9a-f]{20}$/;
/** The tasks the behaviours run, named alike on both backends (the fake's are scripted to match). */
const TASKS = {
  quick: { name: "echo", input: ["hi"], results: ["hi"] },
  long: { name: "sleep", input: [600_000] },
  logging: { name: "logs", input: [], lines: LOG_LINES },
};

const local: BackendEntry = {
  async open() {
    const ws = workspace();
    const backend = await ws.open();
    return {
      backend,
      ...TASKS,
      async tree(startedBy) {
        const root = await backend.startRun("chain", [1, 600_000], startedBy);
        let subtask = "";
        await until(async () => {
          const { runs } = await backend.listRuns({ task: "chain", limit: 10, access: ALL });
          subtask = runs.find((run) => run.parentTaskRunId === root.id)?.id ?? "";
          return subtask !== "";
        });
        return { root: root.id, subtask };
      },
      close: () => ws.cleanup(),
    };
  },
  taskOfRun: (name) => name,
  runId: ID,
  subtaskCancel: "cancels",
  messages: {
    unknownTask: (name) =>
      `Unknown task "${name}". Tasks here: echo, add, fail, flaky, sleep, spin, busy, slow, fanOut, logs, chain, tree, big, hog, chatty (see list_tasks)`,
    inputTooLarge: (task) =>
      `The input to ${task} exceeds ${MAX_INPUT_BYTES} bytes as JSON; pass a reference (a URL or id) instead`,
    notFound: (id, access) =>
      access === "all"
        ? `No task run with id "${id}" (list_task_runs shows the runs there are)`
        : `No task run with id "${id}" among the runs you started (list_task_runs shows them; runs started by others need workflows:${access}:all)`,
    cursorOfOtherQuery:
      "That cursor is not one this server issued for this listing; pass next_cursor from the previous page, or omit it to start over",
    forgedCursor:
      "That cursor is not one this server issued for this listing; pass next_cursor from the previous page, or omit it to start over",
  },
};

const render: BackendEntry = {
  async open() {
    const fake = await startFakeRenderApi({ apiKey: API_KEY });
    for (const task of ["echo", "sleep", "logs", "report", "child"]) fake.addTask(task);
    fake.script("echo", [{ do: "start" }, { do: "succeed", result: "hi" }]);
    fake.script("sleep", [{ do: "start" }]);
    fake.script("logs", [
      { do: "start" },
      ...LOG_LINES.map(([level, message]) => ({ do: "log" as const, level, message })),
      { do: "succeed", result: "logged" },
    ]);
    const dir = mkdtempSync(join(tmpdir(), "render-backend-"));
    const store = await openSqliteStore({ path: join(dir, "ownership.sqlite"), logger: silent });
    const backend = await createRenderBackend({
      apiUrl: fake.url,
      apiKey: API_KEY,
      workflow: fake.workflow.slug,
      logger: silent,
      ownership: store,
      // The behaviours start more runs than the default pace of writes allows at once.
      budget: { writes: { burst: 100, perMinute: 6_000 } },
    });
    return {
      backend,
      ...TASKS,
      async tree(startedBy) {
        // Render's subtask runs are started by their root's code: the fake adds one.
        const root = await backend.startRun("report", [], startedBy);
        const subtask = fake.addRun("child", { status: "running", parent: fake.run(root.id) });
        return { root: root.id, subtask: subtask.id };
      },
      async close() {
        await backend.close();
        await store.close();
        rmSync(dir, { recursive: true, force: true });
        await fake.close();
      },
    };
  },
  taskOfRun: (name) => `my-workflow/${name}`,
  runId: ID,
  subtaskCancel: {
    refused: (subtask, root) =>
      `Run ${subtask} is a subtask run; Render cancels a whole run tree from its root. Cancel its root run ${root} instead (that cancels ${subtask} too).`,
  },
  messages: {
    unknownTask: (name) =>
      `Workflow my-workflow has no task ${name}; its tasks: child, echo, logs, report, sleep`,
    inputTooLarge: (_task, bytes) =>
      `The input is ${(bytes / 1024 / 1024).toFixed(1)} MB as JSON; Render accepts at most 4 MB of task arguments`,
    notFound: (id, access) =>
      access === "all"
        ? `No task run ${id} in workflow my-workflow`
        : `No task run ${id} in workflow my-workflow that you started (runs started by others, or outside this server, need workflows:${access}:all)`,
    cursorOfOtherQuery:
      "That cursor was issued for a different task or status filter, or to another caller; repeat the same filters, or omit cursor to start over",
    forgedCursor:
      "That cursor was not issued by this server for this kind of list; pass next_cursor exactly as returned, or omit it to start over",
  },
};

describe.each([
  ["the embedded engine", local],
  ["Render", render],
])("%s", (_name, entry) => backendContract(entry));
