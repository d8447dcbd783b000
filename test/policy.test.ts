import { describe, expect, it } from "vitest";
import { authorize, runScopeFor } from "../src/auth/policy.js";
import {
  DEFAULT_SCOPES,
  FIXED_SCOPES,
  holdsScope,
  meaningOf,
  SCOPES,
  scopesAllowing,
  supportedScopes,
  taskOfScope,
  taskScope,
  visibility,
} from "../src/auth/scopes.js";
import { demandOf } from "../src/mcp/requirements.js";
import { tools } from "../tools/index.js";

/** The local backend's naming: a task reference is the task's name. */
const backend = { taskNameOf: (reference: string) => reference };
const byName = new Map(tools.map((tool) => [tool.name, tool]));

/** Every scope a token might carry, including near misses that must grant nothing. */
const CANDIDATES = [
  ...FIXED_SCOPES,
  "workflows:run:square",
  "workflows:run:greet",
  "workflows:run:sq",
  "workflows:run:square:x",
  "workflows:runs",
  "workflows",
  "openid",
];

const READERS = ["workflows:read", "workflows:read:all", "workflows:admin"];

/** Each call, and — written out by hand — every single scope that allows it. */
const CALLS: { tool: string; args: Record<string, unknown>; allowedBy: string[]; needs: string }[] =
  [
    { tool: "whoami", args: {}, allowedBy: CANDIDATES, needs: "" },
    { tool: "list_tasks", args: {}, allowedBy: READERS, needs: "workflows:read" },
    { tool: "get_task_run", args: { id: "trn-1" }, allowedBy: READERS, needs: "workflows:read" },
    { tool: "list_task_runs", args: {}, allowedBy: READERS, needs: "workflows:read" },
    {
      tool: "get_task_run_logs",
      args: { id: "trn-1" },
      allowedBy: READERS,
      needs: "workflows:read",
    },
    {
      tool: "start_task_run",
      args: { task: "square" },
      allowedBy: ["workflows:run", "workflows:admin", "workflows:run:square"],
      needs: "workflows:run:square",
    },
    {
      tool: "start_task_run",
      args: { task: "greet", input: ["Ada"] },
      allowedBy: ["workflows:run", "workflows:admin", "workflows:run:greet"],
      needs: "workflows:run:greet",
    },
    {
      // A name outside the scope-token grammar has no per-task scope.
      tool: "start_task_run",
      args: { task: 'my "task"' },
      allowedBy: ["workflows:run", "workflows:admin"],
      needs: "workflows:run",
    },
    {
      tool: "start_task_run",
      args: {},
      allowedBy: ["workflows:run", "workflows:admin"],
      needs: "workflows:run",
    },
    {
      tool: "start_task_run",
      args: { task: 42 },
      allowedBy: ["workflows:run", "workflows:admin"],
      needs: "workflows:run",
    },
    {
      tool: "cancel_task_run",
      args: { id: "trn-1" },
      allowedBy: ["workflows:cancel", "workflows:cancel:all", "workflows:admin"],
      needs: "workflows:cancel",
    },
    {
      tool: "list_audit_events",
      args: {},
      allowedBy: ["workflows:admin"],
      needs: "workflows:admin",
    },
  ];

const call = (tool: string, args: Record<string, unknown>) =>
  demandOf({ method: "tools/call", params: { name: tool, arguments: args } }, byName, backend);

describe("every tool × every scope × arguments", () => {
  for (const { tool, args, allowedBy, needs } of CALLS) {
    for (const held of CANDIDATES) {
      const allowed = allowedBy.includes(held);
      it(`${tool} ${JSON.stringify(args)} with ${held}: ${allowed ? "allowed" : "refused"}`, () => {
        const decision = authorize(call(tool, args).requirement, [held]);
        expect(decision.allowed).toBe(allowed);
        if (decision.allowed) return;
        expect(decision.missing).toEqual([needs]);
        // The challenge: the narrowest scope that allows the call, plus what the
        // token holds that this server knows (fixed scopes as declared, then task scopes).
        const known = held !== "workflows:runs" && held !== "workflows" && held !== "openid";
        const challenge = known ? expectedOrder([needs, held]) : [needs];
        expect(decision.challenge).toEqual(challenge);
      });
    }
  }
});

/** Canonical order, written independently of sortScopes: declaration order, then task scopes by name. */
function expectedOrder(scopes: string[]): string[] {
  const fixed = FIXED_SCOPES.filter((s) => scopes.includes(s));
  const perTask = [...new Set(scopes.filter((s) => !FIXED_SCOPES.includes(s as never)))].sort();
  return [...fixed, ...perTask];
}

describe("a tool needing two scopes (rerun_task_run: workflows:read and workflows:run)", () => {
  it.each([
    [["workflows:read"], ["workflows:run"], ["workflows:read", "workflows:run"]],
    [
      ["workflows:run:square"],
      ["workflows:read", "workflows:run"],
      ["workflows:read", "workflows:run", "workflows:run:square"],
    ],
    [["workflows:read:all", "workflows:run"], [], []],
    [["workflows:admin"], [], []],
    [[], ["workflows:read", "workflows:run"], ["workflows:read", "workflows:run"]],
  ])("holding %j: missing %j, challenge %j", (held, missing, challenge) => {
    const decision = authorize(call("rerun_task_run", { id: "trn-1" }).requirement, held);
    expect(decision.allowed).toBe(missing.length === 0);
    if (decision.allowed) return;
    expect(decision.missing).toEqual(missing);
    expect(decision.challenge).toEqual(challenge);
  });
});

