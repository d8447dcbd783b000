import type { Auditor } from "../audit/auditor.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { ApprovalStore } from "../store/types.js";
import { type ApprovalParts, Approvals } from "./service.js";
import { approvalWebhook } from "./webhook.js";

/** How often each instance expires requests past their time and retries approved runs that did not start. */
const SWEEP_INTERVAL_MS = 30_000;

export interface RunningApprovals {
  approvals: Approvals;
  /** Stops sweeping and waits for the webhook's queue (shutdown). */
  close(): Promise<void>;
}

/**
 * Approval requests as configured (APPROVAL_*), with their webhook and a
 * periodic sweep on every instance (the store lets each request expire once,
 * whichever instance sweeps it); undefined when no task needs approval.
 */
export function createApprovals(
  config: Config,
  parts: {
    store: ApprovalStore;
    backend: ApprovalParts["backend"];
    auditor: Auditor;
    logger: Logger;
    telemetry?: ApprovalParts["telemetry"];
  },
): RunningApprovals | undefined {
  const settings = config.approvals;
  if (!settings) return undefined;
  const webhook = settings.webhookUrl
    ? approvalWebhook(settings.webhookUrl, parts.logger)
    : undefined;
  const approvals = new Approvals(
    {
      policy: settings.policy,
      ttlMinutes: settings.ttlMinutes,
      maxPendingPerCaller: settings.maxPendingPerCaller,
      publicUrl: config.publicUrl,
    },
    { ...parts, ...(webhook ? { webhook } : {}) },
  );
  let sweeping: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    sweeping ??= approvals
      .sweep()
      .catch((error: unknown) =>
        parts.logger.warn({ err: error }, "approval requests could not be swept; retrying later"),
      )
      .finally(() => {
        sweeping = undefined;
      });
  }, SWEEP_INTERVAL_MS);
  timer.unref();
  return {
    approvals,
    async close() {
      clearInterval(timer);
      await sweeping;
      // Announcements still retrying get a moment, not the whole shutdown grace.
      await Promise.race([webhook?.idle(), new Promise((r) => setTimeout(r, 2_000).unref())]);
    },
  };
}
