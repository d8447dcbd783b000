import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEvent } from "../src/store/types.js";
import type { TaskRun } from "../src/workflows/run.js";
import { until } from "./helpers/in-flight.js";
import {
  type OtlpReceiver,
  type ReceivedSpan,
  startOtlpReceiver,
} from "./helpers/otlp-receiver.js";
import {
  lastMessage,
  MODERN,
  modernRequest,
  postMcp,
  postModern,
  type RpcAnswer,
  type Stack,
  startStack,
  TASKS_CAPABILITY,
  toolCall,
} from "./helpers/stack.js";

/**
 * Issue 20: the server's traces and metrics, as a real OTLP/HTTP receiver on
 * loopback gets them from the built server's exporters — in protobuf (the
 * default) and in JSON: span names, parents and links, attributes, the
 * marking of refusals and errors, trace context continued from the
 * `traceparent` header and from `params._meta`, the metrics; and the trace
 * id in the request log line, the audit events and the runs.
 */

const SERVER = 2;
const INTERNAL = 1;
const ERROR = 2;
const LEGACY = "2025-11-25";
const WRITER = "workflows:read workflows:run workflows:cancel";

function contentOf<T>(answer: RpcAnswer): T {
  const content = answer.result?.structuredContent;
  if (!content) throw new Error(`no result: ${JSON.stringify(answer)}`);
  return content as T;
}
const runIn = (answer: RpcAnswer) => contentOf<{ run: TaskRun }>(answer).run;
const hexId = (bytes: number) => randomBytes(bytes).toString("hex");
const traceparent = (traceId: string, spanId: string) => `00-${traceId}-${spanId}-01`;

