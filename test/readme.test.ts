import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  APPROVE_SCOPE_PREFIX,
  FIXED_SCOPES,
  SCOPES,
  TASK_SCOPE_PREFIX,
} from "../src/auth/scopes.js";
import { ENV_VARIABLES } from "../src/config.js";
import { Metric } from "../src/telemetry/sdk/names.js";
import { TELEMETRY_VARIABLES } from "../src/telemetry/settings.js";
import { tools } from "../tools/index.js";

/** The README must say what the code does: these are the parts a test can hold it to. */
const root = new URL("../", import.meta.url);
const readme = readFileSync(new URL("README.md", root), "utf8");

/** The body of the first ```ts block whose first line is `// <path>`, without that line. */
function codeBlockFor(path: string): string {
  const start = readme.indexOf(`\`\`\`ts\n// ${path}\n`);
  expect(start, `a \`\`\`ts block starting with // ${path}`).toBeGreaterThanOrEqual(0);
  const body = readme.slice(start + `\`\`\`ts\n// ${path}\n`.length);
  return body.slice(0, body.indexOf("```\n"));
}

/** The rows of the markdown table following a heading. */
function tableAfter(heading: string): string[][] {
  const at = readme.indexOf(heading);
  expect(at, heading).toBeGreaterThanOrEqual(0);
  const rows = readme
    .slice(at)
    .split("\n")
    .filter((line) => line.startsWith("|"));
  const end = rows.findIndex((row, i) => i > 1 && !readme.slice(at).includes(`${row}\n|`));
  return rows.slice(2, end === -1 ? undefined : end + 1).map((row) =>
    row
      .slice(1, -1)
      .split(" | ")
      .map((cell) => cell.trim()),
  );
}

describe("the README says what the code does", () => {
  it("the Adding a tool example is the shipped tool, byte for byte (so it builds, lints and is listed)", () => {
    const shipped = readFileSync(new URL("tools/rerun-task-run.ts", root), "utf8");
    expect(codeBlockFor("tools/rerun-task-run.ts")).toBe(shipped);
    expect(tools.map((tool) => tool.name)).toContain("rerun_task_run");
    expect(readme).toContain(
      "two lines in `tools/index.ts` (its import, and its entry in the list)",
    );
  });

  it("the scope table is the scope declaration", () => {
    const rows = tableAfter("### The scope model");
    const fixed = rows.filter(([scope]) => !scope?.includes("<task>"));
    expect(fixed.map(([scope]) => scope)).toEqual(FIXED_SCOPES.map((scope) => `\`${scope}\``));
    for (const [scope, grants, implies] of fixed) {
      const declared = SCOPES[(scope as string).slice(1, -1) as keyof typeof SCOPES];
      expect(grants).toBe(declared.grants);
      const family = "impliesFamily" in declared ? declared.impliesFamily : undefined;
      const expected = [
        ...declared.implies.map((s) => `\`${s}\``),
        ...(family ? [`every \`workflows:${family}:<task>\``] : []),
      ];
      expect(implies).toBe(expected.length > 0 ? expected.join(", ") : "—");
    }
    expect(rows.map(([scope]) => scope)).toContain(`\`${TASK_SCOPE_PREFIX}<task>\``);
    expect(rows.map(([scope]) => scope)).toContain(`\`${APPROVE_SCOPE_PREFIX}<task>\``);
  });

  it("the configuration table lists exactly the variables the server reads", () => {
    const listed = tableAfter("## Configuration").map(([name]) => name?.replaceAll("`", ""));
    expect([...listed].sort()).toEqual([...ENV_VARIABLES].sort());
  });

  it("the OpenTelemetry table lists exactly the OTEL_* variables the server reads itself", () => {
    const listed = tableAfter("### OpenTelemetry variables").flatMap(([names]) =>
      (names ?? "").split(", ").map((name) => name.replaceAll("`", "")),
    );
    expect([...listed].sort()).toEqual([...TELEMETRY_VARIABLES].sort());
  });

  it("the metrics table lists exactly the metrics the server exports", () => {
    const listed = tableAfter("### Metrics").map(([name]) => name?.replaceAll("`", ""));
    expect([...listed].sort()).toEqual(Object.values(Metric).sort());
  });

  it("the tasks file shown is examples/workflow/index.js and its workflows-mcp.json, byte for byte (a test runs them)", () => {
    const marker = "```js\n// examples/workflow/index.js\n";
    const at = readme.indexOf(marker);
    expect(at, marker).toBeGreaterThanOrEqual(0);
    const block = readme.slice(at + marker.length);
    expect(block.slice(0, block.indexOf("```\n"))).toBe(
      readFileSync(new URL("examples/workflow/index.js", root), "utf8"),
    );
    const json = readFileSync(new URL("examples/workflow/workflows-mcp.json", root), "utf8");
    expect(readme).toContain(`\`\`\`json\n${json}\`\`\`\n`);
    expect(readme).toContain("LOCAL_TASKS_MODULE=examples/workflow/index.js npm start");
  });

  it("has no placeholder left", () => {
    expect(readme).not.toMatch(/[A-Z_]+_PLACEHOLDER/);
  });
});
