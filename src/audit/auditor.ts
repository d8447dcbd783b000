import type { Logger } from "../logger.js";
import type { AuditEvent, AuditTrail } from "../store/types.js";

/**
 * Writes audit events: every one into the log (one JSON line, msg "audit",
 * the stable field names of AuditEvent), and state changes into the store as
 * well, where `list_audit_events` finds them. Refusals (401, 403) go to the
 * log only: they change nothing, and an unauthenticated flood must not be
 * able to fill the database.
 */
export interface Auditor {
  stateChange(event: AuditEvent): Promise<void>;
  refusal(event: AuditEvent): void;
}

export function createAuditor(trail: AuditTrail, logger: Logger): Auditor {
  return {
    async stateChange(event) {
      logger.info({ audit: event }, "audit");
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
