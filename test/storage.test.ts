/** Disk, end to end: the real server bounds what one caller stores, and deletes finished runs. */
import { statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeOf, start, textOf } from "./helpers/results.js";
import { ALL_SCOPES, type Stack, startStack } from "./helpers/stack.js";

/** Neither rate limit is the subject here. */
const UNLIMITED = { RATE_LIMIT_REQUESTS_PER_MINUTE: "0", RATE_LIMIT_RUNS_PER_MINUTE: "0" };

describe("LOCAL_MAX_STORED_MB_PER_CALLER", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      ...UNLIMITED,
      LOCAL_MAX_STORED_MB_PER_CALLER: "1",
      LOCAL_RUN_RETENTION_DAYS: "0",
    });
  });
  afterAll(() => stack?.close());

  it("refuses the start that would take a caller past it, saying so, and serves another caller", async () => {
    const alice = await stack.connect(ALL_SCOPES, "modern", { sub: "alice" });
    const bob = await stack.connect(ALL_SCOPES, "legacy", { sub: "bob" });
    // ["x…"] is 400,004 bytes as JSON, and echo's results as many: 0.76 MB stored after one run.
    const large = "x".repeat(400_000);
    expect(await start(alice, "echo", [large])).toMatchObject({ status: "succeeded" });

    const refused = await alice.callTool("start_task_run", { task: "echo", input: [large] });
    expect(refused.isError).toBe(true);
    expect(refused._meta?.["workflows-mcp/error"]).toEqual({
      code: "ERR_LIMIT_REACHED",
      retryable: true,
    });
    expect(textOf(refused)).toBe(
      "You store 0.76 MB here (the input, results, errors and logs of your runs), and this run's input (0.38 MB) would take you past 1 MB, the most one caller may store; runs are kept here until the server's operator sets a retention period, which frees space",
    );
    const listed = await alice.callTool("list_task_runs", { limit: 10 });
    expect((listed.structuredContent as { runs: unknown[] }).runs).toHaveLength(1);

    expect(await start(bob, "echo", [large])).toMatchObject({ status: "succeeded" });
  });
});

describe("LOCAL_RUN_RETENTION_DAYS", () => {
  let stack: Stack;
  beforeAll(async () => {
    // 0.00005 days is 4.3 s (retention then looks every 1.1 s).
    stack = await startStack({ ...UNLIMITED, LOCAL_RUN_RETENTION_DAYS: "0.00005" });
  });
  afterAll(() => stack?.close());

  const onDisk = () =>
    statSync(stack.dbPath).size +
    (statSync(`${stack.dbPath}-wal`, { throwIfNoEntry: false })?.size ?? 0);

  /** Checks every 100 ms for at most `ms` (a liveness bound, not a speed). */
  async function eventually(condition: () => Promise<boolean> | boolean, ms = 30_000) {
    for (const until = Date.now() + ms; Date.now() < until; ) {
      if (await condition()) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`not within ${ms} ms`);
  }

  it("deletes finished runs once the period is over, and the database file shrinks", async () => {
    const client = await stack.connect();
    const large = "z".repeat(2_000_000);
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await start(client, "echo", [large]));
    const before = onDisk();

    for (const run of runs) {
      await eventually(async () => {
        const answer = await client.callTool("get_task_run", { id: run.id });
        return codeOf(answer) === "ERR_RUN_NOT_FOUND";
      });
    }
    const deleted = () =>
      stack.server.logs.filter((line) => line.msg === "deleted runs past their retention");
    const total = (field: string) =>
      deleted().reduce((sum, line) => sum + (line[field] as number), 0);
    // Each run stored its input and its results: 2,000,004 bytes each.
    await eventually(() => total("runs") === 3);
    expect(total("bytes")).toBe(3 * 2 * 2_000_004);
    expect(deleted().every((line) => line.level === 30)).toBe(true);
    await eventually(() => onDisk() <= before - total("bytes"));
  }, 60_000);
});
