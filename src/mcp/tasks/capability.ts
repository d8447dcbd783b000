import { hasTaskClientCapabilityV2 } from "@modelcontextprotocol/ext-tasks/core/v2";
import type { ServerContext } from "@modelcontextprotocol/server";

/** True when this request's client declared the Tasks extension (capabilities travel with every 2026-07-28 request). */
export function declaresTasks(ctx: ServerContext): boolean {
  // The SDK lifts the envelope out of `_meta`; the extension reads it from request params.
  return hasTaskClientCapabilityV2({ _meta: ctx.mcpReq.envelope ?? {} });
}
