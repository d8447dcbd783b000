/** Reading tool results in tests: the run, the text, the error code, and every page of a list. */
import { randomBytes } from "node:crypto";
import { expect } from "vitest";
import type { TaskRun } from "../../src/workflows/run.js";
import type { McpTestClient, ToolResult } from "./stack.js";

export const runOf = (result: ToolResult) => (result.structuredContent as { run: TaskRun }).run;
export const textOf = (result: ToolResult) => result.content.map((c) => c.text ?? "").join("\n");
/** The stable error code of a tool error (`_meta["workflows-mcp/error"].code`). */
export const codeOf = (result: ToolResult) =>
  (result._meta?.["workflows-mcp/error"] as { code?: string } | undefined)?.code;
/** An id shaped like a run's (trn- and 20 hex digits) that no run has. */
export const missingId = () => `trn-${randomBytes(10).toString("hex")}`;
/** The whole answer, with the run id taken out: what must be byte-identical. */
export const withoutId = (value: unknown, id: string) =>
  JSON.stringify(value).replaceAll(id, "<id>");

export interface RunPage {
  runs: TaskRun[];
  next_cursor?: string;
}

/** Every page of list_task_runs, following next_cursor (at most `maxPages`). */
export async function walk(
  client: McpTestClient,
  args: Record<string, unknown>,
  maxPages = 50,
): Promise<TaskRun[][]> {
  const pages: TaskRun[][] = [];
  let cursor: string | undefined;
  do {
    const result = await client.callTool("list_task_runs", { ...args, cursor });
    expect(result.isError, textOf(result)).toBeFalsy();
    const page = result.structuredContent as unknown as RunPage;
    pages.push(page.runs);
    cursor = page.next_cursor;
  } while (cursor && pages.length < maxPages);
  return pages;
}

/** Starts a run of `task` as `client` and returns it; the call must succeed. */
export async function start(
  client: McpTestClient,
  task: string,
  input: unknown[],
  waitSeconds = 20,
): Promise<TaskRun> {
  const result = await client.callTool("start_task_run", {
    task,
    input,
    wait_seconds: waitSeconds,
  });
  expect(result.isError, textOf(result)).toBeFalsy();
  return runOf(result);
}
