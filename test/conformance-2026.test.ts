import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuthProxy, startAuthProxy } from "./conformance/auth-proxy.js";
import {
  type ListedScenario,
  listServerScenarios2026,
  NODE_FOR_2026,
  runServerScenario2026,
  SUITE_2026_VERSION,
} from "./conformance/cli-2026.js";
import {
  REVISION_2026,
  REVISIONS,
  type Revision,
  RUN,
  SKIPPED,
} from "./conformance/scenarios-2026.js";
import { ALL_SCOPES, type Stack, startStack } from "./helpers/stack.js";

// The official MCP conformance suite's 0.2 line, which knows revision
// 2026-07-28, run by its own CLI against the built server through the
// authenticating proxy (one per revision: at the 2025 revisions it pins
// `initialize`, at 2026-07-28 there is no initialize and it only adds the
// token). Its CLI needs Node 22; CI runs the whole suite on Node 20 and on
// Node 22, and this file runs on the Node 22 pass.

const NEEDS_NODE_22 = `needs Node 22: conformance ${SUITE_2026_VERSION} uses fs.globSync; CI runs it on Node 22`;

if (NODE_FOR_2026 === undefined) {
  describe(`conformance ${SUITE_2026_VERSION}`, () => {
    it.skip(`${NEEDS_NODE_22} (this is Node ${process.versions.node})`, () => {});
  });
} else {
  describe(`conformance ${SUITE_2026_VERSION} (node ${NODE_FOR_2026})`, () => {
    let stack: Stack;
    let token: string;
    const proxies = new Map<Revision, AuthProxy>();

    beforeAll(async () => {
      for (const revision of REVISIONS) {
        proxies.set(
          revision,
          await startAuthProxy({
            upstream: () => stack.server.url,
            authorization: () => `Bearer ${token}`,
            protocolVersion: revision,
          }),
        );
      }
      stack = await startStack({
        // The proxies are the server's public face (dns-rebinding-protection sends their origin).
        ALLOWED_ORIGINS: [...proxies.values()].map((p) => p.url).join(","),
        // Every scenario is the same caller; a 429 would fail checks that have nothing to do with it.
        RATE_LIMIT_REQUESTS_PER_MINUTE: "0",
      });
      token = await stack.issuer.sign({ scope: ALL_SCOPES }, { expiresIn: 3600 });
    });
    afterAll(async () => {
      await Promise.all([...proxies.values()].map((p) => p.close()));
      await stack?.close();
    });

    it("runs every server scenario the suite lists, at every revision it applies to, or names why not", async () => {
      const listed = await listServerScenarios2026();
      const names = listed.map((s) => s.name);
      const run = new Set(REVISIONS.flatMap((revision) => Object.keys(RUN[revision])));
      expect([...new Set([...run, ...Object.keys(SKIPPED)])].sort()).toEqual([...names].sort());
      for (const revision of REVISIONS) {
        const applicable = listed.filter((s) => appliesAt(s, revision)).map((s) => s.name);
        // Nothing is run where it does not apply, and whatever applies is run or skipped with a reason.
        expect(Object.keys(RUN[revision]).filter((name) => !applicable.includes(name))).toEqual([]);
        expect(applicable.filter((name) => !(name in RUN[revision]) && !(name in SKIPPED))).toEqual(
          [],
        );
      }
      // A skip is never stale: each skipped scenario applies somewhere it is not run.
      expect(
        Object.keys(SKIPPED).filter(
          (name) =>
            !REVISIONS.some(
              (revision) =>
                !(name in RUN[revision]) &&
                appliesAt(listed.find((s) => s.name === name) as ListedScenario, revision),
            ),
        ),
      ).toEqual([]);
    });

    describe.each(REVISIONS)("protocol revision %s", (revision) => {
      it.each(Object.entries(RUN[revision]))(
        "%s passes",
        async (scenario, expected) => {
          const proxy = proxies.get(revision) as AuthProxy;
          const seenBefore = proxy.protocolVersionHeaders.length;
          const result = await runServerScenario2026(`${proxy.url}/mcp`, scenario, revision, {
            // Extension scenarios are off the spec timeline: run at the revision they extend.
            force: revision === REVISION_2026,
          });
          expect(
            result.checks.map(({ id, status, errorMessage }) => ({ id, status, errorMessage })),
            result.output,
          ).toEqual(
            expected.checks.map(({ id, status, errorMessage }) => ({ id, status, errorMessage })),
          );
          const failing = expected.checks.some((check) => check.status === "FAILURE");
          expect(result.code, result.output).toBe(failing ? 1 : 0);
          if (revision !== REVISION_2026) {
            // The wire was the pinned revision: requests that name one name it.
            expect(new Set(proxy.protocolVersionHeaders.slice(seenBefore))).toEqual(
              new Set(expected.versionHeader ? [revision] : []),
            );
          }
        },
        60_000,
      );
    });
  });
}

/** Whether a scenario applies at a revision; extensions extend 2026-07-28 only. */
function appliesAt(scenario: ListedScenario, revision: Revision): boolean {
  return (
    scenario.tags.includes(revision) ||
    (revision === REVISION_2026 && scenario.tags.includes("extension"))
  );
}
