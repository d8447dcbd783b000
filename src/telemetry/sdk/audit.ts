import type { Auditor } from "../../audit/auditor.js";
import type { AuditEvent } from "../../store/types.js";

/** Every audit event carries the trace id of the request that caused it (the one running now). */
export function auditedWithTraceIds(auditor: Auditor, traceId: () => string | undefined): Auditor {
  const traced = (event: AuditEvent): AuditEvent => {
    const id = event.traceId ?? traceId();
    return id === undefined ? event : { ...event, traceId: id };
  };
  return {
    ...auditor,
    record: (event) => auditor.record(traced(event)),
    refusal: (event) => auditor.refusal(traced(event)),
  };
}
