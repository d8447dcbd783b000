import { SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import { errorMessage } from "../../error-message.js";
import type { TokenTelemetry } from "../telemetry.js";
import type { Instruments } from "./instruments.js";
import { Attr } from "./names.js";

/**
 * What a token's verification did: answered from the verified-token cache
 * (on the verification's span, and counted), or fetched the issuer's
 * metadata or keys (a span of its own beneath it).
 */
export function tokenTelemetry(tracer: Tracer, instruments: Instruments): TokenTelemetry {
  return {
    cache(outcome) {
      trace.getActiveSpan()?.setAttribute(Attr.tokenCache, outcome);
      instruments.tokenVerified(outcome);
    },
    async fetch(what, url, fetch) {
      const span = tracer.startSpan(
        what === "keys" ? "fetch issuer keys" : "discover issuer metadata",
        { kind: SpanKind.CLIENT, attributes: { [Attr.urlFull]: url } },
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
