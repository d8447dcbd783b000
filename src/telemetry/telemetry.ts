import type { AuthInfo, JSONRPCResponse, McpServerFactory } from "@modelcontextprotocol/server";
import type { Request, RequestHandler } from "express";
import type { WorkflowBackend } from "../workflows/backend.js";
import type { TaskRunStatus } from "../workflows/run.js";
import type { TelemetrySettings } from "./settings.js";

/**
 * What the server tells OpenTelemetry, in the server's own words: every part
 * that has something to report calls one of these. Off (no OTLP endpoint),
 * it is NO_TELEMETRY: each call runs what it wraps and nothing else, and no
 * OpenTelemetry package is loaded at all (src/telemetry/sdk/ is imported
 * only when on). How each call becomes spans and metrics: src/telemetry/sdk/.
 */
export interface Telemetry {
  /** App-level, before everything else: each /mcp request's trace, on `req.trace` (none when off). */
  readonly requests: readonly RequestHandler[];
  /** After classification: a record per JSON-RPC message (its span, made later), which handlers find by their request (none when off). */
  messages(knownTools: ReadonlySet<string>): RequestHandler[];
  /** Verifying the request's access token, in a span of its own; `verify` says whether the cache answered. */
  verification<T>(
    req: Request,
    verify: (observe: (cache: "hit" | "miss") => void) => Promise<T>,
  ): Promise<T>;
  /** The gate's decision on the request's message `index`, in a span under that message's. */
  authorization<T extends { allowed: boolean; missing?: readonly string[] }>(
    req: Request,
    index: number,
    decide: () => T,
  ): T;
  /** A message the fast path answered (the per-request servers' answers are observed by `observed`). */
  answered(req: Request, response: JSONRPCResponse): void;
  /** The per-request servers, with their answers observed. */
  observed(factory: McpServerFactory): McpServerFactory;
  /** The request's trace id (its log line, a refusal's audit event); undefined when off. */
  traceIdOf(req: Request): string | undefined;
  /**
   * What a handler's call (its request's `auth`, its message's id) works in:
   * the trace id its audit events and runs record, and the backend whose
   * calls are spans under its message's (runs started counted by task).
   */
  call(
    auth: AuthInfo | undefined,
    id: unknown,
    backend: WorkflowBackend,
  ): { traceId?: string; backend: WorkflowBackend };
  /** The backend call running now as a W3C traceparent: a run's attempts continue it. */
  traceparent(): string | undefined;
  readonly tokens: TokenTelemetry;
  readonly engine: EngineTelemetry;
  readonly render: RenderTelemetry;
  /**
   * Approval requests by status, as the metric
   * `workflows_mcp.approvals.requests`.
   */
  approvalRequest(status: string): void;
  /** Exports what is buffered, then stops (SIGTERM). */
  shutdown(): Promise<void>;
}

/** The request's trace, for its log line (`req.trace`, set by `requests`). */
export interface RequestTrace {
  /** Its single message's trace when that message named its own (`_meta`), else the HTTP request's. */
  traceId(): string | undefined;
}

export interface TokenTelemetry {
  /** Fetching the issuer's metadata or keys, in a span. */
  fetch<T>(what: "metadata" | "keys", url: string, fetch: () => Promise<T>): Promise<T>;
}

/** An engine attempt's span, from its start on a thread to its end. */
export interface AttemptSpan {
  /** The attempt's own context, which subtask runs it starts continue. */
  readonly traceparent: string | undefined;
  end(outcome: "succeeded" | "failed" | "stopped"): void;
}

export interface EngineTelemetry {
  /** An attempt starts; `parent` is the traceparent its run recorded when it was started. */
  attempt(run: { id: string; task: string; attempt: number; parent?: string }): AttemptSpan;
  /** A root run reached a terminal status. */
  runFinished(task: string, status: TaskRunStatus): void;
  /** Attempts waiting for a thread and holding one, read when metrics are collected. */
  observe(stats: () => { queued: number; held: number }): void;
}

/** One HTTP request to Render's API (each retry is one), from sending to its answer. */
export interface RenderCall {
  end(outcome: { status: number } | { failure: string }): void;
}

export interface RenderTelemetry {
  /** A request to `host` (the API's); `retry`: 0 for the first attempt, 1 for the first retry, … */
  call(method: string, host: string, path: string, retry: number): RenderCall;
  /** The requests the server's pacing lets through now, by kind, read when metrics are collected. */
  observe(budget: () => { read: number; write: number }): void;
}

const none = () => undefined;
const NO_ATTEMPT: AttemptSpan = { traceparent: undefined, end: none };
const NO_CALL: RenderCall = { end: none };

/** Telemetry off: each call runs what it wraps, nothing is recorded, nothing is loaded. */
export const NO_TELEMETRY: Telemetry = {
  requests: [],
  messages: () => [],
  verification: (_req, verify) => verify(none),
  authorization: (_req, _index, decide) => decide(),
  answered: none,
  observed: (factory) => factory,
  traceIdOf: none,
  call: (_auth, _id, backend) => ({ backend }),
  traceparent: none,
  tokens: { fetch: (_what, _url, fetch) => fetch() },
  engine: { attempt: () => NO_ATTEMPT, runFinished: none, observe: none },
  render: { call: () => NO_CALL, observe: none },
  approvalRequest: none,
  shutdown: async () => {},
};

/** What the server is, for the exported resource (OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win). */
export interface ServiceInfo {
  name: string;
  version: string;
  /** The backend served: spans name it, and how context reaches Render's API calls depends on it. */
  backend: "local" | "render";
}

/**
 * Telemetry as configured: off unless an OTLP endpoint is set, and then the
 * SDK, loaded here and nowhere else.
 */
export async function startTelemetry(
  settings: TelemetrySettings,
  service: ServiceInfo,
): Promise<Telemetry> {
  if (!settings.traces && !settings.metrics) return NO_TELEMETRY;
  const { startSdk } = await import("./sdk/start.js");
  return startSdk(settings, service);
}
