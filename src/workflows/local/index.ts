import { basename, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Logger } from "../../logger.js";
import type { WorkflowBackend } from "../backend.js";
import { LocalEngine } from "./engine.js";
import { RunStore } from "./store.js";
import { tasksOf } from "./task.js";

export interface LocalBackendOptions {
  dbPath: string;
  /** A built ES module exporting tasks; default: the bundled examples. */
  tasksModule?: string;
  logger: Logger;
}

export async function createLocalBackend({
  dbPath,
  tasksModule,
  logger,
}: LocalBackendOptions): Promise<WorkflowBackend> {
  // A path (relative to the working directory) or a file: URL.
  const moduleUrl = tasksModule
    ? tasksModule.startsWith("file:")
      ? tasksModule
      : pathToFileURL(resolve(tasksModule)).href
    : new URL("./tasks/index.js", import.meta.url).href;
  let tasks: ReturnType<typeof tasksOf>;
  try {
    tasks = tasksOf(await import(moduleUrl));
  } catch (error) {
    throw new Error(`LOCAL_TASKS_MODULE: cannot load ${tasksModule}: ${(error as Error).message}`);
  }
  if (tasks.size === 0) {
    throw new Error(
      `LOCAL_TASKS_MODULE: ${tasksModule} exports no tasks (define them with task() from src/workflows/local/task.ts)`,
    );
  }
  let store: RunStore;
  try {
    store = new RunStore(dbPath);
  } catch (error) {
    throw new Error(`LOCAL_DB_PATH: cannot open ${dbPath}: ${(error as Error).message}`);
  }
  const source = tasksModule ? ` from ${basename(tasksModule)}` : "";
  return new LocalEngine({
    store,
    tasks,
    tasksModule: moduleUrl,
    logger,
    describe: `embedded engine, ${tasks.size} tasks${source} (${[...tasks.keys()].join(", ")}), database ${dbPath}`,
  });
}
