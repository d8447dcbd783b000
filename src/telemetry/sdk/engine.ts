import { SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import type { EngineTelemetry } from "../telemetry.js";
import type { Instruments } from "./instruments.js";
import { Attr } from "./names.js";
import { contextOf, traceparentOf } from "./traceparent.js";

/**
 * The embedded engine's attempts, each a span from the moment it gets a
 * thread to its outcome, a child of the span that started its run (recorded
 * with the run, so retries and runs resumed after a restart continue it);
 * a subtask's run continues its parent's attempt. Root runs finished are
 * counted by task and status, and the attempts waiting and running are read
 * when metrics are collected.
 */
export function engineTelemetry(tracer: Tracer, instruments: Instruments): EngineTelemetry {
  return {
    attempt({ id, task, attempt, parent }) {
      const span = tracer.startSpan(
        `attempt ${task}`,
        {
          kind: SpanKind.INTERNAL,
          attributes: { [Attr.task]: task, [Attr.runId]: id, [Attr.attempt]: attempt },
        },
        contextOf(parent),
      );
      return {
        traceparent: traceparentOf(trace.setSpan(contextOf(parent), span)),
        end(outcome) {
          span.setAttribute(Attr.attemptOutcome, outcome);
          if (outcome === "failed") {
            span.setAttribute(Attr.errorType, "attempt_failed");
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
        },
      };
    },
    runFinished(task, status) {
      instruments.runsFinished.add(1, { [Attr.task]: task, [Attr.runStatus]: status });
    },
    observe: (stats) => instruments.observeEngine(stats),
  };
}
