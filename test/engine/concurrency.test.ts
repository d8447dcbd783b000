/**
 * Bounded threads whatever the run tree's shape, with no deadlock: observed
 * through the pool's own thread count and the scheduler's, never timing.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { LocalEngine } from "../../src/workflows/local/index.js";
import { ADA, ALL, BOB, finished, workspace } from "./helpers.js";

let ws: ReturnType<typeof workspace>;
afterEach(() => ws.cleanup());

async function open(maxThreads: number, maxSubtaskDepth: number, extra = {}): Promise<LocalEngine> {
  ws = workspace();
  return ws.open({ maxThreads, maxSubtaskDepth, ...extra });
}

describe("bounded threads", () => {
  it("runs a wide fan-out (4 parents × 50 subtasks) within T threads", async () => {
    const engine = await open(4, 2);
    const roots = await Promise.all(
      [ADA, BOB, ADA, BOB].map((owner) => engine.startRun("fanOut", [50], owner)),
    );
    const done = await Promise.all(roots.map((root) => finished(engine, root.id, 60_000)));
    const expected = Array.from({ length: 50 }, (_, i) => i);
    for (const run of done) expect(run).toMatchObject({ status: "succeeded", results: [expected] });
    const { runs } = await engine.listRuns({ task: "echo", limit: 1000, access: ALL });
    expect(runs).toHaveLength(200);
    const stats = engine.stats();
    expect(stats.mostThreads).toBeLessThanOrEqual(4);
    // One level deep, a tree uses T − D + 1 threads: the last is kept for subtasks of subtasks.
    expect(stats.mostHeld).toBe(3);
  });

  it("runs chains deeper than the threads would allow without the depth rule", async () => {
    // 3 threads: without the rule, three roots would take all three and wait forever on their subtasks.
    const engine = await open(3, 2);
    const roots = await Promise.all([0, 1, 2].map(() => engine.startRun("chain", [2, 20], ADA)));
    expect(roots.map((root) => root.status)).toEqual(["running", "pending", "pending"]);
    const done = await Promise.all(roots.map((root) => finished(engine, root.id, 60_000)));
    for (const run of done) expect(run).toMatchObject({ status: "succeeded", results: [2] });
    expect(engine.stats().mostThreads).toBeLessThanOrEqual(3);
    expect(engine.stats().mostHeld).toBe(3);
  });

  it("runs wide and deep trees at once within T threads", async () => {
    const engine = await open(4, 2);
    const roots = await Promise.all(
      [ADA, BOB, ADA].map((owner) => engine.startRun("tree", [2, 3], owner)),
    );
    const done = await Promise.all(roots.map((root) => finished(engine, root.id, 60_000)));
    // 1 + 3 + 9 runs each.
    for (const run of done) expect(run).toMatchObject({ status: "succeeded", results: [13] });
    expect(engine.stats().mostThreads).toBeLessThanOrEqual(4);
    expect(engine.stats().mostHeld).toBe(4);
  });
});

describe("bounded trees", () => {
  it("fails a subtask that would nest deeper than the limit, saying how deep they may go", async () => {
    const engine = await open(4, 2);
    const root = await finished(engine, (await engine.startRun("chain", [3, 0], ADA)).id);
    expect(root.status).toBe("failed");
    const { runs } = await engine.listRuns({ task: "chain", limit: 10, access: ALL });
    const deepest = runs[0];
    expect(runs).toHaveLength(3);
    expect(deepest?.error).toBe(
      `subtasks nest at most 2 deep: chain would run 3 deep, under ${deepest?.id}`,
    );
    expect(root.error).toMatch(/subtasks nest at most 2 deep: chain would run 3 deep/);
  });

  it("fails a ctx.run beyond the unfinished subtasks one run may have", async () => {
    const engine = await open(4, 2, { maxOpenSubtasksPerRun: 3 });
    const root = await finished(engine, (await engine.startRun("fanOut", [5], ADA)).id);
    expect(root).toMatchObject({
      status: "failed",
      error: `run ${root.id} already has 3 unfinished subtask runs, the most one run may have; await some before starting more`,
    });
    const { runs } = await engine.listRuns({ task: "echo", limit: 10, access: ALL });
    expect(runs).toHaveLength(3);
  });
});
