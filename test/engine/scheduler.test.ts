/** The scheduler alone: admission, fairness and bounds, in-process, no threads. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LimitReached } from "../../src/workflows/errors.js";
import { type QueuedAttempt, Scheduler } from "../../src/workflows/local/scheduler.js";

const limits = (
  maxThreads: number,
  maxSubtaskDepth: number,
  pending = { perCaller: 50, total: 500 },
) =>
  new Scheduler({
    maxThreads,
    maxSubtaskDepth,
    maxPendingPerCaller: pending.perCaller,
    maxPending: pending.total,
  });

const item = (runId: string, depth = 0, owner = "a"): QueuedAttempt => ({
  runId,
  attempt: 1,
  depth,
  owner,
});

/** Every attempt next() admits now, in order. */
function admitAll(scheduler: Scheduler): string[] {
  const admitted: string[] = [];
  for (let next = scheduler.next(); next; next = scheduler.next()) admitted.push(next.runId);
  return admitted;
}

/** Root runs r1, r2 and r3, of three callers (a caller holds only its share of the root slots). */
function enqueueRootsOfThree(scheduler: Scheduler): void {
  for (const [id, owner] of [
    ["r1", "a"],
    ["r2", "b"],
    ["r3", "c"],
  ] as const) {
    scheduler.enqueue(item(id, 0, owner));
  }
}

describe("admission by depth", () => {
  it("gives roots T − D threads and each level below one more", () => {
    const scheduler = limits(4, 2);
    enqueueRootsOfThree(scheduler);
    expect(admitAll(scheduler)).toEqual(["r1", "r2"]);
    scheduler.enqueue(item("c1", 1));
    scheduler.enqueue(item("c2", 1));
    expect(admitAll(scheduler)).toEqual(["c1"]);
    scheduler.enqueue(item("g1", 2));
    scheduler.enqueue(item("g2", 2));
    expect(admitAll(scheduler)).toEqual(["g1"]);
    expect(scheduler.held).toBe(4);
    expect(scheduler.queued).toBe(3);
    scheduler.release("g1");
    expect(admitAll(scheduler)).toEqual(["g2"]);
    scheduler.release("r1");
    // 3 held: a depth-1 attempt may start (fewer than 3? no), a depth-2 one may (fewer than 4).
    expect(admitAll(scheduler)).toEqual([]);
    scheduler.release("g2");
    expect(admitAll(scheduler)).toEqual(["c2"]);
    expect(scheduler.highWater).toBe(4);
  });

  it("admits deeper attempts first", () => {
    const scheduler = limits(6, 2);
    scheduler.enqueue(item("root"));
    scheduler.enqueue(item("child", 1));
    scheduler.enqueue(item("grandchild", 2));
    expect(admitAll(scheduler)).toEqual(["grandchild", "child", "root"]);
  });

  it("with no subtasks allowed, gives roots every thread", () => {
    const scheduler = limits(2, 0);
    enqueueRootsOfThree(scheduler);
    expect(admitAll(scheduler)).toEqual(["r1", "r2"]);
  });

  it("refuses a depth limit that leaves roots no thread", () => {
    expect(() => limits(3, 3)).toThrow("maxSubtaskDepth must be below maxThreads");
  });

  it("stops starting roots when draining, and still starts subtasks", () => {
    const scheduler = limits(4, 1);
    scheduler.enqueue(item("r1"));
    expect(admitAll(scheduler)).toEqual(["r1"]);
    scheduler.drain();
    scheduler.enqueue(item("r2"));
    scheduler.enqueue(item("c1", 1));
    expect(admitAll(scheduler)).toEqual(["c1"]);
    expect(scheduler.pendingRoots()).toBe(1);
  });

  it("takes a canceled attempt out of the queue", () => {
    const scheduler = limits(2, 1);
    scheduler.enqueue(item("r1"));
    scheduler.enqueue(item("r2"));
    expect(scheduler.remove("r1")).toBe(true);
    expect(scheduler.remove("r1")).toBe(false);
    expect(admitAll(scheduler)).toEqual(["r2"]);
  });
});

