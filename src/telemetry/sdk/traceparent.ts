import {
  type Context,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

/**
 * A context as a W3C traceparent and back, for work that continues a span
 * later and elsewhere: the engine records it with a run, and the run's
 * attempts (perhaps after a restart) are its children.
 */
const w3c = new W3CTraceContextPropagator();

export function traceparentOf(of: Context = context.active()): string | undefined {
  const carrier: Record<string, string> = {};
  w3c.inject(of, carrier, defaultTextMapSetter);
  return carrier.traceparent;
}

export const contextOf = (traceparent: string | undefined): Context =>
  traceparent === undefined
    ? ROOT_CONTEXT
    : w3c.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
