import { register } from "node:module";
import { builtModule } from "../built.js";

const HOOKS = builtModule("./hooks.js", import.meta.url);
const IMPLEMENTATION = builtModule("./workflows.js", import.meta.url);

let registered = false;

/**
 * Makes `import { task } from "@renderinc/sdk/workflows"` load the embedded
 * engine's task API in this thread (hooks.ts). Hooks are per thread: the
 * server's main thread (which loads a tasks module to list its tasks) and
 * each worker thread (which runs its attempts) register them before loading
 * one. Idempotent.
 */
export function resolveRenderSdk(): void {
  if (registered) return;
  registered = true;
  register(HOOKS, { data: { implementation: IMPLEMENTATION.href } });
}
