import { describe, expect, it } from "vitest";
import {
  ContractViolation,
  validateQuery,
  validateRequestBody,
  validateResponse,
} from "./render/contract.js";
import { startFakeRenderApi } from "./render/fake-render-api.js";
import { API_KEY } from "./render/stack.js";

const details = {
  id: "trn-1",
  taskId: "tsk-1",
  status: "running",
  results: [],
  input: { n: 3 },
  parentTaskRunId: "",
  rootTaskRunId: "trn-1",
  retries: 0,
  attempts: [{ status: "running", startedAt: "2026-01-05T10:00:00.000Z" }],
};

describe("the fake's contract with Render's OpenAPI documents", () => {
  it("accepts a run as Render documents it", () => {
    expect(() => validateResponse("GET", "/task-runs/{taskRunId}", 200, details)).not.toThrow();
  });

  it("rejects a malformed run, naming what is wrong", () => {
    expect(() =>
      validateResponse("GET", "/task-runs/{taskRunId}", 200, { ...details, status: "done" }),
    ).toThrow(ContractViolation);
    expect(() =>
      validateResponse("GET", "/task-runs/{taskRunId}", 200, { ...details, attempts: undefined }),
    ).toThrow(/must have required property 'attempts'/);
  });

  it("follows Render's path-based $refs", () => {
    // input: '#/paths/~1task-runs/post/requestBody/…/properties/input' (array or object)
    expect(() =>
      validateResponse("GET", "/task-runs/{taskRunId}", 200, { ...details, input: 3 }),
    ).toThrow(/input/);
    // attempts[].results: '#/paths/~1task-runs~1%7BtaskRunId%7D/get/…/properties/results'
    const attempt = { status: "failed", startedAt: "2026-01-05T10:00:00.000Z", results: "x" };
    expect(() =>
      validateResponse("GET", "/task-runs/{taskRunId}", 200, { ...details, attempts: [attempt] }),
    ).toThrow(/results/);
    // GET /tasks/{taskId}: '#/components/schemas/taskWithCursor/properties/task'
    expect(() => validateResponse("GET", "/tasks/{taskId}", 200, { id: "tsk-1" })).toThrow(/name/);
  });

  it("holds requests to the documented parameters and bodies", () => {
    expect(() => validateQuery("GET", "/task-runs", new URLSearchParams("limit=101"))).toThrow(
      /limit/,
    );
    expect(() => validateQuery("GET", "/task-runs", new URLSearchParams("status=failed"))).toThrow(
      "GET /task-runs has no query parameter status",
    );
    expect(() => validateQuery("GET", "/task-runs/events", new URLSearchParams())).toThrow(
      "GET /task-runs/events requires query parameter taskRunIds",
    );
    expect(() => validateRequestBody("POST", "/task-runs", { task: "a/b", input: 3 })).toThrow(
      ContractViolation,
    );
    expect(() => validateResponse("DELETE", "/task-runs/{taskRunId}", 204, {})).toThrow(
      "DELETE /task-runs/{taskRunId} 204 documents no body",
    );
  });

  it("answers a request that breaks the contract with 400, and reports it on close", async () => {
    const fake = await startFakeRenderApi({ apiKey: API_KEY });
    const response = await fetch(`${fake.url}/task-runs?status=failed`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ message: "request does not match Render's API" });
    await expect(fake.close()).rejects.toThrow(/has no query parameter status/);
  });

  it("answers 401 without the key, with Render's error body", async () => {
    const fake = await startFakeRenderApi({ apiKey: API_KEY });
    const response = await fetch(`${fake.url}/workflows`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ message: "unauthorized" });
    await fake.close();
  });
});
