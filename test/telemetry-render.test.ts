import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { TaskRun } from "../src/workflows/run.js";
import { until } from "./helpers/in-flight.js";
import { type OtlpReceiver, startOtlpReceiver } from "./helpers/otlp-receiver.js";
import { lastMessage, postMcp, toolCall } from "./helpers/stack.js";
import { type RenderStack, startRenderStack } from "./render/stack.js";

/**
 * Issue 20, the Render backend: each request to Render's API is a CLIENT span
 * under the backend call that made it, with its status, a retry marked as
 * one; requests are counted by status and the pacing's budget is observed;
 * the run records the trace id of its start in the shared store (version 4).
 */

let receiver: OtlpReceiver;
let stack: RenderStack;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
  stack = await startRenderStack({
    prepare: (fake) => fake.addTask("square"),
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: "50",
      OTEL_METRIC_EXPORT_INTERVAL: "250",
    },
  });
});
afterAll(async () => {
  await stack?.close();
  await receiver?.close();
});

it("a start that Render answers 503 then 202: two POST spans under the start, the second a retry; counted by status; the run carries the trace id", async () => {
  const traceId = randomBytes(16).toString("hex");
  const headers = {
    authorization: `Bearer ${stack.token}`,
    traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01`,
  };
  stack.fake.failNext(1, { status: 503, path: "/task-runs" });
  const started = await lastMessage(
    await postMcp(
      stack.server.url,
      toolCall("start_task_run", { task: "square", input: [3] }),
      headers,
    ),
  );
  const run = (started.result?.structuredContent as { run: TaskRun } | undefined)?.run;
  expect(run?.startedBy?.traceId).toBe(traceId);

  await receiver.until(() => receiver.spans.filter((s) => s.traceId === traceId).length >= 6);
  const spans = receiver.spans.filter((s) => s.traceId === traceId);
  expect(spans.map((s) => s.name).sort()).toEqual([
    "POST /task-runs",
    "POST /task-runs",
    "authorize",
    "start run",
    "tools/call start_task_run",
    "verify token",
  ]);
  const start = spans.find((s) => s.name === "start run");
  expect(start?.attributes["workflows_mcp.backend"]).toBe("render");
  const posts = spans.filter((s) => s.name === "POST /task-runs");
  expect(posts.map((s) => [s.parentSpanId, s.kind, s.attributes, s.status.code])).toEqual([
    [
      start?.spanId,
      3,
      {
        "http.request.method": "POST",
        "url.template": "/task-runs",
        "server.address": new URL(stack.fake.url).host,
        "http.response.status_code": 503,
        "error.type": "503",
      },
      2,
    ],
    [
      start?.spanId,
      3,
      {
        "http.request.method": "POST",
        "url.template": "/task-runs",
        "server.address": new URL(stack.fake.url).host,
        "http.request.resend_count": 1,
        "http.response.status_code": 202,
      },
      0,
    ],
  ]);

  // Read back from the shared store: the record keeps the trace id.
  const read = await lastMessage(
    await postMcp(stack.server.url, toolCall("get_task_run", { id: run?.id }), {
      authorization: `Bearer ${stack.token}`,
    }),
  );
  const again = (read.result?.structuredContent as { run: TaskRun } | undefined)?.run;
  expect(again?.startedBy?.traceId).toBe(traceId);
  const point = (metric: string, attributes: Record<string, unknown>) =>
    receiver.points
      .filter(
        (p) =>
          p.metric === metric &&
          JSON.stringify(Object.entries(p.attributes).sort()) ===
            JSON.stringify(Object.entries(attributes).sort()),
      )
      .at(-1);
  await until(
    () =>
      point("workflows_mcp.render.requests", {
        "http.request.method": "POST",
        "http.response.status_code": 202,
      })?.value === 1,
    15_000,
  );
  expect(
    [503, 202].map(
      (status) =>
        point("workflows_mcp.render.requests", {
          "http.request.method": "POST",
          "http.response.status_code": status,
        })?.value,
    ),
  ).toEqual([1, 1]);
  // The pacing allows 4 writes at once and 20 a minute (one back every 3 s): two were spent moments ago.
  const write = point("workflows_mcp.render.budget.remaining", {
    "workflows_mcp.render.budget.kind": "write",
  });
  expect(write?.value).toBeLessThan(4);
  expect(
    point("workflows_mcp.render.budget.remaining", { "workflows_mcp.render.budget.kind": "read" })
      ?.unit,
  ).toBe("{request}");
});