describe("fairness between callers", () => {
  it("never gives one caller every root slot: another's run starts at once (the defaults: 6 threads, depth 3)", () => {
    // The observed problem: eight longRunning runs of one caller held all three root slots,
    // and another caller's greet waited 59 s for one to end.
    const scheduler = limits(6, 3);
    expect(scheduler.rootsPerOwner).toBe(2);
    for (let i = 1; i <= 8; i++) scheduler.enqueue(item(`a${i}`, 0, "alice"));
    expect(admitAll(scheduler)).toEqual(["a1", "a2"]);
    expect(scheduler.rootsHeldBy("alice")).toBe(2);
    expect(scheduler.pendingRoots("alice")).toBe(6);
    scheduler.enqueue(item("b1", 0, "bob"));
    expect(admitAll(scheduler)).toEqual(["b1"]);
    // Every root slot is held now: Carol waits for the first to free, and gets it before Alice.
    scheduler.enqueue(item("c1", 0, "carol"));
    expect(admitAll(scheduler)).toEqual([]);
    scheduler.release("a1");
    expect(admitAll(scheduler)).toEqual(["c1"]);
    scheduler.release("b1");
    expect(admitAll(scheduler)).toEqual(["a3"]);
    expect(scheduler.rootsHeldBy("alice")).toBe(2);
  });

  it("gives one caller all of a single root slot, and T − D − 1 of several", () => {
    const single = limits(2, 1);
    for (const id of ["a1", "a2"]) single.enqueue(item(id, 0, "alice"));
    expect(admitAll(single)).toEqual(["a1"]);
    const several = limits(8, 2);
    for (let i = 1; i <= 8; i++) several.enqueue(item(`a${i}`, 0, "alice"));
    expect(admitAll(several)).toEqual(["a1", "a2", "a3", "a4", "a5"]);
    several.release("a5");
    several.release("a5");
    expect(several.rootsHeldBy("alice")).toBe(4);
    expect(admitAll(several)).toEqual(["a6"]);
  });

  it("starts another caller's run before the rest of one caller's batch", () => {
    // The observed problem: four longRunning runs of one caller held every slot and another's greet waited.
    const scheduler = limits(3, 1);
    for (const id of ["a1", "a2", "a3", "a4"]) scheduler.enqueue(item(id, 0, "alice"));
    scheduler.enqueue(item("b1", 0, "bob"));
    expect(admitAll(scheduler)).toEqual(["a1", "b1"]);
    scheduler.release("a1");
    expect(admitAll(scheduler)).toEqual(["a2"]);
  });

  it("takes turns round-robin, each caller's runs in the order they came", () => {
    const scheduler = limits(2, 1);
    for (const id of ["a1", "a2", "a3"]) scheduler.enqueue(item(id, 0, "a"));
    for (const id of ["b1", "b2", "b3"]) scheduler.enqueue(item(id, 0, "b"));
    scheduler.enqueue(item("c1", 0, "c"));
    const order: string[] = [];
    for (let next = scheduler.next(); next; next = scheduler.next()) {
      order.push(next.runId);
      scheduler.release(next.runId);
    }
    expect(order).toEqual(["a1", "b1", "c1", "a2", "b2", "a3", "b3"]);
  });

  it("serves a caller who just had a turn after one who waits", () => {
    const scheduler = limits(2, 1);
    scheduler.enqueue(item("a1", 0, "alice"));
    expect(admitAll(scheduler)).toEqual(["a1"]);
    scheduler.enqueue(item("a2", 0, "alice"));
    scheduler.enqueue(item("a3", 0, "alice"));
    scheduler.enqueue(item("b1", 0, "bob"));
    scheduler.release("a1");
    expect(admitAll(scheduler)).toEqual(["b1"]);
  });

  it("takes turns between callers among subtasks too", () => {
    const scheduler = limits(3, 1);
    for (const id of ["a1", "a2"]) scheduler.enqueue(item(id, 1, "a"));
    scheduler.enqueue(item("b1", 1, "b"));
    const order: string[] = [];
    for (let next = scheduler.next(); next; next = scheduler.next()) {
      order.push(next.runId);
      scheduler.release(next.runId);
    }
    expect(order).toEqual(["a1", "b1", "a2"]);
  });
});

