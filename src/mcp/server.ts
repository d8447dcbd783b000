import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  type ServerNotification,
  type ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import { missingScopes } from "../auth/scope-check.js";
import type { Logger } from "../logger.js";
import type { WorkflowBackend } from "../workflows/backend.js";
import { WorkflowError } from "../workflows/errors.js";
import type { TaskRun } from "../workflows/run.js";
import type { Caller, ToolContext, ToolDefinition } from "./tool.js";

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface McpServerOptions {
  name: string;
  version: string;
  tools: readonly ToolDefinition[];
  backend: WorkflowBackend;
  logger: Logger;
}

/** `_meta` key under which each tool lists its required scopes in tools/list. */
const REQUIRED_SCOPES_META = "requiredScopes";

/**
 * A fresh MCP server for one HTTP request (stateless Streamable HTTP): the
 * tools are registered with their scopes in `_meta` and in their description.
 */
export function createMcpServer({
  name,
  version,
  tools,
  backend,
  logger,
}: McpServerOptions): McpServer {
  const server = new McpServer(
    { name, version },
    {
      capabilities: { tools: {} },
      instructions:
        "Trigger and inspect workflow task runs. Start with list_tasks, run one with start_task_run, follow it with get_task_run (wait_seconds to wait) and get_task_run_logs.",
    },
  );
  const catalogue = tools.map(({ name, scopes }) => ({ name, scopes }));

  for (const tool of tools) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: `${tool.description}\n\nRequired scopes: ${tool.scopes.length > 0 ? tool.scopes.join(", ") : "none beyond a valid token"}.`,
        inputSchema: tool.input,
        outputSchema: tool.output,
        annotations: { title: tool.title, ...tool.annotations },
        _meta: { [REQUIRED_SCOPES_META]: [...tool.scopes] },
      },
      async (input: unknown, extra: Extra): Promise<CallToolResult> => {
        const caller = callerOf(extra);
        // The HTTP scope gate has already answered 403; this keeps a tool from
        // ever running without its scopes, whatever the transport.
        const missing = missingScopes(tool.scopes, caller.scopes);
        if (missing.length > 0) {
          throw new McpError(
            ErrorCode.InvalidRequest,
            `insufficient_scope: missing ${missing.join(" ")}`,
          );
        }
        const context: ToolContext = {
          caller,
          backend,
          catalogue,
          signal: extra.signal,
          waitForRun: (id, seconds) => waitWithProgress(backend, id, seconds, extra),
        };
        try {
          const result = await tool.handler(input as never, context);
          return {
            structuredContent: result.structuredContent as Record<string, unknown>,
            content: [{ type: "text", text: result.text }],
          };
        } catch (error) {
          if (error instanceof WorkflowError) {
            return { isError: true, content: [{ type: "text", text: error.message }] };
          }
          logger.error({ err: error, tool: tool.name }, "tool failed");
          return {
            isError: true,
            content: [
              {
                type: "text",
                text: `${tool.name} failed unexpectedly; the server logged the details`,
              },
            ],
          };
        }
      },
    );
  }
  return server;
}

function callerOf(extra: Extra): Caller {
  const auth = extra.authInfo;
  return {
    subject: String(auth?.extra?.subject ?? ""),
    issuer: String(auth?.extra?.issuer ?? ""),
    clientId: auth?.clientId ?? "",
    scopes: auth?.scopes ?? [],
    expiresAt: auth?.expiresAt,
  };
}

/** Waits for a run, turning each change into `notifications/progress` when a progressToken was sent. */
async function waitWithProgress(
  backend: WorkflowBackend,
  id: string,
  seconds: number,
  extra: Extra,
): Promise<TaskRun> {
  const progressToken = extra._meta?.progressToken;
  let progress = 0;
  return backend.waitForRun(id, {
    timeoutMs: seconds * 1000,
    signal: extra.signal,
    onChange: (run) => {
      if (progressToken === undefined) return;
      progress += 1;
      const attempt = run.attempts.length > 1 ? ` (attempt ${run.attempts.length})` : "";
      extra
        .sendNotification({
          method: "notifications/progress",
          params: { progressToken, progress, message: `${run.id}: ${run.status}${attempt}` },
        })
        .catch(() => {
          // the client went away; the wait ends with its signal
        });
    },
  });
}
