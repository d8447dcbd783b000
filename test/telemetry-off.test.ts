import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEvent } from "../src/store/types.js";
import type { TaskRun } from "../src/workflows/run.js";
import { until } from "./helpers/in-flight.js";
import { type OtlpReceiver, startOtlpReceiver } from "./helpers/otlp-receiver.js";
import { runServerExpectingExit } from "./helpers/server.js";
import {
  FIXTURE_TASKS,
  lastMessage,
  modernRequest,
  postMcp,
  type Stack,
  startStack,
  toolCall,
} from "./helpers/stack.js";

/**
 * Issue 20: telemetry is off unless an OTLP endpoint is set (or when
 * OTEL_SDK_DISABLED=true), and off is free: the server runs with a hook that
 * makes loading any OpenTelemetry package fail, so no exporter can be made
 * and nothing sent; a client's trace context is not continued, and no trace
 * id appears in the log line, the audit events or the runs (absent, not empty).
 */

const FORBID = `--import=${pathToFileURL(FIXTURE_TASKS.replace(/tasks\.js$/, "forbid-opentelemetry.js")).href}`;
const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

describe.each([
  ["no OTLP endpoint is set", {}],
  ["OTEL_SDK_DISABLED=true", { OTEL_SDK_DISABLED: "true" }],
])("telemetry off: %s", (_label, disabled) => {
  let receiver: OtlpReceiver;
  let stack: Stack;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack({
      NODE_OPTIONS: FORBID,
      // Read only when an endpoint is set: these change nothing (a wrong protocol included).
      OTEL_SERVICE_NAME: "should-not-matter",
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      ...(Object.keys(disabled).length > 0
        ? { ...disabled, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }
        : {}),
    });
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  it("serves both eras with no OpenTelemetry package loaded, exports nothing, and writes no trace id anywhere", async () => {
    const token = await stack.issuer.sign({ scope: "workflows:read workflows:run" });
    const legacy = await postMcp(
      stack.server.url,
      toolCall("start_task_run", { task: "add", input: [1, 2], wait_seconds: 10 }),
      { authorization: `Bearer ${token}`, traceparent: TRACEPARENT },
    );
    const request = modernRequest("tools/call", {
      name: "start_task_run",
      arguments: { task: "echo", input: ["x"], wait_seconds: 10 },
    });
    Object.assign((request.body.params as { _meta: object })._meta, { traceparent: TRACEPARENT });
    const modern = await postMcp(stack.server.url, request.body, {
      ...request.headers,
      authorization: `Bearer ${token}`,
      traceparent: TRACEPARENT,
    });
    const refused = await postMcp(stack.server.url, toolCall("whoami"), {
      traceparent: TRACEPARENT,
    });
    expect([legacy.status, modern.status, refused.status]).toEqual([200, 200, 401]);

    const runs = [await lastMessage(legacy), await lastMessage(modern)].map(
      (answer) => (answer.result?.structuredContent as { run: TaskRun } | undefined)?.run,
    );
    expect(runs.map((run) => Object.keys(run?.startedBy ?? {}).sort())).toEqual([
      ["at", "clientId", "issuer", "subject"],
      ["at", "clientId", "issuer", "subject"],
    ]);
    const lines = stack.server.logs;
    // A request's line is written once its answer has left.
    await until(() => lines.filter((l) => l.msg === "request").length === 3, 5_000);
    expect(lines.find((l) => l.msg === "listening")?.telemetry).toBe("off");
    const requests = lines.filter((l) => l.msg === "request");
    expect(requests.map((l) => l.status)).toEqual([200, 200, 401]);
    expect(requests.filter((l) => "traceId" in l)).toEqual([]);
    const audits = lines.filter((l) => l.msg === "audit").map((l) => l.audit as AuditEvent);
    expect(audits.map((e) => e.outcome)).toEqual(["started", "started", "no_token"]);
    expect(audits.filter((e) => "traceId" in e)).toEqual([]);
    expect(stack.server.output.filter((line) => line.includes("OpenTelemetry"))).toEqual([]);
    expect(receiver.exports).toEqual([]);
  });
});

it("the hook above does catch a load: with an endpoint set, the same server cannot start", async () => {
  const receiver = await startOtlpReceiver();
  try {
    const { code, stderr } = await runServerExpectingExit({
      // It fails before anything else starts: the SDK is loaded first.
      NODE_OPTIONS: FORBID,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    });
    expect(code).toBe(1);
    expect(stderr).toContain("an OpenTelemetry package was loaded: @opentelemetry/");
    expect(receiver.exports).toEqual([]);
  } finally {
    await receiver.close();
  }
});
