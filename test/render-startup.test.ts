import { mkdirSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runServerExpectingExit } from "./helpers/server.js";
import { type FakeRenderApi, startFakeRenderApi } from "./render/fake-render-api.js";
import { API_KEY, type RenderStack, startRenderStack, textOf } from "./render/stack.js";

/** The ownership database the refused servers open before they refuse: inside the repository, removed after. */
const SCRATCH = fileURLToPath(new URL("../.scratch/render-startup/", import.meta.url));
const base = {
  WORKFLOWS_BACKEND: "render",
  AUTH_ISSUER: "http://127.0.0.1:9",
  LOCAL_DB_PATH: `${SCRATCH}ownership.sqlite`,
};
beforeAll(() => mkdirSync(SCRATCH, { recursive: true }));
afterAll(() => rmSync(SCRATCH, { recursive: true, force: true }));

describe("starting with WORKFLOWS_BACKEND=render", () => {
  let fake: FakeRenderApi;
  beforeAll(async () => {
    fake = await startFakeRenderApi({ apiKey: API_KEY });
    fake.addWorkflow("other-flow");
  });
  afterAll(() => fake?.close());

  const refusal = async (env: Record<string, string>) => {
    const { code, stderr } = await runServerExpectingExit({ ...base, ...env });
    expect(code).toBe(1);
    return stderr.split("\n").slice(1).join("\n").trim();
  };

  it("needs a key for Render's API, and a workflow", async () => {
    expect(await refusal({ RENDER_WORKFLOW: "my-workflow" })).toMatch(/^RENDER_API_KEY: required/);
    expect(await refusal({ RENDER_API_KEY: API_KEY })).toMatch(/^RENDER_WORKFLOW: required/);
  });

  it("refuses a workflow the key cannot see, naming what it sees", async () => {
    const env = { RENDER_API_URL: fake.url, RENDER_API_KEY: API_KEY };
    expect(await refusal({ ...env, RENDER_WORKFLOW: "nope" })).toBe(
      "RENDER_WORKFLOW: no workflow with slug nope is visible to RENDER_API_KEY (it sees my-workflow, other-flow)",
    );
    expect(await refusal({ ...env, RENDER_WORKFLOW: "wfl-nope" })).toBe(
      "RENDER_WORKFLOW: no workflow with id wfl-nope is visible to RENDER_API_KEY",
    );
  });

  it("refuses a key Render refuses, without printing it", async () => {
    const { code, stderr, stdout } = await runServerExpectingExit({
      ...base,
      RENDER_API_URL: fake.url,
      RENDER_API_KEY: "rnd_wrong_key_123456",
      RENDER_WORKFLOW: "my-workflow",
    });
    expect(code).toBe(1);
    expect(stderr).toContain(
      "RENDER_API_KEY: Render refused the server's API key (HTTP 401: unauthorized)",
    );
    expect(stderr + stdout).not.toContain("rnd_wrong_key_123456");
  });

  it("will not send the key over plain http to a remote host", async () => {
    expect(
      await refusal({
        RENDER_API_URL: "http://api.render.test/v1",
        RENDER_API_KEY: API_KEY,
        RENDER_WORKFLOW: "my-workflow",
      }),
    ).toBe(
      "RENDER_API_URL: must be https:// (or loopback) so RENDER_API_KEY does not travel in clear text",
    );
  });
});

describe("against the Render CLI's local dev server", () => {
  let stack: RenderStack;
  beforeAll(async () => {
    stack = await startRenderStack({
      fake: { devServer: true },
      env: { RENDER_API_KEY: undefined },
      prepare(fake) {
        fake.addTask("square");
        fake.script("square", [{ do: "start" }, { do: "succeed", result: 4 }], 20);
      },
    });
  });
  afterAll(() => stack?.close());

  it("takes RENDER_WORKFLOW as the slug and says so", () => {
    const listening = stack.server.logs.find((l) => l.msg === "listening");
    expect(listening?.backend).toBe(
      `Render workflow my-workflow at ${stack.fake.url} (the Render CLI's local dev server: no workflow lookup, no logs)`,
    );
  });

  it("runs tasks, sending no key", async () => {
    const result = await stack.call("start_task_run", {
      task: "square",
      input: [2],
      wait_seconds: 10,
    });
    expect(result.structuredContent).toMatchObject({
      run: { task: "my-workflow/square", status: "succeeded", results: [4] },
    });
    expect(stack.fake.requests.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it("explains that logs are not available there", async () => {
    const run = stack.fake.addRun("square", { status: "completed" });
    const result = await stack.call("get_task_run_logs", { id: run.id });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe(
      `Logs are not available from the Render CLI's local dev server (${stack.fake.url}); its terminal shows each task's output`,
    );
  });
});
