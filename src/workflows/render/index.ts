import { isLoopbackUrl } from "../../http/loopback.js";
import type { Logger } from "../../logger.js";
import type { RunOwnership } from "../../store/types.js";
import { NO_TELEMETRY, type RenderTelemetry } from "../../telemetry/telemetry.js";
import type { WorkflowBackend } from "../backend.js";
import { RunOwners } from "../owners/run-owners.js";
import { RenderBackend } from "./backend.js";
import { type BudgetOptions, DEFAULT_BUDGET, RequestBudget } from "./budget.js";
import { DEFAULT_FOLLOW_LIMITS, type FollowLimits } from "./followers.js";
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
  /** Who started which run: shared by every instance (Render's runs carry no owner). */
  ownership: RunOwnership;
  http?: Partial<HttpOptions>;
  /** The pace of calls to Render with the key; defaults to 80% of Render's published limits. */
  budget?: Partial<BudgetOptions>;
  /** How many runs are followed with event streams, and how often followers may read runs. */
  follow?: Partial<FollowLimits>;
  /** MAX_ACTIVE_RUNS_PER_CALLER; 0: no bound. */
  maxActiveRunsPerCaller?: number;
  /** Each API request in a span, counted by status; the pacing's budget observed. */
  telemetry?: RenderTelemetry;
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
  const telemetry = options.telemetry ?? NO_TELEMETRY.render;
  const budget = new RequestBudget({ ...DEFAULT_BUDGET, ...options.budget });
  telemetry.observe(() => budget.remaining());
  const http = new RenderHttp(
    apiUrl,
    options.apiKey,
    options.logger,
    { ...DEFAULT_HTTP_OPTIONS, ...options.http },
    budget,
    telemetry,
  );
  const workflow = await resolveWorkflow(http, options.workflow);
  const backend = new RenderBackend(
    http,
    workflow,
    new RunOwners(options.ownership, options.logger),
    options.logger,
    {
      follow: { ...DEFAULT_FOLLOW_LIMITS, ...options.follow },
      ...(options.maxActiveRunsPerCaller === undefined
        ? {}
        : { maxActiveRunsPerCaller: options.maxActiveRunsPerCaller }),
    },
  );
  if (workflow.devServer) {
    options.logger.warn(
      { apiUrl },
      "no /workflows endpoint: serving the Render CLI's local dev server (RENDER_WORKFLOW taken as the slug; logs unavailable)",
    );
  }
  return backend;
}
