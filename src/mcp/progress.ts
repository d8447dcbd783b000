import type { ServerContext } from "@modelcontextprotocol/server";
import type { TaskRun } from "../workflows/run.js";

/**
 * Turns each change of a run into `notifications/progress` on the request's
 * own response stream, when the client sent a progressToken; otherwise
 * nothing is sent (and the response stays a single JSON body).
 */
export function progressOf(ctx: ServerContext): ((run: TaskRun) => void) | undefined {
  const progressToken = ctx.mcpReq._meta?.progressToken;
  if (progressToken === undefined) return undefined;
  let progress = 0;
  return (run) => {
    progress += 1;
    const attempt = run.attempts.length > 1 ? ` (attempt ${run.attempts.length})` : "";
    ctx.mcpReq
      .notify({
        method: "notifications/progress",
        params: { progressToken, progress, message: `${run.id}: ${run.status}${attempt}` },
      })
      .catch(() => {
        // the client went away; the wait ends with its signal
      });
  };
}
