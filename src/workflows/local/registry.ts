import type { ZodType } from "zod";

/**
 * What task() records about a task: the SDK's public `{ name, func }` plus
 * what the embedded engine needs. Kept on the definition under a
 * Symbol.for key and in a process-wide list on globalThis, so a task defined
 * through another copy of this module (the built one, when the engine runs
 * from source in tests) is still recognised.
 */
export interface RegisteredTask {
  name: string;
  func: (...args: never[]) => unknown;
  description?: string;
  input?: ZodType<unknown[]>;
  retry?: { maxRetries: number; waitDurationMs: number; backoffScaling: number };
  timeoutSeconds?: number;
}

const TASK = Symbol.for("workflows-mcp.task");
const REGISTRATIONS = Symbol.for("workflows-mcp.registrations");

/** Every task() call in this thread, in order: like the SDK, defining a task registers it. */
function registrations(): RegisteredTask[] {
  const global = globalThis as { [REGISTRATIONS]?: RegisteredTask[] };
  global[REGISTRATIONS] ??= [];
  return global[REGISTRATIONS];
}

export function register<T extends object>(definition: T, task: RegisteredTask): T {
  Object.defineProperty(definition, TASK, { value: task });
  registrations().push(task);
  return definition;
}

/** The task a value defines, if it is a task definition. */
export function registeredTaskOf(value: unknown): RegisteredTask | undefined {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return;
  return (value as { [TASK]?: RegisteredTask })[TASK];
}

export const registrationCount = (): number => registrations().length;

export const registeredSince = (count: number): RegisteredTask[] => registrations().slice(count);
