import type { Auditor } from "../audit/auditor.js";
import type { Logger } from "../logger.js";
import type { AuditTrail } from "../store/types.js";
import type { WorkflowBackend } from "../workflows/backend.js";
import type { Caller, ToolRequirement } from "./tool.js";

/** What one request's handlers share: who is calling, and the server's parts. */
export interface RequestScope {
  caller: Caller;
  backend: WorkflowBackend;
  auditor: Auditor;
  audit: AuditTrail;
  logger: Logger;
  catalogue: readonly { name: string; requires: ToolRequirement }[];
}
