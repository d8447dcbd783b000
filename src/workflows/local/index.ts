import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import type Database from "better-sqlite3";
import { MigrationError } from "../../db/migrate.js";
import type { Logger } from "../../logger.js";
import { NO_TELEMETRY, type Telemetry } from "../../telemetry/telemetry.js";
import { openDatabase } from "./db/open.js";
import { LocalEngine } from "./engine.js";
import { EngineLimits, type EngineLimitsInput } from "./limits.js";
import type { RegisteredTask } from "./registry.js";
import { AttemptRunner } from "./runner/runner.js";
import { Scheduler } from "./scheduler.js";
import { withTaskMetadata } from "./task-metadata.js";
import { loadTasks, tasksModuleUrl } from "./tasks-module.js";

export type { LocalEngine } from "./engine.js";

/** What the engine keeps, as the start banner says it. */
const stored = ({ runRetentionDays, maxStoredMbPerCaller }: EngineLimits): string =>
  `${maxStoredMbPerCaller === 0 ? "no storage bound per caller" : `${maxStoredMbPerCaller} MB stored per caller`}, ${runRetentionDays === 0 ? "runs kept forever" : `finished runs kept ${runRetentionDays} days`}`;

export { EngineLimits } from "./limits.js";

export interface LocalBackendOptions {
  dbPath: string;
  /** A built ES module defining tasks (a path or a file: URL); default: the bundled examples. */
  tasksModule?: string;
  logger: Logger;
  /** Defaults in limits.ts. */
  limits?: EngineLimitsInput;
  /** The clock retention and the storage quota read; tests move it. */
  now?: () => Date;
  /** Attempts in spans, runs counted (src/telemetry/); off by default. */
  telemetry?: Pick<Telemetry, "engine" | "traceparent">;
}

/**
 * The embedded engine, ready: tasks loaded, database migrated, interrupted
 * work recovered and queued. Errors name the setting to fix.
 */
export async function createLocalBackend({
  dbPath,
  tasksModule,
  logger,
  limits: limitsInput = {},
  now = () => new Date(),
  telemetry = NO_TELEMETRY,
}: LocalBackendOptions): Promise<LocalEngine> {
  const parsed = EngineLimits.safeParse(limitsInput);
  if (!parsed.success) {
    throw new Error(
      `embedded engine limits: ${parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")}`,
    );
  }
  const limits = parsed.data;
  const url = tasksModuleUrl(tasksModule);
  let tasks: Map<string, RegisteredTask>;
  try {
    tasks = withTaskMetadata(await loadTasks(url), fileURLToPath(url)).tasks;
  } catch (error) {
    throw new Error(`LOCAL_TASKS_MODULE: cannot load ${tasksModule}: ${(error as Error).message}`);
  }
  if (tasks.size === 0) {
    throw new Error(
      `LOCAL_TASKS_MODULE: ${tasksModule} defines no tasks (define them with task() from @renderinc/sdk/workflows)`,
    );
  }
  let db: Database.Database;
  try {
    db = openDatabase(dbPath);
  } catch (error) {
    // A migration's error names LOCAL_DB_PATH and the file itself.
    if (error instanceof MigrationError) throw error;
    throw new Error(`LOCAL_DB_PATH: cannot open ${dbPath}: ${(error as Error).message}`);
  }
  const source = tasksModule ? ` from ${basename(tasksModule)}` : "";
  const runner = new AttemptRunner({
    tasksModule: url,
    maxThreads: limits.maxThreads,
    workerHeapMb: limits.workerHeapMb,
  });
  try {
    return new LocalEngine({
      db,
      tasks,
      limits,
      logger,
      scheduler: new Scheduler(limits),
      runner,
      now,
      telemetry,
      describe: `embedded engine, ${tasks.size} tasks${source} (${[...tasks.keys()].join(", ")}), database ${dbPath}, at most ${limits.maxThreads} threads of ${limits.workerHeapMb} MB, ${stored(limits)}`,
    });
  } catch (error) {
    await runner.close();
    db.close();
    throw new Error(
      `LOCAL_DB_PATH: cannot recover the runs in ${dbPath}: ${(error as Error).message}`,
    );
  }
}