describe("refusals say what would allow the call", () => {
  it("per-task: the narrowest scope first, then the wider ones", () => {
    const decision = authorize(call("start_task_run", { task: "square" }).requirement, [
      "workflows:read",
    ]);
    expect(decision).toEqual({
      allowed: false,
      missing: ["workflows:run:square"],
      allowedBy: {
        "workflows:run:square": ["workflows:run:square", "workflows:run", "workflows:admin"],
      },
      challenge: ["workflows:read", "workflows:run:square"],
    });
  });

  it("hierarchy: read is allowed by read:all and admin, narrowest first", () => {
    expect(scopesAllowing("workflows:read")).toEqual([
      "workflows:read",
      "workflows:read:all",
      "workflows:admin",
    ]);
    expect(scopesAllowing("workflows:cancel")).toEqual([
      "workflows:cancel",
      "workflows:cancel:all",
      "workflows:admin",
    ]);
    expect(scopesAllowing("workflows:admin")).toEqual(["workflows:admin"]);
  });

  it("a token holding several scopes keeps all of them in the challenge", () => {
    const decision = authorize(
      ["workflows:admin"],
      ["workflows:run:greet", "workflows:read", "offline_access", "workflows:cancel"],
    );
    expect(decision.allowed).toBe(false);
    if (decision.allowed) return;
    expect(decision.challenge).toEqual([
      "workflows:read",
      "workflows:cancel",
      "workflows:admin",
      "workflows:run:greet",
    ]);
  });
});

describe("task methods are authorized as the tools they stand for", () => {
  it.each([
    ["tasks/get", "workflows:read"],
    ["tasks/update", "workflows:read"],
    ["tasks/cancel", "workflows:cancel"],
  ])("%s needs %s", (method, needs) => {
    expect(demandOf({ method, params: { taskId: "trn-1" } }, byName, backend)).toEqual({
      target: method,
      requirement: [needs],
    });
  });

  it.each(["tools/list", "server/discover", "initialize", "ping"])(
    "%s needs only a valid token",
    (method) => {
      expect(demandOf({ method }, byName, backend).requirement).toEqual([]);
    },
  );

  it("an unknown tool needs only a valid token (it runs nothing; the SDK answers it)", () => {
    expect(call("drop_database", {}).requirement).toEqual([]);
  });
});

describe("the scope model", () => {
  it("matches exactly: no prefixes, no suffixes", () => {
    expect(holdsScope(["workflows:run:sq"], "workflows:run:square")).toBe(false);
    expect(holdsScope(["workflows:run:square:x"], "workflows:run:square")).toBe(false);
    expect(holdsScope(["workflows:runs"], "workflows:run:square")).toBe(false);
    expect(holdsScope(["workflows:read:al"], "workflows:read")).toBe(false);
    expect(holdsScope(["WORKFLOWS:READ"], "workflows:read")).toBe(false);
    expect(holdsScope(["workflows:run"], "workflows:run:square")).toBe(true);
    expect(holdsScope(["workflows:admin"], "workflows:run:anything")).toBe(true);
    expect(holdsScope(["workflows:read:all"], "workflows:run:square")).toBe(false);
  });

  it("task names that cannot form a scope token have no per-task scope", () => {
    expect(taskScope("square")).toBe("workflows:run:square");
    for (const name of [
      "",
      "my task",
      'say"hi',
      "back\\slash",
      "café",
      "tab\there",
      "x".repeat(200),
    ]) {
      expect(taskScope(name)).toBeUndefined();
    }
    expect(runScopeFor("my task")).toBe("workflows:run");
    expect(runScopeFor(undefined)).toBe("workflows:run");
  });

  it("a per-task scope names its task; fixed scopes are not per-task scopes", () => {
    expect(taskOfScope("workflows:run:square")).toBe("square");
    expect(taskOfScope("workflows:run:square:x")).toBe("square:x");
    expect(taskOfScope("workflows:run")).toBeUndefined();
    expect(taskOfScope("workflows:read")).toBeUndefined();
  });

  it("meanings are looked up safely", () => {
    expect(meaningOf("workflows:run:square")).toBe("Start runs of the task square");
    expect(meaningOf("workflows:read")).toBe(SCOPES["workflows:read"].grants);
    for (const hostile of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      expect(meaningOf(hostile)).toBeUndefined();
    }
  });

  it("every implied scope is itself declared", () => {
    for (const scope of FIXED_SCOPES) {
      for (const implied of SCOPES[scope].implies) expect(FIXED_SCOPES).toContain(implied);
    }
  });

  it("clients ask for workflows:read first (scope minimization)", () => {
    expect(DEFAULT_SCOPES).toEqual(["workflows:read"]);
  });

  it("scopes_supported: every fixed scope and the current tasks' scopes", () => {
    expect(supportedScopes(["square", "greet", "my task"])).toEqual([
      ...FIXED_SCOPES,
      "workflows:run:greet",
      "workflows:run:square",
    ]);
  });

  it("visibility: :all scopes (and admin) see every run; others their own", () => {
    expect(visibility(["workflows:read"], "read")).toBe("own");
    expect(visibility(["workflows:read:all"], "read")).toBe("all");
    expect(visibility(["workflows:admin"], "read")).toBe("all");
    expect(visibility(["workflows:read:all"], "cancel")).toBe("own");
    expect(visibility(["workflows:cancel:all"], "cancel")).toBe("all");
    expect(visibility(["workflows:admin"], "cancel")).toBe("all");
  });
});
