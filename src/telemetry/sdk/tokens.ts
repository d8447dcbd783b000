import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import { errorMessage } from "../../error-message.js";
import type { TokenTelemetry } from "../telemetry.js";
import { Attr } from "./names.js";

/**
 * Fetching the issuer's metadata or keys, each a span of its own: a fetch
 * serves every verification waiting for it (and most are refreshes in the
 * background), so it belongs to none of them.
 */
export function tokenTelemetry(tracer: Tracer): TokenTelemetry {
  return {
    async fetch(what, url, fetch) {
      const span = tracer.startSpan(
        what === "keys" ? "fetch issuer keys" : "discover issuer metadata",
        { kind: SpanKind.CLIENT, attributes: { [Attr.urlFull]: url } },
        ROOT_CONTEXT,
      );
      try {
        return await fetch();
      } catch (error) {
        span.setAttribute(Attr.errorType, error instanceof Error ? error.name : "_OTHER");
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error).slice(0, 256) });
        throw error;
      } finally {
        span.end();
      }
    },
  };
}
