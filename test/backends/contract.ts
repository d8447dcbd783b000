import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunAccess, RunAction, WorkflowBackend } from "../../src/workflows/backend.js";
import {
  MAX_INPUT_BYTES,
  type StartedBy,
  type TaskInput,
  type TaskRun,
  type TaskRunStatus,
  toSummary,
} from "../../src/workflows/run.js";
import { until } from "../engine/helpers.js";
import { readsAs } from "../helpers/client-reads.js";
import { missingId } from "../helpers/results.js";

/**
 * What every WorkflowBackend does, whatever it runs on: one set of
 * behaviours, run against each backend in process (test/backends.test.ts
 * lists them). A new backend is a new entry there. Where backends
 * legitimately differ, the entry declares how, and each side is asserted
 * exactly; messages are compared as clients read them (worded by the MCP
 * layer).
 */

/** A task the behaviours run, as start_task_run names it to this backend. */
export interface TaskCall {
  name: string;
  input: TaskInput;
}

/** One backend, fresh and empty, and how to make its runs do what the behaviours need. */
export interface OpenedBackend {
  backend: WorkflowBackend;
  /** Finishes soon with `results`. */
  quick: TaskCall & { results: unknown[] };
  /** Runs until cancelled. */
  long: TaskCall;
  /** Logs `lines` ([level, message], oldest first), then finishes. */
  logging: TaskCall & { lines: [string, string][] };
  /** Starts a run tree as `startedBy`: its root run and one subtask run, both unfinished. */
  tree(startedBy: StartedBy): Promise<{ root: string; subtask: string }>;
  close(): Promise<void>;
}

/** Messages as clients read them, where each backend words its own. */
export interface BackendMessages {
  unknownTask(name: string): string;
  inputTooLarge(task: string, bytes: number): string;
  /** A run that does not exist, or is outside the caller's access ("all", or its own runs for an action). */
  notFound(id: string, access: "all" | RunAction): string;
  /** A list cursor given with other filters, or by another caller. */
  cursorOfOtherQuery: string;
  /** A list cursor this server never issued. */
  forgedCursor: string;
}

export interface BackendEntry {
  open(): Promise<OpenedBackend>;
  /** How runs name the task `name` (locally `echo`, on Render `my-workflow/echo`). */
  taskOfRun(name: string): string;
  runId: RegExp;
  /** Cancelling a subtask run: cancels it alone, or is refused with a message naming the root. */
  subtaskCancel: "cancels" | { refused(subtask: string, root: string): string };
  messages: BackendMessages;
}

const person = (subject: string): StartedBy => ({
  issuer: "https://issuer.test",
  subject,
  clientId: `client-${subject}`,
  at: "2026-01-05T10:00:00.000Z",
});
const ADA = person("ada");
const BOB = person("bob");
const own = ({ issuer, subject }: StartedBy): RunAccess => ({
  kind: "own",
  owner: { issuer, subject },
});
const ALL: RunAccess = { kind: "all" };
const UNFINISHED: readonly TaskRunStatus[] = ["pending", "running"];

