import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OtlpReceiver, startOtlpReceiver } from "./helpers/otlp-receiver.js";
import { postMcp, type Stack, startStack, toolCall } from "./helpers/stack.js";

/**
 * Issue 20, what the cost work changed: a request's spans are made after it
 * is answered, in batches, and exported from a thread of their own
 * (src/telemetry/sdk/spans.ts, export-thread.ts). Nothing may be lost on
 * the way: every call's spans arrive, whole, and a stop exports what was
 * still waiting — here with the batch processor's timer set far beyond the
 * test, so only the stop can have sent them.
 */

const CALLS = 40;
const SPANS_PER_CALL = ["authorize", "list tasks", "tools/call list_tasks", "verify token"];

describe("span delivery from the export thread", () => {
  let receiver: OtlpReceiver;
  let stack: Stack;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: "600000",
      OTEL_METRIC_EXPORT_INTERVAL: "600000",
    });
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  it(`${CALLS} calls at once: a stop exports every span of every call, each under its own client's trace`, async () => {
    const token = await stack.issuer.sign({ scope: "workflows:read" });
    const clients = Array.from({ length: CALLS }, () => ({
      traceId: randomBytes(16).toString("hex"),
      spanId: randomBytes(8).toString("hex"),
    }));
    const answers = await Promise.all(
      clients.map((client, i) =>
        postMcp(stack.server.url, toolCall("list_tasks", {}, i + 1), {
          authorization: `Bearer ${token}`,
          "mcp-protocol-version": "2025-11-25",
          traceparent: `00-${client.traceId}-${client.spanId}-01`,
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(clients.map(() => 200));
    // Fewer spans than one export's batch, and its timer far off: nothing has been sent yet.
    expect(receiver.spans).toEqual([]);

    await stack.server.stop();
    for (const client of clients) {
      const spans = receiver.spans.filter((s) => s.traceId === client.traceId);
      expect(spans.map((s) => s.name).sort()).toEqual(SPANS_PER_CALL);
      const server = spans.find((s) => s.name === "tools/call list_tasks");
      expect(server?.parentSpanId).toBe(client.spanId);
      for (const step of spans.filter((s) => s !== server)) {
        expect(step.parentSpanId).toBe(server?.spanId);
      }
    }
    const ours = new Set(clients.map((c) => c.traceId));
    const calls = receiver.spans.filter((s) => ours.has(s.traceId));
    expect(new Set(calls.map((s) => s.spanId)).size).toBe(CALLS * SPANS_PER_CALL.length);
    // Besides the calls', only the issuer's metadata and keys, fetched at start, each a trace of its own.
    expect(
      receiver.spans
        .filter((s) => !ours.has(s.traceId))
        .map((s) => s.name)
        .sort(),
    ).toEqual(["discover issuer metadata", "fetch issuer keys"]);
  });
});
