import type { Logger } from "../logger.js";
import type { Approval } from "./approval.js";

/** Attempts per announcement, and the wait before each retry (doubling). */
const ATTEMPTS = 4;
const FIRST_RETRY_MS = 1_000;
/** Each attempt's limit: a receiver that hangs costs no more. */
const TIMEOUT_MS = 5_000;
/** Announcements waiting to be delivered; past it the oldest are dropped (and logged). */
const MAX_QUEUED = 200;

export interface ApprovalWebhook {
  /** Queues the announcement of a request's state; never waits, never throws. */
  announce(approval: Approval): void;
  /** Resolves once what is queued was delivered or given up (shutdown, tests). */
  idle(): Promise<void>;
}

/**
 * APPROVAL_WEBHOOK_URL: a POST of JSON on each new request and each
 * decision — a Slack-compatible `text` line and an `approval` object (id,
 * task, requester, status, page URL, times; never the task's input, which may
 * hold secrets). Delivered in the background, one at a time, with bounded
 * retries and backoff: a failing receiver is logged, and never delays or
 * fails the request that caused the announcement.
 */
export function approvalWebhook(
  url: string,
  logger: Logger,
  options: { firstRetryMs?: number } = {},
): ApprovalWebhook {
  const firstRetryMs = options.firstRetryMs ?? FIRST_RETRY_MS;
  const queue: Approval[] = [];
  let draining: Promise<void> | undefined;

  const deliver = async (approval: Approval) => {
    const body = JSON.stringify(payloadOf(approval));
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const failure = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(TIMEOUT_MS),
      }).then(
        async (res) => {
          await res.arrayBuffer().catch(() => undefined);
          return res.ok ? undefined : `HTTP ${res.status}`;
        },
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      );
      if (failure === undefined) return;
      logger.warn(
        { approval: approval.id, status: approval.status, attempt, reason: failure.slice(0, 200) },
        attempt < ATTEMPTS
          ? "approval webhook failed; retrying"
          : "approval webhook failed; gave up",
      );
      if (attempt < ATTEMPTS) {
        await new Promise((resolve) => setTimeout(resolve, firstRetryMs * 2 ** (attempt - 1)));
      }
    }
  };

  const drain = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await deliver(next);
    draining = undefined;
  };

  return {
    announce(approval) {
      if (queue.length >= MAX_QUEUED) {
        const dropped = queue.shift();
        logger.warn(
          { approval: dropped?.id },
          "approval webhook queue full; an announcement was dropped",
        );
      }
      queue.push(approval);
      draining ??= drain();
    },
    async idle() {
      while (draining) await draining;
    },
  };
}

/** What the receiver gets: a line a chat shows, and the request's facts without its input. */
export function payloadOf(approval: Approval) {
  const who = approval.requestedBy.subject;
  const text =
    approval.status === "pending"
      ? `${who} asks to run ${approval.task}; a decision is needed by ${approval.expiresAt}: ${approval.url}`
      : `Run of ${approval.task} asked by ${who}: ${approval.status}${approval.decidedBy ? ` by ${approval.decidedBy.subject}` : ""}${approval.reason ? ` (${approval.reason})` : ""}: ${approval.url}`;
  return { text, approval };
}
