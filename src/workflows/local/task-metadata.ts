import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type ZodType, z } from "zod";
import type { RegisteredTask } from "./registry.js";

/** The file beside a tasks module that describes its tasks to this server. */
export const METADATA_FILE = "workflows-mcp.json";

/** A bound on what one file may declare: it is read at start, and published by list_tasks. */
const MAX_ARGUMENTS = 100;

const Metadata = z
  .object({
    tasks: z.record(
      z.string(),
      z
        .object({
          description: z.string().max(2_000).optional(),
          /** One JSON Schema per positional argument. */
          input: z.array(z.record(z.string(), z.unknown())).max(MAX_ARGUMENTS).optional(),
        })
        .strict(),
    ),
  })
  .strict();

/**
 * What only the embedded engine reads about a tasks module's tasks (a
 * description, and a schema for each positional argument, which list_tasks
 * publishes and start_task_run checks input against), kept outside the
 * module so the module itself stays exactly what Render runs: Render's SDK
 * takes no such options. Looked up as `workflows-mcp.json` in the module's
 * folder, then in each folder above it up to the one holding a package.json
 * (a built module in dist/ finds the file at its project's root). A task the
 * module declares itself (the engine's own `task()` accepts `description`
 * and `input`) is overridden by the file.
 */
export function withTaskMetadata(
  tasks: Map<string, RegisteredTask>,
  moduleFile: string,
): { tasks: Map<string, RegisteredTask>; file?: string } {
  const file = metadataFileFor(moduleFile);
  if (file === undefined) return { tasks };
  const problem = (what: string) => new Error(`${file}: ${what}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw problem(`not readable JSON (${(error as Error).message})`);
  }
  const parsed = Metadata.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw problem(`${issue?.path.join(".") || "the file"}: ${issue?.message}`);
  }
  const described = new Map(tasks);
  for (const [name, entry] of Object.entries(parsed.data.tasks)) {
    const task = tasks.get(name);
    if (!task) {
      throw problem(
        `describes task ${name}, which ${moduleFile} does not define (it defines ${[...tasks.keys()].join(", ")})`,
      );
    }
    described.set(name, {
      ...task,
      ...(entry.description === undefined ? {} : { description: entry.description }),
      ...(entry.input === undefined ? {} : { input: argumentsSchema(entry.input, name, problem) }),
    });
  }
  return { tasks: described, file };
}

/** The positional arguments, one schema each, as the tuple the engine validates and publishes. */
function argumentsSchema(
  schemas: Record<string, unknown>[],
  task: string,
  problem: (what: string) => Error,
): ZodType<unknown[]> {
  const items = schemas.map((schema, index) => {
    try {
      return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    } catch (error) {
      throw problem(
        `tasks.${task}.input.${index}: not a JSON Schema this server can use (${(error as Error).message})`,
      );
    }
  });
  return z.tuple(items as [ZodType, ...ZodType[]]) as unknown as ZodType<unknown[]>;
}

function metadataFileFor(moduleFile: string): string | undefined {
  for (let dir = dirname(moduleFile); ; dir = dirname(dir)) {
    const candidate = join(dir, METADATA_FILE);
    if (existsSync(candidate)) return candidate;
    if (existsSync(join(dir, "package.json")) || dirname(dir) === dir) return undefined;
  }
}
