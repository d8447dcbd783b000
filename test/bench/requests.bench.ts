/**
 * `npm run bench`: what each layer of a request costs, read as ratios within
 * one run (vitest prints each case's speed relative to the fastest). The
 * baseline is GET /healthz, which passes the HTTP stack only.
 */
import { afterAll, beforeAll, bench, describe } from "vitest";
import { postMcp, type Stack, startStack, toolCall } from "../helpers/stack.js";

let stack: Stack;
let token: string;
let auth: { authorization: string };

beforeAll(async () => {
  stack = await startStack();
  token = await stack.issuer.sign();
  auth = { authorization: `Bearer ${token}` };
});
afterAll(() => stack?.close());

const drain = async (res: Promise<Response>) => {
  await (await res).arrayBuffer();
};
const options = { time: 2_000, warmupTime: 300 };

describe("one request through each layer", () => {
  bench("GET /healthz (baseline)", () => drain(fetch(`${stack.server.url}/healthz`)), options);
  bench(
    "GET protected resource metadata",
    () => drain(fetch(`${stack.server.url}/.well-known/oauth-protected-resource/mcp`)),
    options,
  );
  bench(
    "POST /mcp without token (401)",
    () => drain(postMcp(stack.server.url, toolCall("whoami"))),
    options,
  );
  bench(
    "POST /mcp bad signature (401)",
    () =>
      drain(postMcp(stack.server.url, toolCall("whoami"), { authorization: `Bearer ${token}x` })),
    options,
  );
  bench(
    "tools/call whoami (JWT + MCP)",
    () => drain(postMcp(stack.server.url, toolCall("whoami"), auth)),
    options,
  );
  bench(
    "tools/call list_task_runs (+ SQLite)",
    () => drain(postMcp(stack.server.url, toolCall("list_task_runs", { limit: 20 }), auth)),
    options,
  );
});
