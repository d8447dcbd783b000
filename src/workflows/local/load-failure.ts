import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { errorMessage } from "../../error-message.js";
import { SDK_SPECIFIER } from "./sdk/hooks.js";
import { sdkResolvedForDirectImportsOnly } from "./sdk/register.js";

/** How long the syntax check of a module that failed to load may take. */
const CHECK_TIMEOUT_MS = 10_000;

/**
 * Why a tasks module did not load, in one line that says where to look.
 * Node reports a syntax error of a dynamically imported module without its
 * place (`Unexpected token ';'`), so the file is checked again with
 * `node --check`, which gives the line and column.
 */
export function describeLoadFailure(file: string, error: unknown): string {
  const message = errorMessage(error).split("\n")[0] ?? "";
  if (message.includes("Cannot find package '@renderinc/sdk'") && sdkResolvedForDirectImportsOnly) {
    return `${message} (on Node.js 20 the embedded engine provides ${SDK_SPECIFIER} only to a tasks module that imports it itself: import it in ${file} too, or use Node.js 22)`;
  }
  if (!(error instanceof SyntaxError)) return message;
  const missing = /does not provide an export named '([^']*)'/.exec(message);
  if (message.includes(`'${SDK_SPECIFIER}'`) && missing) {
    return `SyntaxError: ${message} (the embedded engine offers ${SDK_SPECIFIER}'s task API: task and its types)`;
  }
  const place = syntaxErrorPlace(file);
  return place
    ? `SyntaxError at ${file}:${place}: ${message}`
    : `SyntaxError: ${message} (in a module ${file} imports: \`node --check <file>\` shows where)`;
}

/** `line:column` of the first syntax error in an ES module file, or undefined when it parses. */
function syntaxErrorPlace(file: string): string | undefined {
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  const check = spawnSync(process.execPath, ["--input-type=module", "--check"], {
    input: source,
    encoding: "utf8",
    timeout: CHECK_TIMEOUT_MS,
  });
  // Node prints `[stdin]:LINE`, the line, then a caret under the column.
  const found = /^\[stdin\]:(\d+)\n.*\n( *)\^/m.exec(check.stderr ?? "");
  return found ? `${found[1]}:${(found[2] ?? "").length + 1}` : undefined;
}
