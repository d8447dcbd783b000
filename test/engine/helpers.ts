import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import type { Logger } from "../../src/logger.js";
import type { RunAccess } from "../../src/workflows/backend.js";
import { createLocalBackend, type LocalEngine } from "../../src/workflows/local/index.js";
import type { EngineLimitsInput } from "../../src/workflows/local/limits.js";
import type { StartedBy, TaskRun } from "../../src/workflows/run.js";

/** The fixture tasks, built (`npx tsc -p tsconfig.build.json`): worker threads load JavaScript. */
export const FIXTURE_TASKS = fileURLToPath(
  new URL("../../dist/test/fixtures/tasks.js", import.meta.url),
);

export const ADA: StartedBy = {
  issuer: "https://issuer.test",
  subject: "ada",
  clientId: "cli-ada",
  at: "2026-01-01T00:00:00.000Z",
};
export const BOB: StartedBy = {
  issuer: "https://issuer.test",
  subject: "bob",
  at: "2026-01-01T00:00:00.000Z",
};
export const ALL: RunAccess = { kind: "all" };
export const own = ({ issuer, subject }: StartedBy): RunAccess => ({
  kind: "own",
  owner: { issuer, subject },
});

export const silent = pino({ level: "silent" });

/**
 * A temporary directory for one test's database, and the engines opened on
 * it: `cleanup` closes them (ending their threads) and removes the files.
 */
export function workspace() {
  const dir = mkdtempSync(join(tmpdir(), "engine-test-"));
  const dbPath = join(dir, "runs.sqlite");
  const engines = new Set<LocalEngine>();
  return {
    dir,
    dbPath,
    async open(
      limits?: EngineLimitsInput,
      options: { now?: () => Date; logger?: Logger } = {},
    ): Promise<LocalEngine> {
      const engine = await createLocalBackend({
        dbPath,
        tasksModule: FIXTURE_TASKS,
        logger: options.logger ?? silent,
        limits,
        now: options.now,
      });
      engines.add(engine);
      return engine;
    },
    async close(engine: LocalEngine, graceMs = 0): Promise<void> {
      await engine.close({ graceMs });
      engines.delete(engine);
    },
    async cleanup(): Promise<void> {
      await Promise.all([...engines].map((engine) => engine.close()));
      engines.clear();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits (bounded) for a run to finish. */
export function finished(engine: LocalEngine, id: string, timeoutMs = 20_000): Promise<TaskRun> {
  return engine.waitForRun(id, { timeoutMs, access: ALL });
}

/** The run once it matches (checked every 10 ms, for at most `timeoutMs`). */
export async function reaches(
  engine: LocalEngine,
  id: string,
  matches: (run: TaskRun) => boolean,
  timeoutMs = 20_000,
): Promise<TaskRun> {
  let found: TaskRun | undefined;
  await until(async () => {
    const run = await engine.getRun(id, ALL);
    if (matches(run)) found = run;
    return found !== undefined;
  }, timeoutMs);
  return found as TaskRun;
}

/** Waits for a condition, checking every 10 ms, for at most `timeoutMs` (then fails). */
export async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  for (let waited = 0; waited < timeoutMs; waited += 10) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`the condition did not hold within ${timeoutMs} ms`);
}

/** What a promise rejected with; fails when it fulfils. */
export async function refusal(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a refusal");
}
