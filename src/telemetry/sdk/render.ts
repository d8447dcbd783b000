import { SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import type { RenderTelemetry } from "../telemetry.js";
import type { Instruments } from "./instruments.js";
import { Attr } from "./names.js";

/**
 * Each request to Render's API, every retry its own CLIENT span (after the
 * HTTP conventions: `http.request.resend_count`), named by the path with its
 * id left out; counted by status, or by why no status came back.
 */
export function renderTelemetry(tracer: Tracer, instruments: Instruments): RenderTelemetry {
  return {
    call(method, host, path, retry) {
      const template = templateOf(path);
      const span = tracer.startSpan(`${method} ${template}`, {
        kind: SpanKind.CLIENT,
        attributes: {
          [Attr.httpMethod]: method,
          [Attr.urlTemplate]: template,
          [Attr.serverAddress]: host,
          ...(retry > 0 ? { [Attr.httpResendCount]: retry } : {}),
        },
      });
      return {
        end(outcome) {
          if ("status" in outcome) span.setAttribute(Attr.httpStatus, outcome.status);
          const failed =
            "failure" in outcome
              ? outcome.failure
              : outcome.status >= 400
                ? String(outcome.status)
                : undefined;
          if (failed !== undefined) {
            span.setAttribute(Attr.errorType, failed);
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
          instruments.renderRequests.add(1, {
            [Attr.httpMethod]: method,
            ...("status" in outcome
              ? { [Attr.httpStatus]: outcome.status }
              : { [Attr.errorType]: outcome.failure }),
          });
        },
      };
    },
    observe: (budget) => instruments.observeRenderBudget(budget),
  };
}

/** `/task-runs/trn-…/…` → `/task-runs/{id}/…`: Render's paths hold an id after the collection. */
function templateOf(path: string): string {
  const [, collection, id, ...rest] = path.split("/");
  if (id === undefined || id === "events") return path;
  return ["", collection, "{id}", ...rest].join("/");
}