export function backendContract(entry: BackendEntry): void {
  let opened: OpenedBackend;
  let backend: WorkflowBackend;
  beforeEach(async () => {
    opened = await entry.open();
    backend = opened.backend;
  });
  afterEach(() => opened.close());

  const start = (call: TaskCall, who = ADA) => backend.startRun(call.name, call.input, who);
  const finish = async (call: TaskCall, who = ADA) =>
    backend.waitForRun((await start(call, who)).id, { timeoutMs: 20_000, access: own(who) });
  /** The long run once it is running. */
  const running = async (who = ADA) => {
    const run = await start(opened.long, who);
    await until(async () => (await backend.getRun(run.id, ALL)).status === "running");
    return backend.getRun(run.id, ALL);
  };
  const ids = (runs: readonly { id: string }[]) => runs.map((run) => run.id);
  /** Every page of a listing, following nextCursor. */
  const pages = async (query: Parameters<WorkflowBackend["listRuns"]>[0]) => {
    const found: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await backend.listRuns({ ...query, cursor });
      found.push(ids(page.runs));
      cursor = page.nextCursor;
    } while (cursor && found.length < 10);
    return found;
  };

  describe("starting and reading a run", () => {
    it("starts a run recorded as its starter's, a root run of the task", async () => {
      const run = await start(opened.quick);
      expect(run.id).toMatch(entry.runId);
      expect(UNFINISHED).toContain(run.status);
      expect(run).toMatchObject({
        task: entry.taskOfRun(opened.quick.name),
        input: opened.quick.input,
        rootTaskRunId: run.id,
        startedBy: ADA,
      });
      // Absent from the answer (Render's runs carry the key, undefined, which JSON drops).
      expect(run.parentTaskRunId).toBeUndefined();
    });

    it("gets the whole run, the same for its starter and for access to every run", async () => {
      const done = await finish(opened.quick);
      expect(done).toMatchObject({
        status: "succeeded",
        input: opened.quick.input,
        results: opened.quick.results,
        startedBy: ADA,
      });
      expect(await backend.getRun(done.id, own(ADA))).toEqual(done);
      expect(await backend.getRun(done.id, ALL)).toEqual(done);
    });
  });

  describe("waiting", () => {
    it("answers when the run finishes, with its results", async () => {
      const run = await start(opened.quick);
      const done = await backend.waitForRun(run.id, { timeoutMs: 20_000, access: own(ADA) });
      expect(done).toMatchObject({
        id: run.id,
        status: "succeeded",
        results: opened.quick.results,
      });
    });

    it("answers the run as it is when time runs out", async () => {
      const run = await running();
      const started = Date.now();
      const latest = await backend.waitForRun(run.id, { timeoutMs: 300, access: own(ADA) });
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(latest).toMatchObject({ id: run.id, status: "running" });
    });

    it("tells each change while it waits: a run cancelled meanwhile ends the wait", async () => {
      const run = await running();
      const seen: TaskRunStatus[] = [];
      const wait = backend.waitForRun(run.id, {
        timeoutMs: 20_000,
        access: own(ADA),
        onChange: (changed) => seen.push(changed.status),
      });
      // Cancelled while the wait follows the run, not before it starts to.
      await sleep(100);
      await backend.cancelRun(run.id, own(ADA));
      expect(await wait).toMatchObject({ id: run.id, status: "canceled" });
      expect(seen.at(-1)).toBe("canceled");
    });
  });

  describe("listing", () => {
    it("lists newest first: each caller its own runs, every run with access to all, as summaries", async () => {
      const started: TaskRun[] = [];
      for (const who of [ADA, BOB, ADA, BOB, ADA]) started.push(await start(opened.quick, who));
      const [a1, b1, a2, b2, a3] = ids(started);
      expect(await pages({ limit: 2, access: own(ADA) })).toEqual([[a3, a2], [a1]]);
      expect(await pages({ limit: 10, access: own(BOB) })).toEqual([[b2, b1]]);
      const all = await backend.listRuns({ limit: 10, access: ALL });
      expect(ids(all.runs)).toEqual([a3, b2, a2, b1, a1]);
      expect(all.nextCursor).toBeUndefined();
      for (const summary of all.runs) {
        expect(summary).not.toHaveProperty("input");
        expect(summary).not.toHaveProperty("results");
        expect(summary.startedBy).toEqual([a1, a2, a3].includes(summary.id) ? ADA : BOB);
      }
    });

    it("filters by task and by status", async () => {
      const done = await finish(opened.quick);
      const long = await running();
      const list = async (filters: { task?: string; status?: TaskRunStatus[] }) =>
        ids((await backend.listRuns({ ...filters, limit: 10, access: own(ADA) })).runs);
      expect(await list({ task: opened.quick.name })).toEqual([done.id]);
      expect(await list({ status: ["running"] })).toEqual([long.id]);
      expect(await list({ status: ["succeeded", "failed"] })).toEqual([done.id]);
      expect(await list({ task: opened.long.name, status: ["succeeded"] })).toEqual([]);
      const [summary] = (await backend.listRuns({ limit: 1, access: own(ADA) })).runs;
      expect(summary).toEqual(toSummary(await backend.getRun(long.id, ALL)));
    });

    it("honours a cursor only for the caller and the filters it was issued to", async () => {
      const runs: string[] = [];
      for (let i = 0; i < 3; i++) runs.push((await start(opened.quick)).id);
      const first = await backend.listRuns({ limit: 1, access: own(ADA) });
      expect(ids(first.runs)).toEqual([runs[2]]);
      const second = await backend.listRuns({
        limit: 1,
        cursor: first.nextCursor,
        access: own(ADA),
      });
      expect(ids(second.runs)).toEqual([runs[1]]);
      const otherQuery = {
        name: "InvalidCursor",
        code: "ERR_INVALID_CURSOR",
        retryable: false,
        message: entry.messages.cursorOfOtherQuery,
      };
      for (const query of [
        { access: own(BOB) },
        { access: ALL },
        { task: opened.quick.name, access: own(ADA) },
        { status: ["succeeded" as const], access: own(ADA) },
      ]) {
        expect(
          await readsAs(backend.listRuns({ ...query, limit: 1, cursor: first.nextCursor })),
        ).toEqual(otherQuery);
      }
      const everyone = await backend.listRuns({ limit: 1, access: ALL });
      expect(
        await readsAs(
          backend.listRuns({ limit: 1, cursor: everyone.nextCursor, access: own(ADA) }),
        ),
      ).toEqual(otherQuery);
      expect(
        await readsAs(backend.listRuns({ limit: 1, cursor: "bm90IG91cnM", access: ALL })),
      ).toEqual({ ...otherQuery, message: entry.messages.forgedCursor });
    });
  });

  describe("cancelling", () => {
    it("cancels a run once; again, or a run already finished, changes nothing", async () => {
      const long = await running();
      const cancelled = await backend.cancelRun(long.id, own(ADA));
      expect(cancelled).toMatchObject({
        alreadyFinished: false,
        run: { id: long.id, status: "canceled" },
      });
      expect(await backend.cancelRun(long.id, own(ADA))).toEqual({
        alreadyFinished: true,
        run: await backend.getRun(long.id, ALL),
      });
      const done = await finish(opened.quick);
      expect(await backend.cancelRun(done.id, own(ADA))).toEqual({
        alreadyFinished: true,
        run: done,
      });
      expect(await backend.getRun(done.id, ALL)).toEqual(done);
    });

    it("a subtask run belongs to its root's starter, and is cancelled as the backend does", async () => {
      const { root, subtask } = await opened.tree(ADA);
      expect(await backend.getRun(subtask, own(ADA))).toMatchObject({
        id: subtask,
        parentTaskRunId: root,
        rootTaskRunId: root,
        startedBy: ADA,
      });
      expect((await readsAs(backend.getRun(subtask, own(BOB)))).message).toBe(
        entry.messages.notFound(subtask, "read"),
      );
      if (entry.subtaskCancel === "cancels") {
        expect(await backend.cancelRun(subtask, own(ADA))).toMatchObject({
          alreadyFinished: false,
          run: { id: subtask, status: "canceled" },
        });
      } else {
        expect(await readsAs(backend.cancelRun(subtask, own(ADA)))).toEqual({
          name: "NotRootRun",
          code: "ERR_NOT_ROOT_RUN",
          retryable: false,
          message: entry.subtaskCancel.refused(subtask, root),
        });
        expect(UNFINISHED).toContain((await backend.getRun(subtask, ALL)).status);
      }
    });
  });

  describe("logs", () => {
    it("answers a run's log lines oldest first, a page at a time", async () => {
      const run = await finish(opened.logging);
      const first = await backend.getRunLogs(run.id, { limit: 3 }, own(ADA));
      const shown = (lines: { level?: string; message: string }[]) =>
        lines.map((line) => [line.level, line.message]);
      expect(shown(first.lines)).toEqual(opened.logging.lines.slice(0, 3));
      const rest = await backend.getRunLogs(run.id, { limit: 3, cursor: first.nextCursor }, ALL);
      expect(shown(rest.lines)).toEqual(opened.logging.lines.slice(3));
      expect(rest.nextCursor).toBeUndefined();
      const other = await finish(opened.quick);
      expect(
        (await readsAs(backend.getRunLogs(other.id, { limit: 3, cursor: first.nextCursor }, ALL)))
          .code,
      ).toBe("ERR_INVALID_CURSOR");
    });
  });

  describe("errors", () => {
    it("refuses an unknown task, and input over 4 MB, starting nothing", async () => {
      expect(await readsAs(backend.startRun("nope", [], ADA))).toEqual({
        name: "UnknownTask",
        code: "ERR_UNKNOWN_TASK",
        retryable: false,
        message: entry.messages.unknownTask("nope"),
      });
      const input = ["x".repeat(MAX_INPUT_BYTES)];
      expect(await readsAs(backend.startRun(opened.quick.name, input, ADA))).toEqual({
        name: "InputTooLarge",
        code: "ERR_INPUT_TOO_LARGE",
        retryable: false,
        message: entry.messages.inputTooLarge(
          opened.quick.name,
          Buffer.byteLength(JSON.stringify(input)),
        ),
      });
      expect((await backend.listRuns({ limit: 10, access: ALL })).runs).toEqual([]);
    });

    it("answers a run someone else started exactly like one that does not exist", async () => {
      const adas = await running();
      const missing = missingId();
      const notFound = (message: string) => ({
        name: "RunNotFound",
        code: "ERR_RUN_NOT_FOUND",
        retryable: false,
        message,
      });
      expect(await readsAs(backend.getRun(missing, ALL))).toEqual(
        notFound(entry.messages.notFound(missing, "all")),
      );
      for (const id of [adas.id, missing]) {
        for (const call of [
          backend.getRun(id, own(BOB)),
          backend.waitForRun(id, { timeoutMs: 100, access: own(BOB) }),
          backend.getRunLogs(id, { limit: 10 }, own(BOB)),
        ]) {
          expect(await readsAs(call)).toEqual(notFound(entry.messages.notFound(id, "read")));
        }
        expect(await readsAs(backend.cancelRun(id, own(BOB)))).toEqual(
          notFound(entry.messages.notFound(id, "cancel")),
        );
      }
      expect((await backend.getRun(adas.id, ALL)).status).toBe("running");
    });
  });
}
