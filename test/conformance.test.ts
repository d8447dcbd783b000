import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthProxy, startAuthProxy } from "./conformance/auth-proxy.js";
import { listServerScenarios, runServerScenario } from "./conformance/cli.js";
import { PROTOCOL_REVISIONS, RUN, SKIPPED } from "./conformance/scenarios.js";
import { ALL_SCOPES, type Stack, startStack } from "./helpers/stack.js";

// The official MCP conformance suite's server scenarios, run by its own CLI
// against the built server. The suite's client sends no token, so it talks to
// an authenticating proxy per protocol revision, which adds one.
let stack: Stack;
let token: string;
const proxies: AuthProxy[] = [];

beforeAll(async () => {
  for (const revision of PROTOCOL_REVISIONS) {
    proxies.push(
      await startAuthProxy({
        upstream: () => stack.server.url,
        authorization: () => `Bearer ${token}`,
        protocolVersion: revision,
      }),
    );
  }
  // The proxies are the server's public face: a page served from one of them
  // sends its origin, which the server must accept (dns-rebinding-protection).
  stack = await startStack({ ALLOWED_ORIGINS: proxies.map((p) => p.url).join(",") });
  token = await stack.issuer.sign({ scope: ALL_SCOPES }, { expiresIn: 3600 });
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await stack?.close();
});

it("runs every server scenario the suite lists, or names why not", async () => {
  const listed = await listServerScenarios();
  expect([...Object.keys(RUN), ...Object.keys(SKIPPED)].sort()).toEqual([...listed].sort());
});

describe.each(PROTOCOL_REVISIONS.map((revision, i) => ({ revision, i })))(
  "protocol revision $revision",
  ({ revision, i }) => {
    it.each(Object.entries(RUN))(
      "%s passes",
      async (scenario, expected) => {
        const proxy = proxies[i] as AuthProxy;
        const seenBefore = proxy.protocolVersionHeaders.length;
        const result = await runServerScenario(`${proxy.url}/mcp`, scenario);
        expect(
          result.checks.map(({ id, status, errorMessage }) => ({ id, status, errorMessage })),
          result.output,
        ).toEqual(expected.checks.map((id) => ({ id, status: "SUCCESS" })));
        expect(result.code, result.output).toBe(0);
        // The server answered the pinned revision: the client then sends it on every request.
        expect(new Set(proxy.protocolVersionHeaders.slice(seenBefore))).toEqual(
          new Set(expected.opensSession ? [revision] : []),
        );
      },
      60_000,
    );
  },
);
