import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { WorkflowBackend } from "../src/workflows/backend.js";
import { createRenderBackend } from "../src/workflows/render/index.js";
import type { StartedBy } from "../src/workflows/run.js";
import { type FakeRenderApi, startFakeRenderApi } from "./render/fake-render-api.js";
import { MemoryOwnership } from "./render/memory-ownership.js";
import { API_KEY } from "./render/stack.js";

/** The backend on its own, with a short timeout so hung calls end quickly. */
const logger = pino({ level: "silent" });
const http = { timeoutMs: 300, maxRetries: 1, retryBudgetMs: 2_000 };
const ALL = { kind: "all" } as const;
const alice: StartedBy = {
  issuer: "https://issuer.test",
  subject: "alice",
  at: "2026-01-05T10:00:00.000Z",
};

let fake: FakeRenderApi;
let backend: WorkflowBackend;
const options = (apiUrl: string, workflow = "my-workflow") => ({
  apiUrl,
  apiKey: API_KEY,
  workflow,
  logger,
  http,
  ownership: new MemoryOwnership(),
});
beforeEach(async () => {
  fake = await startFakeRenderApi({ apiKey: API_KEY });
  fake.addTask("square");
  backend = await createRenderBackend(options(fake.url));
});
afterEach(() => fake.close());

async function startRawServer(
  handler: Parameters<typeof createServer>[1],
): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, server };
}

describe("calls to Render's API", () => {
  it("time out and are retried", async () => {
    fake.hangNext(1);
    await expect(backend.listTasks()).resolves.toEqual([
      expect.objectContaining({ name: "square" }),
    ]);
    expect(fake.requests.filter((r) => r.path === "/tasks").length).toBe(2);
  });

  it("end in BackendUnavailable when Render never answers", async () => {
    fake.hangNext(10);
    await expect(backend.listTasks()).rejects.toMatchObject({
      code: "ERR_BACKEND_UNAVAILABLE",
      message:
        "Render's API could not be reached (GET /tasks: no answer within 0.3 s) after 2 attempt(s); try again later",
    });
  });

  it("give up at once on a Retry-After beyond the budget", async () => {
    fake.failNext(1, { status: 429, retryAfter: 60 });
    await expect(backend.listTasks()).rejects.toMatchObject({
      code: "ERR_BACKEND_UNAVAILABLE",
      retryable: true,
      retryAfterSeconds: 60,
      message: "Render's API rate limit was exceeded (GET /tasks); try again in 60 s",
    });
    expect(fake.requests.filter((r) => r.path === "/tasks").length).toBe(1);
  });

  it("never follow a redirect (it would carry the key)", async () => {
    const { url, server } = await startRawServer((_req, res) => {
      res.writeHead(307, { location: `${fake.url}/workflows` }).end();
    });
    const before = fake.requests.length;
    await expect(createRenderBackend(options(url))).rejects.toThrow(
      `RENDER_API_URL: Render's API at ${url} could not be used to look up RENDER_WORKFLOW (Render's API answered GET /workflows with a redirect (HTTP 307), which this server does not follow)`,
    );
    expect(fake.requests.length).toBe(before);
    server.close();
  });

  it("refuse a body that does not match Render's schema", async () => {
    const { url, server } = await startRawServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify([{ workflow: { id: 42 }, cursor: "c" }]));
    });
    await expect(createRenderBackend(options(url))).rejects.toThrow(
      "body this server does not understand (0.workflow.id: Invalid input: expected string, received number)",
    );
    server.close();
  });
});

describe("the render backend", () => {
  it("resolves RENDER_WORKFLOW given as an id", async () => {
    const byId = await createRenderBackend(options(fake.url, fake.workflow.id));
    expect(byId.describe()).toBe(
      `Render workflow my-workflow (${fake.workflow.id}) at ${fake.url}`,
    );
    expect(fake.requests.at(-1)?.path).toBe(`/workflows/${fake.workflow.id}`);
  });

  it("passes named parameters (Python tasks) and a version through", async () => {
    const run = await backend.startRun("my-workflow/square:abc123", { n: 3 }, alice);
    expect(run).toMatchObject({ task: "my-workflow/square", status: "pending", input: { n: 3 } });
    const post = fake.requests.find((r) => r.method === "POST");
    expect(post?.body).toMatchObject({ task: "my-workflow/square:abc123", input: { n: 3 } });
    expect(post?.body).toMatchObject({ idempotencyKey: expect.stringMatching(/^[0-9a-f-]{36}$/) });
  });

  it("retries a failed POST with the same idempotency key", async () => {
    fake.failNext(1, { status: 503, path: "/task-runs" });
    await backend.startRun("square", [1], alice);
    const posts = fake.requests.filter((r) => r.method === "POST");
    expect(posts.length).toBe(2);
    expect(posts[0]?.body).toEqual(posts[1]?.body);
  });

  it("does not show runs of other workflows the key can reach", async () => {
    const other = fake.addWorkflow("other-flow");
    fake.addTask("secret", other);
    const theirs = fake.addRun("secret", { workflow: other, status: "completed" });
    await expect(backend.getRun(theirs.id, ALL)).rejects.toMatchObject({
      code: "ERR_RUN_NOT_FOUND",
      message: `No task run ${theirs.id} in workflow my-workflow`,
    });
  });

  it("sends no request for an id that cannot be a run's", async () => {
    const before = fake.requests.length;
    await expect(backend.getRun("../workflows/wfl-x", ALL)).rejects.toMatchObject({
      code: "ERR_RUN_NOT_FOUND",
      message: "No task run with that id in workflow my-workflow (run ids look like trn-…)",
    });
    expect(fake.requests.length).toBe(before);
  });
});
