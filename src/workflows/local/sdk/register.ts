import { readFileSync } from "node:fs";
import * as nodeModule from "node:module";
import { fileURLToPath } from "node:url";
import { builtModule } from "../../../built-module.js";
import { SDK_SPECIFIER } from "./hooks.js";

const HOOKS = builtModule("./hooks.js", import.meta.url);
const IMPLEMENTATION = builtModule("./workflows.js", import.meta.url).href;

/** `module.registerHooks` (Node 22.15 and later): hooks run in the thread itself, no loader thread. */
type RegisterHooks = (hooks: {
  resolve(
    specifier: string,
    context: unknown,
    next: (specifier: string, context: unknown) => unknown,
  ): unknown;
}) => unknown;
const registerHooks = (nodeModule as { registerHooks?: RegisterHooks }).registerHooks;

let registered = false;

/**
 * Makes `import { task } from "@renderinc/sdk/workflows"` load the embedded
 * engine's task API in this thread (hooks.ts). Hooks are per thread: the
 * server's main thread (which loads a tasks module to list its tasks) and
 * each worker thread (which runs its attempts) call this before loading one.
 *
 * Where Node has `module.registerHooks` (22.15 and later) the hook runs in
 * the thread, at no cost. Node 20 has only `module.register`, whose hooks run
 * in a loader thread of their own, one per thread that registers: there it
 * is registered only for a module that names the specifier itself, so the
 * worker pool's thread bound holds for every other module.
 */
export function resolveRenderSdkFor(moduleUrl: string): void {
  if (registered) return;
  if (registerHooks) {
    registered = true;
    registerHooks({
      resolve: (specifier, context, next) =>
        specifier === SDK_SPECIFIER
          ? { url: IMPLEMENTATION, shortCircuit: true }
          : next(specifier, context),
    });
    return;
  }
  if (!namesTheSdk(moduleUrl)) return;
  registered = true;
  nodeModule.register(HOOKS, { data: { implementation: IMPLEMENTATION } });
}

function namesTheSdk(moduleUrl: string): boolean {
  try {
    return readFileSync(fileURLToPath(moduleUrl), "utf8").includes(SDK_SPECIFIER);
  } catch {
    return false;
  }
}

/** True where the hook can only be registered for a module that names the specifier itself (Node 20). */
export const sdkResolvedForDirectImportsOnly = registerHooks === undefined;
