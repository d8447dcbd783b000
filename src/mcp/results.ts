import type { CallToolResult } from "@modelcontextprotocol/server";
import type { ErrorCode } from "../error-codes.js";
import { WorkflowError } from "../workflows/errors.js";
import { worded } from "./wording.js";

/** The `_meta` key under which a tool error carries its machine-readable facts. */
const ERROR_META_KEY = "workflows-mcp/error";

/** What an AI client can act on without parsing prose. */
export interface ErrorFacts {
  /** Stable: match on it (ERR_RUN_NOT_FOUND, ERR_LIMIT_REACHED, …). */
  code: ErrorCode;
  /** Whether the same call may succeed later, unchanged. */
  retryable: boolean;
  /** When a retry is expected to succeed, where known. */
  retryAfterSeconds?: number;
}

export function toolResult(
  structuredContent: Record<string, unknown>,
  text: string,
): CallToolResult {
  return { structuredContent, content: [{ type: "text", text }] };
}

export function toolError(message: string, facts: ErrorFacts): CallToolResult {
  return {
    isError: true,
    content: [{ type: "text", text: message }],
    _meta: { [ERROR_META_KEY]: facts },
  };
}

/** A backend's error as the tool error a client can act on. */
export function workflowToolError(error: WorkflowError): CallToolResult {
  return toolError(worded(error.parts), {
    code: error.code,
    retryable: error.retryable,
    ...(error.retryAfterSeconds === undefined
      ? {}
      : { retryAfterSeconds: error.retryAfterSeconds }),
  });
}

export const isWorkflowError = (error: unknown): error is WorkflowError =>
  error instanceof WorkflowError;
