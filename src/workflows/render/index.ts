import { isLoopbackUrl } from "../../http/loopback.js";
import type { Logger } from "../../logger.js";
import type { WorkflowBackend } from "../backend.js";
import { RenderBackend } from "./backend.js";
import { DEFAULT_HTTP_OPTIONS, type HttpOptions, RenderHttp } from "./http.js";
import { resolveWorkflow } from "./workflow.js";

export interface RenderBackendOptions {
  /** e.g. https://api.render.com/v1, or the CLI's dev server http://localhost:8120/v1 */
  apiUrl: string;
  /** Optional only for a loopback API (the CLI's dev server needs none). */
  apiKey?: string;
  /** RENDER_WORKFLOW: the served workflow's slug or id. */
  workflow: string;
  logger: Logger;
  http?: Partial<HttpOptions>;
}

/**
 * Serves one Render workflow, resolved once here. Rejects with a one-line
 * message naming the variable to fix when it cannot be.
 */
export async function createRenderBackend(options: RenderBackendOptions): Promise<WorkflowBackend> {
  const apiUrl = options.apiUrl.replace(/\/+$/, "");
  if (options.apiKey && new URL(apiUrl).protocol !== "https:" && !isLoopbackUrl(apiUrl)) {
    throw new Error(
      `RENDER_API_URL: must be https:// (or loopback) so RENDER_API_KEY does not travel in clear text`,
    );
  }
  const http = new RenderHttp(apiUrl, options.apiKey, options.logger, {
    ...DEFAULT_HTTP_OPTIONS,
    ...options.http,
  });
  const workflow = await resolveWorkflow(http, options.workflow);
  const backend = new RenderBackend(http, workflow, options.logger);
  if (workflow.devServer) {
    options.logger.warn(
      { apiUrl },
      "no /workflows endpoint: serving the Render CLI's local dev server (RENDER_WORKFLOW taken as the slug; logs unavailable)",
    );
  }
  return backend;
}
