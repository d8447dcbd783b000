import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Approval } from "../src/approvals/approval.js";
import { startTestIssuer, type TestIssuer } from "./helpers/issuer.js";
import { describeRealPostgres, type RunningPostgres, startPostgres } from "./helpers/postgres.js";
import { type RunningServer, startServer } from "./helpers/server.js";
import { connectClient, type McpTestClient, RESOURCE, type ToolResult } from "./helpers/stack.js";
import { type FakeRenderApi, startFakeRenderApi } from "./render/fake-render-api.js";
import { API_KEY, renderEnv } from "./render/stack.js";

/**
 * Two instances of the server on one PostgreSQL (and one Render, the
 * loopback fake), two approvers deciding the same requests at the same
 * moment, one on each: exactly one decision per request, and at most one
 * run. Only a real PostgreSQL server lets the two decisions overlap (PGlite
 * runs one statement at a time), so this runs in the `postgres` project.
 */

describeRealPostgres("approvals racing on one PostgreSQL", () => {
  let fake: FakeRenderApi;
  let issuer: TestIssuer;
  let postgres: RunningPostgres;
  let dir: string;
  const servers: RunningServer[] = [];
  const clients: McpTestClient[] = [];

  beforeAll(async () => {
    fake = await startFakeRenderApi({ apiKey: API_KEY });
    fake.addTask("deploy");
    issuer = await startTestIssuer({ audience: RESOURCE });
    postgres = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), "workflows-mcp-race-"));
    for (const name of ["a", "b"]) {
      servers.push(
        await startServer({
          ...renderEnv(fake, issuer, join(dir, `${name}.sqlite`), postgres.url),
          APPROVAL_TASKS: "deploy",
        }),
      );
    }
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await Promise.allSettled(servers.map((s) => s.stop()));
    await issuer?.close();
    await postgres?.close();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function connect(server: RunningServer, sub: string, scope: string) {
    const client = await connectClient(server.url, await issuer.sign({ sub, scope }));
    clients.push(client);
    return client;
  }

  const approvalOf = (result: ToolResult) =>
    (result.structuredContent as { approval?: Approval } | undefined)?.approval;

  it("two approvers on two instances: one decision per request, at most one run", async () => {
    const [a, b] = servers as [RunningServer, RunningServer];
    const alice = await connect(a, "alice", "workflows:read workflows:run");
    const bob = await connect(a, "bob", "workflows:read workflows:approve:deploy");
    const carol = await connect(b, "carol", "workflows:read workflows:approve");
    const admin = await connect(b, "root", "workflows:admin");

    const requests: Approval[] = [];
    // Within Render's pace of starts (a burst of 4 per instance): every approved run starts at once.
    for (let i = 0; i < 4; i++) {
      const asked = approvalOf(
        await alice.callTool("start_task_run", { task: "deploy", input: { n: i } }),
      );
      if (!asked) throw new Error("expected an approval request");
      requests.push(asked);
    }
    const postsBefore = fake.requests.filter((r) => r.method === "POST").length;

    // Half the requests: both approve at once. The other half: one approves, one denies.
    const answers = await Promise.all(
      requests.flatMap(({ id }, i) => [
        bob.callTool("decide_approval_request", { id, decision: "approve" }),
        carol.callTool("decide_approval_request", {
          id,
          decision: i % 2 === 0 ? "approve" : "deny",
        }),
      ]),
    );

    const trail = await admin.callTool("list_audit_events", { limit: 100 });
    const events = (trail.structuredContent as { events: Record<string, unknown>[] }).events;
    const posts = fake.requests.filter((r) => r.method === "POST").slice(postsBefore);
    let runs = 0;
    for (const [i, { id }] of requests.entries()) {
      const decisions = events.filter(
        (e) =>
          e.approvalId === id &&
          (e.outcome === "approval_approved" || e.outcome === "approval_denied"),
      );
      expect(decisions, `request ${i}`).toHaveLength(1);
      const [bobs, carols] = [answers[2 * i], answers[2 * i + 1]] as [ToolResult, ToolResult];
      const decided = decisions[0]?.outcome === "approval_approved" ? "approved" : "denied";
      const started = posts.filter(
        (p) => (p.body as { idempotencyKey?: string }).idempotencyKey === id,
      );
      expect(started, `request ${i}`).toHaveLength(decided === "approved" ? 1 : 0);
      runs += started.length;
      // Both answers say what was decided: the loser's is the winner's decision, or refuses its own.
      for (const answer of [bobs, carols]) {
        const approval = approvalOf(answer);
        if (approval) expect(approval.status).toBe(decided);
        else expect(answer.isError).toBe(true);
      }
      if (i % 2 === 0) {
        expect(decided).toBe("approved");
        expect(events.filter((e) => e.approvalId === id && e.outcome === "started")).toHaveLength(
          1,
        );
      }
    }
    expect(posts).toHaveLength(runs);
    expect(runs).toBeGreaterThanOrEqual(2);
  });
});
