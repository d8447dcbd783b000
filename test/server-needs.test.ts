import { describe, expect, it } from "vitest";
import { needs } from "../src/mcp/server.js";

// A server is built per request with only what the request can use; these pin
// that a request never loses what its answer depends on.
describe("what a request's server needs registered", () => {
  it("a tools/call: its tool only, no task handlers", () => {
    expect(needs({ method: "tools/call", params: { name: "whoami" } })).toEqual({
      tool: "whoami",
      taskMethods: false,
    });
  });

  it("a tools/call without a usable name: every tool (the SDK's own error stays)", () => {
    expect(needs({ method: "tools/call", params: { name: 7 } })).toEqual({ taskMethods: false });
    expect(needs({ method: "tools/call" })).toEqual({ taskMethods: false });
  });

  it.each(["tasks/get", "tasks/update", "tasks/cancel"])("%s: the task handlers", (method) => {
    expect(needs({ method, params: { taskId: "x" } })).toEqual({ taskMethods: true });
  });

  it.each(["tools/list", "server/discover", "initialize", "ping"])("%s: every tool", (method) => {
    expect(needs({ method })).toEqual({ taskMethods: false });
  });

  it("a batch, or a body that is not one request: everything", () => {
    expect(needs([{ method: "tools/call", params: { name: "whoami" } }])).toEqual({
      taskMethods: true,
    });
    expect(needs(undefined)).toEqual({ taskMethods: true });
    expect(needs({ params: {} })).toEqual({ taskMethods: true });
  });
});
