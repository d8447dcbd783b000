/** MAX_ACTIVE_RUNS_PER_CALLER in the embedded engine: unfinished root runs per caller. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LimitReached } from "../../src/workflows/errors.js";
import { ADA, ALL, BOB, finished, workspace } from "./helpers.js";

let ws: ReturnType<typeof workspace>;
beforeEach(() => {
  ws = workspace();
});
afterEach(() => ws.cleanup());

const REFUSAL =
  'You have 3 runs that have not finished, the most one caller may have at once here (MAX_ACTIVE_RUNS_PER_CALLER); wait for one to finish or cancel one (list_task_runs with status ["pending", "running"] shows them), then try again';

describe("unfinished root runs per caller", () => {
  it("refuses the start beyond the bound, counting waiting and running runs, and only the caller's", async () => {
    const engine = await ws.open({ maxThreads: 3, maxSubtaskDepth: 0, maxActiveRunsPerCaller: 3 });
    const ada = [];
    for (let i = 0; i < 3; i++) ada.push(await engine.startRun("sleep", [600_000], ADA));
    // Two running (Ada's share of the three root slots), one waiting: all three count.
    const refusal = await engine.startRun("echo", ["more"], ADA).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(LimitReached);
    expect(refusal).toMatchObject({
      code: "ERR_LIMIT_REACHED",
      retryable: true,
      retryAfterSeconds: 30,
      message: REFUSAL,
    });
    const bob = await engine.startRun("echo", ["bob"], BOB);
    expect(await finished(engine, bob.id)).toMatchObject({ status: "succeeded" });
    // A cancelled run no longer counts; neither does a finished one.
    await engine.cancelRun(ada[0]?.id as string, ALL);
    await engine.cancelRun(ada[1]?.id as string, ALL);
    const next = await engine.startRun("echo", ["next"], ADA);
    expect(await finished(engine, next.id)).toMatchObject({ status: "succeeded" });
    await engine.startRun("sleep", [600_000], ADA);
    await engine.startRun("sleep", [600_000], ADA);
    await expect(engine.startRun("echo", ["over"], ADA)).rejects.toThrow(REFUSAL);
  });

  it("does not count subtask runs, and 0 turns the bound off", async () => {
    const bounded = await ws.open({ maxThreads: 4, maxSubtaskDepth: 1, maxActiveRunsPerCaller: 1 });
    // fanOut runs subtasks: the root is one unfinished run, whatever its subtasks.
    const root = await bounded.startRun("fanOut", [20], ADA);
    await expect(bounded.startRun("echo", [1], ADA)).rejects.toThrow(LimitReached);
    expect(await finished(bounded, root.id)).toMatchObject({ status: "succeeded" });
    await ws.close(bounded);
    const unbounded = await ws.open({
      maxThreads: 2,
      maxSubtaskDepth: 0,
      maxActiveRunsPerCaller: 0,
    });
    for (let i = 0; i < 12; i++) await unbounded.startRun("sleep", [600_000], ADA);
  });
});
