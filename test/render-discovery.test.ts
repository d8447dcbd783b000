import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RenderStack, startRenderStack } from "./render/stack.js";

/**
 * Protected Resource Metadata is public: anyone may fetch it, as often as
 * they like. On Render its per-task scopes come from Render's task list,
 * which costs API calls under the server's key, so the list is fetched at
 * most once per the document's max-age whatever the traffic.
 */
let stack: RenderStack;
beforeAll(async () => {
  stack = await startRenderStack({ prepare: (fake) => fake.addTask("square") });
});
afterAll(() => stack?.close());

const taskListings = () =>
  stack.fake.requests.filter((r) => r.method === "GET" && r.path.startsWith("/tasks")).length;

describe("discovery on Render", () => {
  it("50 anonymous metadata fetches (20 at once) cost one task listing, and each names the tasks' scopes", async () => {
    const fetchMetadata = async () => {
      const res = await fetch(`${stack.server.url}/.well-known/oauth-protected-resource/mcp`);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("public, max-age=60");
      return (await res.json()) as { scopes_supported: string[] };
    };
    const before = taskListings();
    const first = await fetchMetadata();
    const listed = taskListings() - before;
    expect(listed).toBeGreaterThanOrEqual(1);
    expect(first.scopes_supported).toContain("workflows:run:square");

    const answers = await Promise.all(Array.from({ length: 20 }, fetchMetadata));
    for (let i = 0; i < 29; i++) answers.push(await fetchMetadata());
    expect(
      answers.every((a) => a.scopes_supported.join(" ") === first.scopes_supported.join(" ")),
    ).toBe(true);
    expect(taskListings() - before).toBe(listed);
  });
});
