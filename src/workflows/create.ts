import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { RunOwnership } from "../store/types.js";
import type { Telemetry } from "../telemetry/telemetry.js";
import type { WorkflowBackend } from "./backend.js";
import { createLocalBackend } from "./local/index.js";
import { createRenderBackend } from "./render/index.js";

export interface BackendDeps {
  logger: Logger;
  /** Where a backend whose runs carry no owner (Render) records who started them. */
  ownership: RunOwnership;
  /** Engine attempts and Render API requests in spans, and their metrics. */
  telemetry?: Telemetry;
}

export function createBackend(
  config: Config["workflows"],
  { logger, ownership, telemetry }: BackendDeps,
): Promise<WorkflowBackend> {
  switch (config.backend) {
    case "local":
      return createLocalBackend({
        dbPath: config.dbPath,
        tasksModule: config.tasksModule,
        logger,
        limits: config.limits,
        ...(telemetry ? { telemetry } : {}),
      });
    case "render":
      return createRenderBackend({
        apiUrl: config.apiUrl,
        apiKey: config.apiKey,
        workflow: config.workflow,
        logger,
        ownership,
        maxActiveRunsPerCaller: config.maxActiveRunsPerCaller,
        ...(telemetry ? { telemetry: telemetry.render } : {}),
      });
  }
}
