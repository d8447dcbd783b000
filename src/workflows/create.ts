import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { WorkflowBackend } from "./backend.js";
import { createLocalBackend } from "./local/index.js";
import { createRenderBackend } from "./render/index.js";

export function createBackend(
  config: Config["workflows"],
  logger: Logger,
): Promise<WorkflowBackend> {
  switch (config.backend) {
    case "local":
      return createLocalBackend({ dbPath: config.dbPath, tasksModule: config.tasksModule, logger });
    case "render":
      return createRenderBackend({
        apiUrl: config.apiUrl,
        apiKey: config.apiKey,
        workflow: config.workflow,
        logger,
      });
  }
}
