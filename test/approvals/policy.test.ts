import { describe, expect, it } from "vitest";
import { parseApprovalPolicy } from "../../src/approvals/policy.js";
import { approveScopeFor, authorize } from "../../src/auth/policy.js";
import { holdsScope, meaningOf, scopesAllowing, supportedScopes } from "../../src/auth/scopes.js";
import { requirementLabel, requirementOf } from "../../src/mcp/requirements.js";

const names = { taskNameOf: (ref: string) => ref };

describe("APPROVAL_TASKS", () => {
  it("is empty by default: nothing needs approval", () => {
    for (const value of [undefined, "", " , ,"]) {
      const policy = parseApprovalPolicy(value);
      expect(policy.any).toBe(false);
      expect(policy.modeOf("deploy")).toBeUndefined();
      expect(policy.describe()).toBeUndefined();
    }
  });

  it("names tasks, approver by default, self where asked", () => {
    const policy = parseApprovalPolicy(" deploy , migrate=self,payout=approver ");
    expect(policy.modeOf("deploy")).toBe("approver");
    expect(policy.modeOf("migrate")).toBe("self");
    expect(policy.modeOf("payout")).toBe("approver");
    expect(policy.modeOf("square")).toBeUndefined();
    expect(policy.modeOf(undefined)).toBeUndefined();
    expect([...policy.named]).toEqual([
      ["deploy", "approver"],
      ["migrate", "self"],
      ["payout", "approver"],
    ]);
    expect(policy.describe()).toBe(
      "Runs of deploy, migrate, payout need a person's approval before they start: such a start answers with an approval request (structuredContent.approval) and its URL, not a run; the run starts once a person approves it.",
    );
    expect(policy.approverTasks(["square", "deploy"])).toEqual(["deploy", "payout"]);
  });

  it("`*` matches every task; a named task keeps its own mode", () => {
    const policy = parseApprovalPolicy("*=self,deploy");
    expect(policy.everyTask).toBe("self");
    expect(policy.modeOf("anything")).toBe("self");
    expect(policy.modeOf("deploy")).toBe("approver");
    expect(policy.approverTasks(["a", "b"])).toEqual(["deploy"]);
    expect(parseApprovalPolicy("*").approverTasks(["a", "b"])).toEqual(["a", "b"]);
  });

  it.each([
    ["deploy=boss", `"deploy=boss": each entry is a task name or task=mode, mode approver or self`],
    [
      "deploy=self=x",
      `"deploy=self=x": each entry is a task name or task=mode, mode approver or self`,
    ],
    [
      "dep loy",
      `"dep loy" cannot be a task here: names are as in per-task scopes (no spaces, quotes or backslashes)`,
    ],
    [
      'say"hi',
      `"say"hi" cannot be a task here: names are as in per-task scopes (no spaces, quotes or backslashes)`,
    ],
    ["deploy,deploy=self", `"deploy" is listed twice`],
    ["*,*=self", `"*" is listed twice`],
    [Array.from({ length: 1001 }, (_, i) => `t${i}`).join(","), "names more than 1000 tasks"],
  ])("refuses %j", (value, message) => {
    expect(() => parseApprovalPolicy(value)).toThrow(message);
  });
});

describe("approval scopes", () => {
  it("workflows:approve implies every per-task approve scope; admin implies workflows:approve", () => {
    expect(holdsScope(["workflows:approve"], "workflows:approve:deploy")).toBe(true);
    expect(holdsScope(["workflows:admin"], "workflows:approve:deploy")).toBe(true);
    expect(holdsScope(["workflows:admin"], "workflows:approve")).toBe(true);
    expect(holdsScope(["workflows:approve:deploy"], "workflows:approve:deploy")).toBe(true);
    // Exact matching: no prefix, no other task, no other family.
    expect(holdsScope(["workflows:approve:dep"], "workflows:approve:deploy")).toBe(false);
    expect(holdsScope(["workflows:approve:other"], "workflows:approve:deploy")).toBe(false);
    expect(holdsScope(["workflows:run"], "workflows:approve:deploy")).toBe(false);
    expect(holdsScope(["workflows:approve"], "workflows:run:deploy")).toBe(false);
    expect(holdsScope(["workflows:approve:deploy"], "workflows:run:deploy")).toBe(false);
  });

  it("are named narrowest first in what allows a decision", () => {
    expect(scopesAllowing("workflows:approve:deploy")).toEqual([
      "workflows:approve:deploy",
      "workflows:approve",
      "workflows:admin",
    ]);
    expect(approveScopeFor("deploy")).toBe("workflows:approve:deploy");
    expect(approveScopeFor("has space")).toBe("workflows:approve");
    expect(approveScopeFor(undefined)).toBe("workflows:approve");
    expect(meaningOf("workflows:approve:deploy")).toBe(
      "Decide approval requests for runs of the task deploy",
    );
  });

  it("scopes_supported lists the approve scopes of approver-mode tasks", () => {
    expect(supportedScopes(["deploy", "square"], ["deploy"])).toEqual([
      "workflows:read",
      "workflows:read:all",
      "workflows:run",
      "workflows:cancel",
      "workflows:cancel:all",
      "workflows:approve",
      "workflows:admin",
      "workflows:approve:deploy",
      "workflows:run:deploy",
      "workflows:run:square",
    ]);
  });

  it("a decision requires the approve scope of the request's task, looked up before it runs", () => {
    const targets = new Map([
      ["apr-1", { task: "deploy", mode: "approver" as const }],
      ["apr-2", { task: "migrate", mode: "self" as const }],
    ]);
    const requires = { approvalOf: "id" };
    expect(requirementOf(requires, { id: "apr-1" }, names, targets)).toEqual([
      "workflows:approve:deploy",
    ]);
    // Confirmed by its requester on the page: no approve scope is what is missing.
    expect(requirementOf(requires, { id: "apr-2" }, names, targets)).toEqual([]);
    // Unknown: the tool answers that there is no such request.
    expect(requirementOf(requires, { id: "apr-3" }, names, targets)).toEqual([]);
    expect(requirementOf(requires, { id: 7 }, names, targets)).toEqual([]);
    expect(requirementLabel(requires)).toEqual(["workflows:approve:<task>"]);

    const reader = authorize(requirementOf(requires, { id: "apr-1" }, names, targets), [
      "workflows:read",
    ]);
    expect(reader).toEqual({
      allowed: false,
      missing: ["workflows:approve:deploy"],
      allowedBy: {
        "workflows:approve:deploy": [
          "workflows:approve:deploy",
          "workflows:approve",
          "workflows:admin",
        ],
      },
      challenge: ["workflows:read", "workflows:approve:deploy"],
    });
    expect(
      authorize(requirementOf(requires, { id: "apr-1" }, names, targets), ["workflows:approve"]),
    ).toEqual({ allowed: true });
  });
});
