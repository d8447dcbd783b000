import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Approval } from "../src/approvals/approval.js";
import type { AuditEvent } from "../src/store/types.js";
import { type OtlpReceiver, startOtlpReceiver } from "./helpers/otlp-receiver.js";
import { lastMessage, postModern, type Stack, startStack } from "./helpers/stack.js";

/**
 * Approvals under OpenTelemetry: requests counted by status
 * (`workflows_mcp.approvals.requests`), and the trace id of each call in the
 * approval's audit events, so an operator can go from a decision to the
 * conversation turns that asked for and decided it.
 */

const traceId = (n: number) => `${n}`.repeat(32).slice(0, 32);
const traceparent = (id: string) => `00-${id}-00f067aa0ba902b7-01`;

describe("approvals under OpenTelemetry", () => {
  let receiver: OtlpReceiver;
  let stack: Stack;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack({
      APPROVAL_TASKS: "add",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: "50",
      OTEL_METRIC_EXPORT_INTERVAL: "250",
    });
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  it("counts requests by status and writes each call's trace id into the approval's audit events", async () => {
    const alice = await stack.issuer.sign({
      scope: "workflows:read workflows:run:add",
      sub: "alice",
    });
    const bob = await stack.issuer.sign({
      scope: "workflows:read workflows:approve:add",
      sub: "bob",
    });
    const call = async (token: string, trace: string, name: string, args: object) => {
      const answer = await lastMessage(
        await postModern(
          stack.server.url,
          "tools/call",
          { name, arguments: args },
          { token, headers: { traceparent: traceparent(trace) } },
        ),
      );
      const approval = (answer.result?.structuredContent as { approval?: Approval } | undefined)
        ?.approval;
      if (!approval) throw new Error(JSON.stringify(answer));
      return approval;
    };
    const first = await call(alice, traceId(1), "start_task_run", { task: "add", input: [1, 2] });
    const second = await call(alice, traceId(3), "start_task_run", { task: "add", input: [3, 4] });
    expect([first.status, second.status]).toEqual(["pending", "pending"]);
    const approved = await call(bob, traceId(2), "decide_approval_request", {
      id: first.id,
      decision: "approve",
    });
    expect(approved.status).toBe("approved");
    const denied = await call(bob, traceId(4), "decide_approval_request", {
      id: second.id,
      decision: "deny",
      reason: "not today",
    });
    expect(denied.status).toBe("denied");

    const latest = (status: string) =>
      receiver.points
        .filter(
          (p) =>
            p.metric === "workflows_mcp.approvals.requests" &&
            p.attributes["workflows_mcp.approval.status"] === status,
        )
        .at(-1)?.value;
    await receiver
      .until(() => latest("pending") === 2 && latest("approved") === 1 && latest("denied") === 1)
      .catch(() => undefined);
    expect(["pending", "approved", "denied"].map(latest)).toEqual([2, 1, 1]);

    const events = stack.server.logs
      .filter((l) => l.msg === "audit")
      .map((l) => l.audit as AuditEvent)
      .filter((e) => e.approvalId === first.id);
    expect(events.map((e) => [e.outcome, e.traceId])).toEqual([
      ["approval_requested", traceId(1)],
      ["approval_approved", traceId(2)],
      ["started", traceId(2)],
    ]);
  });
});