describe("bounds on waiting runs", () => {
  it("refuses a caller's new root run beyond its bound, saying the limit and when to retry", () => {
    const scheduler = limits(2, 1, { perCaller: 2, total: 3 });
    scheduler.enqueue(item("a1", 0, "alice"));
    scheduler.enqueue(item("a2", 0, "alice"));
    let refusal: unknown;
    try {
      scheduler.checkNewRoot("alice");
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(LimitReached);
    expect(refusal).toMatchObject({
      code: "ERR_LIMIT_REACHED",
      retryable: true,
      retryAfterSeconds: 30,
      message:
        'You already have 2 runs waiting to start, the most one caller may have here; try again in 30 s, once some have started, or cancel some (list_task_runs with status ["pending"] shows them)',
    });
    expect(() => scheduler.checkNewRoot("bob")).not.toThrow();
  });

  it("refuses anyone's new root run beyond the total", () => {
    const scheduler = limits(2, 1, { perCaller: 2, total: 3 });
    scheduler.enqueue(item("a1", 0, "alice"));
    scheduler.enqueue(item("a2", 0, "alice"));
    scheduler.enqueue(item("b1", 0, "bob"));
    expect(() => scheduler.checkNewRoot("carol")).toThrow(
      new LimitReached(
        "This server already has 3 runs waiting to start, the most it accepts; try again in 30 s",
        { retryAfterSeconds: 30 },
      ),
    );
  });

  it("counts only runs waiting to start, not those running", () => {
    const scheduler = limits(2, 1, { perCaller: 1, total: 10 });
    scheduler.enqueue(item("a1", 0, "alice"));
    expect(() => scheduler.checkNewRoot("alice")).toThrow(LimitReached);
    expect(admitAll(scheduler)).toEqual(["a1"]);
    expect(() => scheduler.checkNewRoot("alice")).not.toThrow();
  });

  it("never refuses what was already accepted (retries, restarts)", () => {
    const scheduler = limits(2, 1, { perCaller: 1, total: 1 });
    scheduler.enqueue(item("a1", 0, "alice"));
    scheduler.enqueue(item("a2", 0, "alice"));
    expect(scheduler.pendingRoots("alice")).toBe(2);
  });
});

/** A run tree: each node lists its subtasks. */
interface Tree {
  children: Tree[];
}
const treeOf = (depth: number): fc.Arbitrary<Tree> =>
  depth === 0
    ? fc.constant({ children: [] })
    : fc.record({ children: fc.array(treeOf(depth - 1), { maxLength: 3 }) });

describe("property: any trees, any interleaving", () => {
  it("never holds more than T threads, never deadlocks, always drains, shares root slots", () => {
    const world = fc
      .tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 5 }))
      .filter(([threads, depth]) => depth < threads)
      .chain(([threads, depth]) =>
        fc.record({
          threads: fc.constant(threads),
          depth: fc.constant(depth),
          roots: fc.array(fc.tuple(treeOf(depth), fc.constantFrom("a", "b", "c")), {
            minLength: 1,
            maxLength: 8,
          }),
          seed: fc.integer(),
        }),
      );
    fc.assert(
      fc.property(world, ({ threads, depth, roots, seed }) => {
        simulate(threads, depth, roots, seed);
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * Runs trees through the scheduler as the engine does: admission is greedy
 * (after every event), a held node starts its subtasks one at a time and
 * holds its thread until every one of them has finished. Events happen in an
 * order drawn from `seed`.
 */
function simulate(threads: number, depth: number, roots: [Tree, string][], seed: number) {
  const scheduler = limits(threads, depth, { perCaller: 1_000, total: 1_000 });
  interface Node {
    id: string;
    depth: number;
    owner: string;
    tree: Tree;
    parent?: Node;
    started: number;
    unfinished: number;
    done: boolean;
  }
  const nodes = new Map<string, Node>();
  let nextId = 0;
  const add = (tree: Tree, nodeDepth: number, owner: string, parent?: Node) => {
    const node: Node = {
      id: `n${nextId++}`,
      depth: nodeDepth,
      owner,
      tree,
      parent,
      started: 0,
      unfinished: tree.children.length,
      done: false,
    };
    nodes.set(node.id, node);
    scheduler.enqueue({ runId: node.id, attempt: 1, depth: nodeDepth, owner });
  };
  const held = new Set<Node>();
  let random = seed >>> 0 || 1;
  const pick = (n: number) => {
    random = (random * 1_103_515_245 + 12_345) % 2 ** 31;
    return random % n;
  };
  const arrivals = [...roots];
  const owners = new Set(roots.map(([, owner]) => owner));
  for (let step = 0; step < 100_000; step++) {
    for (let next = scheduler.next(); next; next = scheduler.next()) {
      held.add(nodes.get(next.runId) as Node);
    }
    expect(scheduler.held).toBeLessThanOrEqual(threads);
    // No owner holds more than its share of the root slots, and a root of an owner under
    // its share never waits while a root slot is free.
    for (const owner of owners) {
      const roots = [...held].filter((node) => node.depth === 0 && node.owner === owner).length;
      expect(scheduler.rootsHeldBy(owner)).toBe(roots);
      expect(roots).toBeLessThanOrEqual(scheduler.rootsPerOwner);
      if (scheduler.pendingRoots(owner) > 0 && roots < scheduler.rootsPerOwner) {
        expect(scheduler.held).toBeGreaterThanOrEqual(threads - depth);
      }
    }
    const events: (() => void)[] = [];
    const arrival = arrivals[0];
    if (arrival) {
      events.push(() => {
        arrivals.shift();
        add(arrival[0], 0, arrival[1]);
      });
    }
    for (const node of held) {
      const child = node.tree.children[node.started];
      if (child) {
        events.push(() => {
          node.started++;
          add(child, node.depth + 1, node.owner, node);
        });
      } else if (node.unfinished === 0) {
        events.push(() => {
          held.delete(node);
          node.done = true;
          scheduler.release(node.id);
          if (node.parent) node.parent.unfinished--;
        });
      }
    }
    if (events.length === 0) {
      // Nothing can happen: everything must be done, or this is a deadlock.
      expect([...nodes.values()].filter((node) => !node.done)).toEqual([]);
      expect(scheduler.queued).toBe(0);
      return;
    }
    (events[pick(events.length)] as () => void)();
  }
  throw new Error("the simulation did not end");
}
