import { Worker } from "node:worker_threads";
import { type Context, diag, TraceFlags } from "@opentelemetry/api";
import type { InstrumentationScope } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace";
import { builtModule } from "../../built-module.js";
import type { OtlpProtocol } from "../settings.js";
import { type SpanRecord, toRecord } from "./span-record.js";

const WORKER = builtModule("./export-worker.js", import.meta.url);

/** Spans posted to the export thread at once, and the longest one waits to be posted. */
const POST_BATCH = 256;
const POST_DELAY_MS = 50;
/**
 * Spans posted and not yet taken by the export thread's processor, beyond
 * which new ones are dropped (counted and reported, as the batch processor
 * reports its own drops): a thread that falls behind costs bounded memory.
 */
const MAX_IN_FLIGHT = 8_192;

/** A post of spans, as JSON (`batch`). */
export interface SpanBatch {
  scopes: InstrumentationScope[];
  spans: SpanRecord[];
}

export type ToExportThread =
  | { type: "spans"; batch: string }
  | { type: "flush" | "shutdown"; id: number };

type FromExportThread = { type: "taken"; count: number } | { type: "done"; id: number };

/**
 * Ends spans on the serving thread and exports them from another: a span
 * processor that posts each ended, sampled span as plain data to a worker
 * thread running the SDK's batch span processor and OTLP exporter
 * (export-worker.ts). Serializing spans for OTLP is most of what tracing
 * costs a request (`npm run bench`); done on the event loop it is taken
 * from the requests, here it runs beside them, as other languages' SDKs
 * export from a thread of their own. Sampling, ids and context stay here.
 */
export class ExportThread implements SpanProcessor {
  readonly #worker: Worker;
  /** The SDK's ended spans (made records of when posted) and the request path's records (spans.ts). */
  #buffer: (ReadableSpan | SpanRecord)[] = [];
  #scopes: InstrumentationScope[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight = 0;
  #dropped = 0;
  #stopped = false;
  #asked = 0;
  readonly #answers = new Map<number, () => void>();

  constructor(protocol: OtlpProtocol, resource: Resource) {
    this.#worker = new Worker(WORKER, { workerData: { protocol, resource: resource.attributes } });
    // The server's stop flushes it (shutdown); it never holds the process open.
    this.#worker.unref();
    this.#worker.on("message", (message: FromExportThread) => {
      if (message.type === "taken") this.#inFlight -= message.count;
      else this.#answer(message.id);
    });
    const gone = (why: string) => {
      if (!this.#stopped) diag.error(`the span export thread stopped (${why}); spans are dropped`);
      this.#stop();
    };
    this.#worker.on("error", (error) => gone(String(error)));
    this.#worker.on("exit", (code) => gone(`exit code ${code}`));
  }

  onStart(_span: Span, _context: Context): void {}

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0) this.#add(span);
  }

  /** A span made as a record already, by the tracer `scope` names. */
  record(record: SpanRecord, scope: InstrumentationScope): void {
    record[14] = this.#scopeOf(scope);
    this.#add(record);
  }

  #add(span: ReadableSpan | SpanRecord): void {
    if (this.#stopped) return;
    if (this.#inFlight + this.#buffer.length >= MAX_IN_FLIGHT) {
      this.#dropped++;
      return;
    }
    this.#buffer.push(span);
    if (this.#buffer.length >= POST_BATCH) this.#post();
    else this.#timer ??= setTimeout(() => this.#post(), POST_DELAY_MS).unref();
  }

  forceFlush(): Promise<void> {
    this.#post();
    return this.#ask("flush");
  }

  async shutdown(): Promise<void> {
    this.#post();
    await this.#ask("shutdown");
    this.#stop();
    await this.#worker.terminate();
  }

  /** Scopes travel once per post, spans by index (one tracer makes nearly all of them). */
  #scopeOf(scope: InstrumentationScope): number {
    const known = this.#scopes.indexOf(scope);
    return known >= 0 ? known : this.#scopes.push(scope) - 1;
  }

  #post(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#dropped > 0) {
      diag.warn(`Dropped ${this.#dropped} spans: the span export thread is behind`);
      this.#dropped = 0;
    }
    if (this.#buffer.length === 0 || this.#stopped) return;
    const spans = this.#buffer.map((span) =>
      Array.isArray(span) ? span : toRecord(span, this.#scopeOf(span.instrumentationScope)),
    );
    const scopes = this.#scopes.map(({ name, version, schemaUrl }) => ({
      name,
      ...(version === undefined ? {} : { version }),
      ...(schemaUrl === undefined ? {} : { schemaUrl }),
    }));
    this.#buffer = [];
    this.#scopes = [];
    this.#inFlight += spans.length;
    // One string: structured clone of the records costs the serving thread several times more.
    this.#worker.postMessage({ type: "spans", batch: JSON.stringify({ scopes, spans }) });
  }

  #ask(type: "flush" | "shutdown"): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    const id = ++this.#asked;
    return new Promise((resolve) => {
      this.#answers.set(id, resolve);
      this.#worker.postMessage({ type, id } satisfies ToExportThread);
    });
  }

  #answer(id: number): void {
    this.#answers.get(id)?.();
    this.#answers.delete(id);
  }

  #stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#buffer = [];
    for (const resolve of this.#answers.values()) resolve();
    this.#answers.clear();
  }
}
