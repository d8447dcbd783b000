/**
 * The /mcp route without its authorization step (authorizeRequest): the
 * tools' own scope checks still refuse what a token does not allow — the
 * line that holds if that step is ever bypassed — and nothing else of the
 * route depends on it (2025-era clients, whose routing comes from the
 * request's classification, are served as before).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkflowBackend } from "../src/workflows/backend.js";
import { startInProcess } from "./helpers/in-process.js";
import { startTestIssuer, type TestIssuer } from "./helpers/issuer.js";
import { connectClient, ERAS, postMcp, postModern, RESOURCE, toolCall } from "./helpers/stack.js";

let issuer: TestIssuer;
let url: string;
let backend: WorkflowBackend;
let close: () => Promise<void>;

beforeAll(async () => {
  issuer = await startTestIssuer({ audience: RESOURCE });
  const started = await startInProcess(issuer, [{ authorize: false }]);
  url = started.servers[0]?.url as string;
  backend = started.backend;
  close = started.close;
});
afterAll(async () => {
  await close?.();
  await issuer?.close();
});

const start = { name: "start_task_run", arguments: { task: "echo", input: ["x"] } };

describe("without the authorization step", () => {
  it.each(ERAS)(
    "%s: a call the token does not allow is refused by the tool's own check, and nothing runs",
    async (era) => {
      const reader = await issuer.sign({ sub: `reader-${era}`, scope: "workflows:read" });
      const res =
        era === "modern"
          ? await postModern(url, "tools/call", start, { token: reader })
          : await postMcp(url, toolCall("start_task_run", start.arguments), {
              authorization: `Bearer ${reader}`,
            });
      expect(res.status).toBe(403);
      expect(res.headers.get("www-authenticate")).toBe(
        `Bearer error="insufficient_scope", error_description="start_task_run requires workflows:run:echo", scope="workflows:read workflows:run:echo", resource_metadata="http://mcp.test/.well-known/oauth-protected-resource/mcp"`,
      );
      await res.text();
      const runs = await backend.listRuns({
        limit: 10,
        access: { kind: "own", owner: { issuer: issuer.issuer, subject: `reader-${era}` } },
      });
      expect(runs.runs).toEqual([]);
    },
  );

  it.each(ERAS)("%s: a client whose token allows the call is served as always", async (era) => {
    const token = await issuer.sign({
      sub: `runner-${era}`,
      scope: "workflows:read workflows:run",
    });
    const client = await connectClient(url, token, era);
    try {
      const result = await client.callTool("start_task_run", {
        ...start.arguments,
        wait_seconds: 10,
      });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({
        run: { status: "succeeded", results: ["x"], startedBy: { subject: `runner-${era}` } },
      });
    } finally {
      await client.close();
    }
  });
});
