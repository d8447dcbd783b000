/** The attempt runner alone: real worker threads from a piscina pool, the built fixture tasks. */
import { once } from "node:events";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_LOG_LINE_CHARS, MAX_RESULT_BYTES } from "../../src/workflows/local/limits.js";
import type { SubtaskAnswer } from "../../src/workflows/local/runner/protocol.js";
import {
  type AttemptEvents,
  AttemptRunner,
  type AttemptSpec,
} from "../../src/workflows/local/runner/runner.js";
import type { LogLine } from "../../src/workflows/run.js";
import { FIXTURE_TASKS } from "./helpers.js";

let runner: AttemptRunner;
afterEach(async () => {
  await runner?.close();
});

const open = (maxThreads = 2) => {
  runner = new AttemptRunner({
    tasksModule: pathToFileURL(FIXTURE_TASKS).href,
    maxThreads,
    workerHeapMb: 64,
  });
  return runner;
};

const spec = (task: string, args: unknown[], extra: Partial<AttemptSpec> = {}): AttemptSpec => ({
  runId: "trn-test",
  attempt: 1,
  task,
  argsJson: JSON.stringify(args),
  ...extra,
});

/** Events that record logs and answer nothing. */
function recorder(
  onSubtask: AttemptEvents["subtask"] = () => {},
): AttemptEvents & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { lines, log: (line) => lines.push(line), subtask: onSubtask };
}

describe("an attempt", () => {
  it("returns the task's result as the run's results", async () => {
    const outcome = await open().start(spec("add", [2, 3]), recorder()).outcome;
    expect(outcome).toEqual({ ok: true, resultsJson: "[5]" });
  });

  it("fails with the error's message, never a stack", async () => {
    const outcome = await open().start(spec("fail", ["boom"]), recorder()).outcome;
    expect(outcome).toEqual({ ok: false, error: "boom", stopped: false });
  });

  it("fails clearly when its task is not in the module", async () => {
    const outcome = await open().start(spec("nope", []), recorder()).outcome;
    expect(outcome).toEqual({
      ok: false,
      error: `task nope is not defined in ${pathToFileURL(FIXTURE_TASKS).href}`,
      stopped: false,
    });
  });

  it("passes every line it logged, through ctx or console, before its outcome", async () => {
    const events = recorder();
    const outcome = await open().start(spec("logs", []), events).outcome;
    expect(outcome).toEqual({ ok: true, resultsJson: '["logged"]' });
    expect(events.lines.map(({ level, message }) => ({ level, message }))).toEqual([
      { level: "info", message: "info from context" },
      { level: "warn", message: "warn from context" },
      { level: "info", message: "console.log line" },
      { level: "error", message: "console.error line" },
    ]);
  });

  it("refuses a result over the size limit", async () => {
    const outcome = await open().start(spec("big", [MAX_RESULT_BYTES - 1]), recorder()).outcome;
    expect(outcome).toEqual({
      ok: false,
      error: `the task's result is ${MAX_RESULT_BYTES + 1} bytes as JSON, over the ${MAX_RESULT_BYTES}-byte limit; return a reference (a URL or id) instead`,
      stopped: false,
    });
  });
});

describe("log bounds", () => {
  it("cuts a long line, with an ellipsis", async () => {
    const events = recorder();
    await open().start(spec("chatty", [1, MAX_LOG_LINE_CHARS + 100]), events).outcome;
    expect(events.lines).toHaveLength(1);
    const [line] = events.lines;
    expect(line?.message).toHaveLength(MAX_LOG_LINE_CHARS);
    expect(line?.message.endsWith("y…")).toBe(true);
  });

  it("keeps 10,000 lines per attempt, then says the rest were dropped", async () => {
    const events = recorder();
    const outcome = await open().start(spec("chatty", [10_050, 8], { attempt: 2 }), events).outcome;
    expect(outcome).toEqual({ ok: true, resultsJson: "[10050]" });
    expect(events.lines).toHaveLength(10_001);
    expect(events.lines[9_999]?.message).toBe("9999:yyy");
    expect(events.lines[10_000]).toMatchObject({
      level: "warn",
      message:
        "further log lines of attempt 2 were dropped (at most 10000 lines are kept per attempt)",
    });
  });
});

describe("subtasks", () => {
  it("asks for each ctx.run and resumes the task with the answers", async () => {
    const requests: { task: string; argsJson: string }[] = [];
    const events = recorder((request, answer) => {
      requests.push(request);
      const [value] = JSON.parse(request.argsJson) as [number];
      answer({ ok: true, resultsJson: JSON.stringify([value * 10]) });
    });
    const outcome = await open().start(spec("fanOut", [3]), events).outcome;
    expect(requests).toEqual([
      { task: "echo", argsJson: "[0]" },
      { task: "echo", argsJson: "[1]" },
      { task: "echo", argsJson: "[2]" },
    ]);
    expect(outcome).toEqual({ ok: true, resultsJson: "[[0,10,20]]" });
  });

  it("rejects the task's ctx.run with a subtask's failure", async () => {
    const answer: SubtaskAnswer = { ok: false, error: "subtask trn-x (echo) failed: no" };
    const outcome = await open().start(
      spec("fanOut", [1]),
      recorder((_request, reply) => reply(answer)),
    ).outcome;
    expect(outcome).toEqual({
      ok: false,
      error: "subtask trn-x (echo) failed: no",
      stopped: false,
    });
  });
});

describe("stopping", () => {
  it("terminates the thread of a task burning CPU when stopped", async () => {
    const pool = open(1);
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const handle = pool.start(spec("busy", [600_000]), { log: () => started(), subtask: () => {} });
    await running;
    const [worker] = pool.threads();
    if (!worker) throw new Error("the attempt has no thread");
    const exited = once(worker, "exit");
    handle.stop();
    expect(await handle.outcome).toEqual({ ok: false, error: "stopped", stopped: true });
    await exited;
    expect(pool.stats().threads).toBe(0);
  });

  it("terminates the thread when the task's timeout passes", async () => {
    const pool = open(1);
    const handle = pool.start(spec("slow", [600_000], { timeoutSeconds: 1 }), recorder());
    const [worker] = pool.threads();
    if (!worker) throw new Error("the attempt has no thread");
    const exited = once(worker, "exit");
    expect(await handle.outcome).toEqual({
      ok: false,
      error: "timed out after 1 s",
      stopped: false,
    });
    await exited;
  });
});

describe("memory", () => {
  it("ends an attempt that outgrows its thread's heap, and only that attempt", async () => {
    const pool = open(1);
    const outcome = await pool.start(spec("hog", []), recorder()).outcome;
    expect(outcome).toMatchObject({ ok: false, stopped: false });
    expect((outcome as { error: string }).error).toMatch(
      /^the task's worker stopped: .*memory limit/,
    );
    expect(await pool.start(spec("add", [1, 1]), recorder()).outcome).toEqual({
      ok: true,
      resultsJson: "[2]",
    });
  });
});

describe("the pool", () => {
  it("never has more threads than its bound, and reuses them", async () => {
    const pool = open(2);
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, (_, i) => pool.start(spec("echo", [i]), recorder()).outcome),
    );
    expect(outcomes).toEqual(
      Array.from({ length: 6 }, (_, i) => ({ ok: true, resultsJson: `[${i}]` })),
    );
    expect(pool.stats().mostThreads).toBe(2);
    expect(pool.stats().threads).toBe(2);
  });
});
