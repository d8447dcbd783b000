import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace";

/**
 * The sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name (checked
 * at start: settings.ts), the SDK's own samplers assembled as its provider
 * assembles them; one instance decides for every span, the request path's
 * (deferred-tracer.ts) and the SDK tracer's alike.
 */
export function samplerFromEnv(env: Readonly<Record<string, string | undefined>>): Sampler {
  const ratio = () => Number(env.OTEL_TRACES_SAMPLER_ARG?.trim() || "1");
  switch (env.OTEL_TRACES_SAMPLER?.trim() || "parentbased_always_on") {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio());
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio()) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}
