import type { ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import type { Scope } from "../auth/scopes.js";
import type { WorkflowBackend } from "../workflows/backend.js";
import type { TaskRun } from "../workflows/run.js";

/** Who is calling, from the verified access token. */
export interface Caller {
  subject: string;
  clientId: string;
  issuer: string;
  scopes: string[];
  /** Seconds since the epoch. */
  expiresAt?: number;
}

/** What a tool may use. Tools never see HTTP, tokens or the MCP transport. */
export interface ToolContext {
  caller: Caller;
  backend: WorkflowBackend;
  /** Every tool and the scopes it requires (for whoami). */
  catalogue: readonly { name: string; scopes: readonly Scope[] }[];
  /** Aborted when the client goes away or cancels the request. */
  signal: AbortSignal;
  /**
   * Waits up to `seconds` for the run to finish, reporting each change as an
   * MCP progress notification when the client asked for progress.
   */
  waitForRun(id: string, seconds: number): Promise<TaskRun>;
}

export interface ToolResult<O extends z.ZodRawShape> {
  structuredContent: z.infer<z.ZodObject<O>>;
  /** A short summary for clients that show text. */
  text: string;
}

/** One MCP tool: a small declarative unit the server wires. */
export interface ToolDefinition<
  I extends z.ZodRawShape = z.ZodRawShape,
  O extends z.ZodRawShape = z.ZodRawShape,
> {
  name: string;
  title: string;
  description: string;
  /** The scopes a token must carry for this tool to run; empty: any valid token. */
  scopes: readonly Scope[];
  annotations: Required<
    Pick<ToolAnnotations, "readOnlyHint" | "destructiveHint" | "idempotentHint" | "openWorldHint">
  >;
  input: I;
  output: O;
  handler(input: z.infer<z.ZodObject<I>>, context: ToolContext): Promise<ToolResult<O>>;
}

/** The annotations of a tool that only reads from the workflow engine. */
export const READ_ONLY = {
  readOnlyHint: true,
  destructiveHint: false,
  idempotentHint: true,
  openWorldHint: true,
} as const;

export function defineTool<I extends z.ZodRawShape, O extends z.ZodRawShape>(
  definition: ToolDefinition<I, O>,
): ToolDefinition<I, O> {
  return definition;
}