describe.each(["http/protobuf", "http/json"])("OpenTelemetry over OTLP %s", (protocol) => {
  let receiver: OtlpReceiver;
  let stack: Stack;
  let token: string;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
      OTEL_BSP_SCHEDULE_DELAY: "50",
      OTEL_METRIC_EXPORT_INTERVAL: "250",
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test",
    });
    token = await stack.issuer.sign({ scope: WRITER, client_id: "otel-client" });
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  const spansOf = async (traceId: string, count: number) => {
    await receiver.until(() => receiver.spans.filter((s) => s.traceId === traceId).length >= count);
    return receiver.spans.filter((s) => s.traceId === traceId);
  };
  const named = (spans: ReceivedSpan[], name: string) => {
    const found = spans.filter((s) => s.name === name);
    expect(found.map((s) => s.name)).toEqual([name]);
    return found[0] as ReceivedSpan;
  };
  const requestLine = (traceId: string) =>
    stack.server.logs.filter((l) => l.msg === "request" && l.traceId === traceId);
  const auditLines = (traceId: string) =>
    stack.server.logs
      .filter((l) => l.msg === "audit" && (l.audit as AuditEvent).traceId === traceId)
      .map((l) => l.audit as AuditEvent);

  it("a 2025-era tools/call continues the traceparent header: one server span after the MCP conventions, and beneath it the token, the gate, the backend, the wait and the attempt", async () => {
    const client = { traceId: hexId(16), spanId: hexId(8) };
    const res = await postMcp(
      stack.server.url,
      toolCall("start_task_run", { task: "add", input: [3, 4], wait_seconds: 10 }, 7),
      {
        authorization: `Bearer ${token}`,
        "mcp-protocol-version": LEGACY,
        traceparent: traceparent(client.traceId, client.spanId),
      },
    );
    expect(res.status).toBe(200);
    const run = runIn(await lastMessage(res));
    expect(run.status).toBe("succeeded");

    const spans = await spansOf(client.traceId, 6);
    expect(spans.map((s) => s.name).sort()).toEqual([
      "attempt add",
      "authorize",
      "start run",
      "tools/call start_task_run",
      "verify token",
      "wait for run",
    ]);
    const call = named(spans, "tools/call start_task_run");
    expect(call).toMatchObject({
      parentSpanId: client.spanId,
      kind: SERVER,
      status: { code: 0 },
      links: [],
      resource: {
        "service.name": "workflows-mcp",
        "deployment.environment.name": "test",
      },
    });
    expect(named(spans, "verify token")).toMatchObject({
      parentSpanId: call.spanId,
      kind: INTERNAL,
      attributes: { "workflows_mcp.token.cache": "miss" },
    });
    expect(call.attributes).toEqual({
      "mcp.method.name": "tools/call",
      "gen_ai.tool.name": "start_task_run",
      "gen_ai.operation.name": "execute_tool",
      "mcp.protocol.version": LEGACY,
      "jsonrpc.request.id": "7",
      "network.transport": "tcp",
      "network.protocol.name": "http",
      "workflows_mcp.caller.subject": "user-123",
      "workflows_mcp.caller.client_id": "otel-client",
      "workflows_mcp.task": "add",
      "workflows_mcp.authorization.decision": "allowed",
      "workflows_mcp.run.id": run.id,
      "workflows_mcp.run.status": "succeeded",
      "http.response.status_code": 200,
      "workflows_mcp.auth.decision": "authenticated",
    });
    expect(named(spans, "authorize")).toMatchObject({
      parentSpanId: call.spanId,
      attributes: { "workflows_mcp.authorization.decision": "allowed" },
    });
    const start = named(spans, "start run");
    expect(start).toMatchObject({
      parentSpanId: call.spanId,
      attributes: {
        "workflows_mcp.backend": "local",
        "workflows_mcp.task": "add",
        "workflows_mcp.run.id": run.id,
      },
    });
    expect(named(spans, "wait for run")).toMatchObject({
      parentSpanId: call.spanId,
      attributes: { "workflows_mcp.run.id": run.id, "workflows_mcp.run.status": "succeeded" },
    });
    expect(named(spans, "attempt add")).toMatchObject({
      parentSpanId: start.spanId,
      attributes: {
        "workflows_mcp.task": "add",
        "workflows_mcp.run.id": run.id,
        "workflows_mcp.attempt": 1,
        "workflows_mcp.attempt.outcome": "succeeded",
      },
    });

    // One id from the call to the run: the log line, the audit event (logged and stored), the run.
    await until(() => requestLine(client.traceId).length > 0, 5_000);
    expect(requestLine(client.traceId)).toHaveLength(1);
    expect(auditLines(client.traceId)).toEqual([
      expect.objectContaining({ tool: "start_task_run", runId: run.id, outcome: "started" }),
    ]);
    expect(run.startedBy?.traceId).toBe(client.traceId);
    const admin = await stack.issuer.sign({ scope: "workflows:admin" });
    const stored = await lastMessage(
      await postMcp(stack.server.url, toolCall("list_audit_events", { run_id: run.id }), {
        authorization: `Bearer ${admin}`,
      }),
    );
    expect(contentOf<{ events: AuditEvent[] }>(stored).events.map((e) => e.traceId)).toEqual([
      client.traceId,
    ]);
    const read = await lastMessage(
      await postMcp(stack.server.url, toolCall("get_task_run", { id: run.id }), {
        authorization: `Bearer ${token}`,
      }),
    );
    expect(runIn(read).startedBy?.traceId).toBe(client.traceId);
  });

  it("2026-07-28: params._meta.traceparent wins over the traceparent header, which the call's span links", async () => {
    const header = { traceId: hexId(16), spanId: hexId(8) };
    const meta = { traceId: hexId(16), spanId: hexId(8) };
    const request = modernRequest("tools/call", {
      name: "start_task_run",
      arguments: { task: "fanOut", input: [2], wait_seconds: 10 },
    });
    // SEP-414: the client's context beside the envelope in params._meta.
    Object.assign((request.body.params as { _meta: object })._meta, {
      traceparent: traceparent(meta.traceId, meta.spanId),
      tracestate: "vendor=1",
    });
    const res = await postMcp(stack.server.url, request.body, {
      ...request.headers,
      authorization: `Bearer ${token}`,
      traceparent: traceparent(header.traceId, header.spanId),
    });
    expect(res.status).toBe(200);
    const run = runIn(await lastMessage(res));

    const spans = await spansOf(meta.traceId, 8);
    const call = named(spans, "tools/call start_task_run");
    expect(call).toMatchObject({
      parentSpanId: meta.spanId,
      links: [{ traceId: header.traceId, spanId: header.spanId }],
      attributes: { "mcp.protocol.version": MODERN, "workflows_mcp.run.id": run.id },
    });
    expect(named(spans, "verify token").parentSpanId).toBe(call.spanId);
    // Nothing of this request is in the header's trace: the message's context won.
    expect(receiver.spans.filter((s) => s.traceId === header.traceId)).toEqual([]);
    const start = named(spans, "start run");
    expect(start.parentSpanId).toBe(call.spanId);
    // A subtask run's attempt continues its parent's attempt.
    const parent = named(spans, "attempt fanOut");
    expect(parent.parentSpanId).toBe(start.spanId);
    expect(spans.filter((s) => s.name === "attempt echo").map((s) => s.parentSpanId)).toEqual([
      parent.spanId,
      parent.spanId,
    ]);
    expect(run.status).toBe("succeeded");
    expect(run.startedBy?.traceId).toBe(meta.traceId);
    await until(() => requestLine(meta.traceId).length > 0, 5_000);
    expect(requestLine(meta.traceId)).toHaveLength(1);
    expect(auditLines(meta.traceId)).toEqual([
      expect.objectContaining({ tool: "start_task_run", runId: run.id, outcome: "started" }),
    ]);
  });

  it("a refused call: its span carries the JSON-RPC code and the 403, the gate's span the refusal; a 401 is an HTTP span alone", async () => {
    const reader = await stack.issuer.sign({ scope: "workflows:read" });
    const refused = { traceId: hexId(16), spanId: hexId(8) };
    const res = await postMcp(
      stack.server.url,
      toolCall("start_task_run", { task: "add", input: [1, 2] }),
      {
        authorization: `Bearer ${reader}`,
        traceparent: traceparent(refused.traceId, refused.spanId),
      },
    );
    expect(res.status).toBe(403);
    const spans = await spansOf(refused.traceId, 3);
    expect(spans.map((s) => s.name).sort()).toEqual([
      "authorize",
      "tools/call start_task_run",
      "verify token",
    ]);
    const call = named(spans, "tools/call start_task_run");
    expect(call).toMatchObject({
      parentSpanId: refused.spanId,
      status: { code: ERROR },
      attributes: {
        "error.type": "-32003",
        "http.response.status_code": 403,
        "workflows_mcp.auth.decision": "insufficient_scope",
        "workflows_mcp.authorization.decision": "refused",
        "workflows_mcp.authorization.missing_scopes": ["workflows:run:add"],
      },
    });
    expect(named(spans, "authorize")).toMatchObject({
      parentSpanId: call.spanId,
      attributes: {
        "workflows_mcp.authorization.decision": "refused",
        "workflows_mcp.authorization.missing_scopes": ["workflows:run:add"],
      },
    });
    expect(auditLines(refused.traceId)).toEqual([
      expect.objectContaining({ decision: "refused", outcome: "insufficient_scope" }),
    ]);

    const anonymous = { traceId: hexId(16), spanId: hexId(8) };
    const unauthorized = await postMcp(stack.server.url, toolCall("whoami"), {
      traceparent: traceparent(anonymous.traceId, anonymous.spanId),
    });
    expect(unauthorized.status).toBe(401);
    const alone = await spansOf(anonymous.traceId, 1);
    expect(alone.map((s) => s.name)).toEqual(["POST /mcp"]);
    expect(alone[0]).toMatchObject({
      status: { code: ERROR },
      attributes: { "error.type": "401", "workflows_mcp.auth.decision": "no_token" },
    });
    expect(auditLines(anonymous.traceId)).toEqual([
      expect.objectContaining({ decision: "refused", outcome: "no_token" }),
    ]);

    const expired = { traceId: hexId(16), spanId: hexId(8) };
    const stale = await stack.issuer.sign({ scope: WRITER }, { expiresIn: -60 });
    const rejected = await postMcp(stack.server.url, toolCall("whoami"), {
      authorization: `Bearer ${stale}`,
      traceparent: traceparent(expired.traceId, expired.spanId),
    });
    expect(rejected.status).toBe(401);
    const pair = await spansOf(expired.traceId, 2);
    const http = named(pair, "POST /mcp");
    expect(http).toMatchObject({
      parentSpanId: expired.spanId,
      status: { code: ERROR },
      attributes: {
        "error.type": "401",
        "http.response.status_code": 401,
        "workflows_mcp.auth.decision": "invalid_token",
      },
    });
    expect(named(pair, "verify token")).toMatchObject({
      parentSpanId: http.spanId,
      status: { code: ERROR },
      attributes: { "error.type": "ERR_TOKEN_EXPIRED" },
    });
  });

  it("a tool error and a JSON-RPC error mark the call's span; a cached token says so", async () => {
    const context = { traceId: hexId(16), spanId: hexId(8) };
    const headers = {
      authorization: `Bearer ${token}`,
      traceparent: traceparent(context.traceId, context.spanId),
    };
    const missing = `trn-${hexId(10)}`;
    expect(
      (await postMcp(stack.server.url, toolCall("get_task_run", { id: missing }), headers)).status,
    ).toBe(200);
    const task = await postModern(
      stack.server.url,
      "tasks/get",
      { taskId: missing },
      { token, capabilities: TASKS_CAPABILITY, headers: { traceparent: headers.traceparent } },
    );
    expect((await lastMessage(task)).error?.code).toBe(-32602);

    const spans = await spansOf(context.traceId, 8);
    expect(named(spans, "tools/call get_task_run")).toMatchObject({
      status: { code: ERROR },
      attributes: {
        "error.type": "tool_error",
        "workflows_mcp.error.code": "ERR_RUN_NOT_FOUND",
        "workflows_mcp.run.id": missing,
      },
    });
    expect(named(spans, "tasks/get")).toMatchObject({
      status: { code: ERROR },
      attributes: {
        "mcp.method.name": "tasks/get",
        "error.type": "-32602",
        "rpc.response.status_code": "-32602",
        "workflows_mcp.run.id": missing,
      },
    });
    expect(spans.filter((s) => s.name === "verify token").map((s) => s.attributes)).toEqual([
      { "workflows_mcp.token.cache": "hit" },
      { "workflows_mcp.token.cache": "hit" },
    ]);
    // Each read of the run is a backend span under its own call: the tool's and the task method's.
    const reads = spans.filter((s) => s.name === "get run");
    expect(reads.map((s) => s.parentSpanId).sort()).toEqual(
      [named(spans, "tools/call get_task_run").spanId, named(spans, "tasks/get").spanId].sort(),
    );
    for (const read of reads) {
      expect(read).toMatchObject({
        status: { code: ERROR },
        attributes: {
          "workflows_mcp.backend": "local",
          "workflows_mcp.run.id": missing,
          "error.type": "ERR_RUN_NOT_FOUND",
        },
      });
    }
  });

  it("a 2025-era batch: one span per message under the HTTP request's, each with its own backend call", async () => {
    const context = { traceId: hexId(16), spanId: hexId(8) };
    const res = await postMcp(
      stack.server.url,
      [toolCall("list_tasks", {}, 1), toolCall("whoami", {}, 2)],
      {
        authorization: `Bearer ${token}`,
        "mcp-protocol-version": LEGACY,
        traceparent: traceparent(context.traceId, context.spanId),
      },
    );
    expect(res.status).toBe(200);
    const spans = await spansOf(context.traceId, 8);
    const http = named(spans, "POST /mcp");
    const list = named(spans, "tools/call list_tasks");
    const whoami = named(spans, "tools/call whoami");
    expect([list.parentSpanId, whoami.parentSpanId]).toEqual([http.spanId, http.spanId]);
    expect([
      list.attributes["jsonrpc.request.id"],
      whoami.attributes["jsonrpc.request.id"],
    ]).toEqual(["1", "2"]);
    // whoami reads the tasks too (those the caller may start): each under its own message.
    expect(
      spans
        .filter((s) => s.name === "list tasks")
        .map((s) => s.parentSpanId)
        .sort(),
    ).toEqual([list.spanId, whoami.spanId].sort());
    expect(
      spans
        .filter((s) => s.name === "authorize")
        .map((s) => s.parentSpanId)
        .sort(),
    ).toEqual([list.spanId, whoami.spanId].sort());
    // A batch has no single call: its log line names the HTTP request's trace.
    await until(() => requestLine(context.traceId).length > 0, 5_000);
    expect(requestLine(context.traceId)).toHaveLength(1);
  });

  it("metrics: mcp.server.operation.duration with the conventions' attributes, refusals by reason, runs by task and status, the engine's runs, token verifications and the cache's hit ratio", async () => {
    const latest = (metric: string, attributes: Record<string, unknown>) =>
      receiver.points
        .filter(
          (p) =>
            p.metric === metric &&
            Object.entries(attributes).every(([k, v]) => p.attributes[k] === v) &&
            Object.keys(p.attributes).length === Object.keys(attributes).length,
        )
        .at(-1);
    // Exports are cumulative and periodic: wait for the one that holds everything above.
    const settled = async (metric: string, attributes: Record<string, unknown>, value: number) => {
      await receiver
        .until(() => latest(metric, attributes)?.value === value)
        .catch(() => undefined);
      expect(latest(metric, attributes)?.value, `${metric} ${JSON.stringify(attributes)}`).toBe(
        value,
      );
    };
    const call = {
      "mcp.method.name": "tools/call",
      "gen_ai.tool.name": "start_task_run",
      "gen_ai.operation.name": "execute_tool",
    };
    await settled("mcp.server.operation.duration", { ...call, "mcp.protocol.version": LEGACY }, 1);
    expect(
      latest("mcp.server.operation.duration", { ...call, "mcp.protocol.version": LEGACY }),
    ).toMatchObject({
      unit: "s",
      bounds: [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    });
    await settled("mcp.server.operation.duration", { ...call, "mcp.protocol.version": MODERN }, 1);
    await settled("mcp.server.operation.duration", { ...call, "error.type": "-32003" }, 1);
    await settled(
      "mcp.server.operation.duration",
      {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "get_task_run",
        "gen_ai.operation.name": "execute_tool",
        "error.type": "tool_error",
      },
      1,
    );
    await settled(
      "mcp.server.operation.duration",
      { "mcp.method.name": "tasks/get", "mcp.protocol.version": MODERN, "error.type": "-32602" },
      1,
    );
    for (const task of ["add", "fanOut"]) {
      await settled(
        "workflows_mcp.runs.started",
        { "workflows_mcp.task": task, "workflows_mcp.backend": "local" },
        1,
      );
      await settled(
        "workflows_mcp.runs.finished",
        { "workflows_mcp.task": task, "workflows_mcp.run.status": "succeeded" },
        1,
      );
    }
    for (const reason of ["insufficient_scope", "no_token"]) {
      await settled(
        "workflows_mcp.requests.refused",
        { "workflows_mcp.refusal.reason": reason },
        1,
      );
    }
    for (const state of ["waiting", "running"]) {
      await settled("workflows_mcp.engine.runs", { "workflows_mcp.run.state": state }, 0);
    }
    // The writer's token was verified once and then found in the cache 5 times; the admin's and the reader's once each.
    await settled("workflows_mcp.token.verifications", { "workflows_mcp.token.cache": "hit" }, 5);
    await settled("workflows_mcp.token.verifications", { "workflows_mcp.token.cache": "miss" }, 3);
    await settled("workflows_mcp.token.cache.hit_ratio", {}, 5 / 8);
  });
});
