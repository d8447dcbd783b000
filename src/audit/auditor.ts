import type { Logger } from "../logger.js";
import type { AuditEvent, AuditTrail } from "../store/types.js";

/**
 * Outcomes that changed something: the only events stored. Anything else —
 * a refusal, a failed start, a cancel of a run that had already finished or
 * that the caller cannot see — changes nothing and can be repeated at will,
 * so it goes to the log only: no caller can fill the database by repeating
 * a call that does nothing.
 */
const STATE_CHANGES: ReadonlySet<string> = new Set([
  "started",
  "canceled",
  "approval_requested",
  "approval_approved",
  "approval_denied",
  "approval_expired",
  "approval_canceled",
]);

/**
 * Writes audit events: every one into the log (one JSON line, msg "audit",
 * the stable field names of AuditEvent), and those of state changes into the
 * store as well, where `list_audit_events` finds them.
 */
export interface Auditor {
  /** A call that ran: stored when its outcome changed state (awaited: the answer follows it). */
  record(event: AuditEvent): Promise<void>;
  /** A request refused before anything ran (401, 403): logged only. */
  refusal(event: AuditEvent): void;
}

export function createAuditor(trail: AuditTrail, logger: Logger): Auditor {
  return {
    async record(event) {
      logger.info({ audit: event }, "audit");
      if (!STATE_CHANGES.has(event.outcome)) return;
      try {
        await trail.appendAuditEvent(event);
      } catch (error) {
        // The state change has happened; the log line above still records it.
        logger.error({ err: error, audit: event }, "audit event not stored");
      }
    },
    refusal(event) {
      logger.info({ audit: event }, "audit");
    },
  };
}
