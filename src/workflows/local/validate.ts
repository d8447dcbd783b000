import { InputTooLarge, InvalidInput } from "../errors.js";
import { MAX_INPUT_BYTES, TaskRunStatus } from "../run.js";
import { MAX_PAGE_LIMIT } from "./limits.js";
import type { RegisteredTask } from "./registry.js";

/**
 * A run's arguments as they will be stored and passed: a positional array, at
 * most MAX_INPUT_BYTES as JSON, accepted by the task's schema (its output,
 * with any defaults and transforms applied).
 */
export function validateInput(task: RegisteredTask, input: unknown): unknown[] {
  if (!Array.isArray(input)) {
    throw new InvalidInput(
      `${task.name} is a TypeScript task: its input is an array of positional arguments (for example [3]), not ${input !== null && typeof input === "object" ? "an object of named parameters" : typeof input}`,
    );
  }
  let json: string;
  try {
    json = JSON.stringify(input);
  } catch (error) {
    throw new InvalidInput(
      `The input to ${task.name} is not JSON-serialisable: ${(error as Error).message}`,
    );
  }
  if (Buffer.byteLength(json) > MAX_INPUT_BYTES) {
    throw new InputTooLarge(
      `The input to ${task.name} exceeds ${MAX_INPUT_BYTES} bytes as JSON; pass a reference (a URL or id) instead`,
    );
  }
  // What is stored is what JSON keeps (undefined becomes null), so every attempt sees the same.
  const args = JSON.parse(json) as unknown[];
  if (!task.input) return args;
  const parsed = task.input.safeParse(args);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map(
    (issue) => `input${issue.path.map((p) => `[${String(p)}]`).join("")}: ${issue.message}`,
  );
  throw new InvalidInput(`${task.name} refused its input: ${problems.join("; ")}`);
}

/** Stored timestamps are UTC ISO strings with milliseconds: bounds must match to compare. */
export function instant(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    throw new InvalidInput(
      `The ${name} "${value.slice(0, 64)}" is not an ISO 8601 time; use one like 2026-01-31T12:00:00Z`,
    );
  }
  return new Date(time).toISOString();
}

/** A status filter: known statuses only, each once (so at most the 6 there are). */
export function statusFilter(statuses: readonly string[] | undefined): TaskRunStatus[] | undefined {
  if (statuses === undefined) return undefined;
  const unique = [...new Set(statuses)];
  const unknown = unique.filter((status) => !TaskRunStatus.safeParse(status).success);
  if (unknown.length > 0) {
    throw new InvalidInput(
      `Unknown status ${JSON.stringify(unknown[0]).slice(0, 64)}; statuses are ${TaskRunStatus.options.join(", ")}`,
    );
  }
  return unique as TaskRunStatus[];
}

export function pageLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new InvalidInput(`limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}`);
  }
  return limit;
}
