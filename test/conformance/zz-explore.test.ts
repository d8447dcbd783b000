import { writeFileSync } from "node:fs";
import { afterAll, beforeAll, it } from "vitest";
import { type AuthProxy, startAuthProxy } from "./auth-proxy.js";
import { listServerScenarios2026, runServerScenario2026 } from "./cli-2026.js";
import { ALL_SCOPES, type Stack, startStack } from "../helpers/stack.js";

let stack: Stack;
let token: string;
let proxy: AuthProxy;
beforeAll(async () => {
  proxy = await startAuthProxy({ upstream: () => stack.server.url, authorization: () => `Bearer ${token}`, protocolVersion: process.env.REV ?? "2026-07-28" });
  stack = await startStack({ ALLOWED_ORIGINS: proxy.url });
  token = await stack.issuer.sign({ scope: ALL_SCOPES }, { expiresIn: 3600 });
});
afterAll(async () => { await proxy.close(); await stack?.close(); });

it("explore", async () => {
  const rev = process.env.REV ?? "2026-07-28";
  const listed = await listServerScenarios2026();
  const only = process.env.ONLY?.split(",");
  const out: Record<string, unknown> = {};
  for (const s of listed) {
    if (only && !only.includes(s.name)) continue;
    const applies = s.tags.includes(rev) || s.tags.includes("extension");
    if (!applies && !only) continue;
    const r = await runServerScenario2026(`${proxy.url}/mcp`, s.name, rev, { force: s.tags.includes("extension") }).catch((e) => ({ code: -1, checks: [], output: String(e) }));
    out[s.name] = { code: r.code, checks: r.checks.map((c) => ({ id: c.id, status: c.status, errorMessage: c.errorMessage })), output: r.output };
    console.log(s.name, r.code, r.checks.map((c) => `${c.id}:${c.status}`).join(" "));
  }
  writeFileSync(`/tmp/explore/${rev}${only ? "-only" : ""}.json`, JSON.stringify(out, null, 2));
}, 900_000);
