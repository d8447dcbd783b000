import { existsSync } from "node:fs";
import { extname, isAbsolute, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { builtModule } from "../../built-module.js";
import { describeLoadFailure } from "./load-failure.js";
import {
  type RegisteredTask,
  registeredSince,
  registeredTaskOf,
  registrationCount,
} from "./registry.js";
import { resolveRenderSdkFor } from "./sdk/register.js";

/** The bundled example tasks. */
export const EXAMPLE_TASKS = builtModule("./tasks/index.js", import.meta.url).href;

const TYPESCRIPT = new Set([".ts", ".mts", ".cts", ".tsx"]);

/**
 * The URL of LOCAL_TASKS_MODULE: a path relative to the working directory, or
 * a file: URL. A TypeScript file is refused with what to run instead: Node
 * loads only JavaScript here.
 */
export function tasksModuleUrl(spec: string | undefined): string {
  if (spec === undefined) return EXAMPLE_TASKS;
  const path = spec.startsWith("file:") ? fileURLToPath(spec) : resolve(spec);
  const extension = extname(path);
  if (TYPESCRIPT.has(extension)) {
    throw new Error(
      `LOCAL_TASKS_MODULE: ${spec} is TypeScript, which Node does not load here: build it with \`npm run build\` and set LOCAL_TASKS_MODULE=${builtPathOf(path, extension)}`,
    );
  }
  if (!existsSync(path)) {
    // Under dist/ it is build output: most likely not built yet.
    const built = path.split(sep).includes("dist");
    throw new Error(
      `LOCAL_TASKS_MODULE: ${spec} does not exist${built ? ": it is build output, so run `npm run build` first (and check that the build writes it there)" : ` (${path})`}`,
    );
  }
  return pathToFileURL(path).href;
}

/** Where `npm run build` (tsconfig: rootDir ".", outDir "dist") puts a source file's JavaScript. */
function builtPathOf(path: string, extension: string): string {
  const js = extension === ".mts" ? ".mjs" : extension === ".cts" ? ".cjs" : ".js";
  const inProject = relative(process.cwd(), path);
  if (inProject.startsWith("..") || isAbsolute(inProject)) {
    return `${path.slice(0, -extension.length)}${js} (its built JavaScript)`;
  }
  return `dist/${inProject.slice(0, -extension.length).split("\\").join("/")}${js}`;
}

const loaded = new Map<string, Promise<Map<string, RegisteredTask>>>();

/**
 * The tasks a module defines, by name: those it exports and those its import
 * registered (the SDK serves every task() call, exported or not). Cached per
 * URL, as the import itself is.
 */
export function loadTasks(url: string): Promise<Map<string, RegisteredTask>> {
  let tasks = loaded.get(url);
  if (!tasks) {
    tasks = collect(url);
    loaded.set(url, tasks);
    tasks.catch(() => loaded.delete(url));
  }
  return tasks;
}

async function collect(url: string): Promise<Map<string, RegisteredTask>> {
  // A module written for Render imports its task API from Render's SDK: this one.
  resolveRenderSdkFor(url);
  const before = registrationCount();
  let module: Record<string, unknown>;
  try {
    module = (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(
      describeLoadFailure(url.startsWith("file:") ? fileURLToPath(url) : url, error),
      { cause: error },
    );
  }
  const found = [...Object.values(module).map(registeredTaskOf), ...registeredSince(before)].filter(
    (task) => task !== undefined,
  );
  const tasks = new Map<string, RegisteredTask>();
  for (const task of found) {
    const other = tasks.get(task.name);
    if (other && other !== task) throw new Error(`two tasks are named "${task.name}"`);
    tasks.set(task.name, task);
  }
  return tasks;
}
