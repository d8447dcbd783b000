import { readdirSync, readFileSync } from "node:fs";
import {
  basename,
  dirname,
  extname,
  isAbsolute,
  join,
  posix,
  relative,
  resolve,
  sep,
} from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * The repository stands alone: a user's clone has nothing beside it (no
 * ../shared, which only the developers' machine has), so no code, test, tool,
 * CI script or configuration may refer to a path outside it. A relative path
 * is resolved where it is resolved at run time, and fails only when the result
 * leaves the repository: ../../dist/... from test/helpers/ is inside.
 */

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));

/** How a file is read for paths. Markdown and YAML are prose and data, not code. */
type Kind = "code" | "json" | "shell" | "not code";

function kindOf(file: string): Kind | undefined {
  const ext = extname(file);
  if ([".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"].includes(ext)) return "code";
  if (ext === ".json") return "json";
  if (ext === ".sh" || (ext === "" && file.startsWith(".ci/"))) return "shell";
  if ([".md", ".yml", ".yaml"].includes(ext)) return "not code";
  return undefined;
}

interface Source {
  /** Path from the repository root, `/`-separated. */
  file: string;
  text: string;
  /** The directory (from the root) the file runs from: compiled files run from dist/. */
  runsFrom?: string;
}

interface Escape {
  file: string;
  line: number;
  path: string;
  resolved: string;
}

const describeEscape = ({ file, line, path, resolved }: Escape) =>
  `${file}:${line}: "${path}" leaves the repository (${resolved})`;

/** Node's fs functions taking paths: a relative one is resolved against the working directory, the root under npm. */
const FS_FUNCTIONS = new Set(
  [
    "access",
    "appendFile",
    "copyFile",
    "cp",
    "createReadStream",
    "createWriteStream",
    "exists",
    "lstat",
    "mkdir",
    "mkdtemp",
    "open",
    "opendir",
    "readdir",
    "readFile",
    "readlink",
    "realpath",
    "rename",
    "rm",
    "rmdir",
    "stat",
    "symlink",
    "unlink",
    "watch",
    "writeFile",
  ].flatMap((name) => [name, `${name}Sync`]),
);
/** path functions whose literal arguments are segments of one path. */
const PATH_FUNCTIONS = new Set(["join", "resolve"]);

const isRelative = (path: string) => /^\.\.?(\/|$)/.test(path);

/** The path of a file: URL; "" for one with a host, which names no local file. */
function filePath(url: string): string {
  try {
    return fileURLToPath(url);
  } catch {
    return "";
  }
}

/** Every reference in `source` to a path outside `root`. */
function findEscapes(root: string, source: Source): Escape[] {
  const runsFrom = join(root, source.runsFrom ?? dirname(source.file));
  const escapes: Escape[] = [];
  const outside = (abs: string) => {
    const rel = relative(root, abs);
    return rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel);
  };
  const report = (path: string, line: number, resolved: string) => {
    if (outside(resolved)) escapes.push({ file: source.file, line, path, resolved });
  };
  /** Checks one path; `base` is what a relative one is resolved against. */
  const check: Check = (path, line, base) => {
    if (isRelative(path)) {
      report(path, line, resolve(base === "file" ? runsFrom : root, path));
      return;
    }
    const absolute = path.startsWith("file://") ? filePath(path) : path;
    // An absolute path beside the checkout (where ../shared lives on a developer's machine).
    if (isAbsolute(absolute) && resolve(absolute).startsWith(dirname(root) + sep)) {
      report(path, line, resolve(absolute));
    }
  };
  const kind = kindOf(source.file);
  if (kind === "code") checkCode(source, runsFrom, check, report);
  else if (kind === "json") checkJson(source, check);
  else if (kind === "shell") checkShell(source, check);
  return escapes;
}

type Check = (path: string, line: number, base: "file" | "cwd") => void;
type Report = (path: string, line: number, resolved: string) => void;

function checkCode({ file, text }: Source, runsFrom: string, check: Check, report: Report) {
  const sourceFile = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lineOf = (node: ts.Node) =>
    sourceFile.getLineAndCharacterOfPosition(node.getStart(sourceFile)).line + 1;
  const moduleUrl = pathToFileURL(join(runsFrom, basename(file)));
  const handled = new Set<ts.Node>();
  const isString = (node: ts.Node): node is ts.StringLiteral | ts.NoSubstitutionTemplateLiteral =>
    ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node);
  const calleeName = (node: ts.Expression) =>
    ts.isIdentifier(node) ? node.text : ts.isPropertyAccessExpression(node) ? node.name.text : "";

  // Pre-order: a call is seen before its arguments, which it may handle itself.
  const visit = (node: ts.Node) => {
    if (
      ts.isNewExpression(node) &&
      calleeName(node.expression) === "URL" &&
      node.arguments?.[1]?.getText(sourceFile) === "import.meta.url"
    ) {
      const [target] = node.arguments;
      if (target && isString(target)) {
        handled.add(target);
        const { text } = target;
        // An absolute path or another scheme stands as it is; anything else is relative to the module.
        if (/^([a-z][a-z\d+.-]*:|\/)/i.test(text)) check(text, lineOf(target), "file");
        else report(text, lineOf(target), resolve(fileURLToPath(new URL(text, moduleUrl))));
      }
    } else if (ts.isCallExpression(node) && FS_FUNCTIONS.has(calleeName(node.expression))) {
      for (const arg of node.arguments.filter(isString)) {
        handled.add(arg);
        check(arg.text, lineOf(arg), "cwd");
      }
    } else if (ts.isCallExpression(node) && PATH_FUNCTIONS.has(calleeName(node.expression))) {
      // join(here, "..", "..", "shared"): consecutive literals are one path.
      let run: (ts.StringLiteral | ts.NoSubstitutionTemplateLiteral)[] = [];
      const flush = () => {
        const [first] = run;
        if (first) check(posix.join(...run.map((s) => s.text)), lineOf(first), "file");
        run = [];
      };
      for (const arg of node.arguments) {
        if (isString(arg)) {
          handled.add(arg);
          run.push(arg);
        } else flush();
      }
      flush();
    } else if (isString(node) && !handled.has(node)) {
      check(node.text, lineOf(node), "file");
    } else if (ts.isTemplateExpression(node)) {
      // `../../shared/${name}`: the literal head is a path on its own.
      check(node.head.text, lineOf(node), "file");
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
}

/** Shell words: a string in package.json may be a script. */
const words = (text: string) => text.split(/[\s"'`;|&()<>=$]+/).filter(Boolean);

function checkJson({ file, text }: Source, check: Check) {
  const json = ts.parseJsonText(file, text);
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node)) {
      const line = json.getLineAndCharacterOfPosition(node.getStart(json)).line + 1;
      for (const word of words(node.text)) check(word, line, "file");
    }
    ts.forEachChild(node, visit);
  };
  visit(json);
}

/** A CI script runs from the repository root (or a clone's). */
function checkShell({ text }: Source, check: Check) {
  text.split("\n").forEach((line, i) => {
    const code = line.replace(/(^|\s)#.*$/, "");
    for (const word of words(code)) check(word, i + 1, "cwd");
  });
}

/** Where compiled files run from: tsconfig.build.json's files, under its outDir. */
function compiledLocations(): Map<string, string> {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.build.json"), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  });
  const { outDir, rootDir } = config?.options ?? {};
  if (!config || !outDir || !rootDir) throw new Error("tsconfig.build.json: no outDir/rootDir");
  return new Map(
    config.fileNames.map((f) => [
      relative(ROOT, f).split(sep).join("/"),
      relative(ROOT, join(outDir, relative(rootDir, dirname(f)))),
    ]),
  );
}

function scannedFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
      const path = `${dir}/${entry.name}`;
      return entry.isDirectory() ? walk(path) : [path];
    });
  const topLevel = readdirSync(ROOT).filter(
    (name) =>
      name === "package.json" || name === "vitest.config.ts" || /^tsconfig.*\.json$/.test(name),
  );
  return [...topLevel, ...["src", "test", "tools", ".ci"].flatMap(walk)].sort();
}

describe("the repository", () => {
  const files = scannedFiles();

  it("scans the code, tests, tools, CI script and configuration", () => {
    for (const file of [".ci/run", "package.json", "src/main.ts", "tsconfig.build.json"]) {
      expect(files).toContain(file);
    }
    expect(files.filter((f) => kindOf(f) === undefined)).toEqual([]);
  });

  it("refers to no path outside itself", () => {
    const compiled = compiledLocations();
    const escapes = files.flatMap((file) =>
      findEscapes(ROOT, {
        file,
        text: readFileSync(join(ROOT, file), "utf8"),
        runsFrom: compiled.get(file),
      }),
    );
    expect(escapes.map(describeEscape)).toEqual([]);
  });
});

describe("the check", () => {
  const root = "/synthetic/repo";
  const escapes = (source: Source) => findEscapes(root, source).map(describeEscape);

  it.each([
    {
      case: "a URL relative to the module (the Render contract's old ../shared)",
      source: {
        file: "test/render/contract.ts",
        text: `// Render's documents\nconst SHARED = new URL("../../../shared/render-api/", import.meta.url);`,
      },
      found: `test/render/contract.ts:2: "../../../shared/render-api/" leaves the repository (/synthetic/shared/render-api)`,
    },
    {
      case: "a file read relative to the working directory",
      source: { file: "test/x.test.ts", text: `readFileSync("../shared/a.yml", "utf8");` },
      found: `test/x.test.ts:1: "../shared/a.yml" leaves the repository (/synthetic/shared/a.yml)`,
    },
    {
      case: "path segments joined",
      source: { file: "test/helpers/x.ts", text: `join(here, "..", "..", "..", "shared");` },
      found: `test/helpers/x.ts:1: "../../../shared" leaves the repository (/synthetic/shared)`,
    },
    {
      case: "a template literal's head",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the input is TypeScript source
      source: { file: "src/x.ts", text: "const p = `../../shared/${name}`;" },
      found: `src/x.ts:1: "../../shared/" leaves the repository (/synthetic/shared)`,
    },
    {
      case: "a module outside",
      source: { file: "test/x.test.ts", text: `import { spec } from "../../shared/spec.js";` },
      found: `test/x.test.ts:1: "../../shared/spec.js" leaves the repository (/synthetic/shared/spec.js)`,
    },
    {
      case: "an absolute path beside the checkout",
      source: { file: "tools/x.ts", text: `const dir = "/synthetic/shared/render-api";` },
      found: `tools/x.ts:1: "/synthetic/shared/render-api" leaves the repository (/synthetic/shared/render-api)`,
    },
    {
      case: "an npm script",
      source: {
        file: "package.json",
        text: `{\n  "scripts": { "pretest": "node ../shared/check.js" }\n}`,
      },
      found: `package.json:2: "../shared/check.js" leaves the repository (/synthetic/shared/check.js)`,
    },
    {
      case: "a CI script",
      source: { file: ".ci/run", text: `#!/usr/bin/env bash\ncp -r ../shared/render-api test/` },
      found: `.ci/run:2: "../shared/render-api" leaves the repository (/synthetic/shared/render-api)`,
    },
    {
      case: "a compiled file's URL read from its source location",
      source: { file: "src/main.ts", text: `new URL("../../package.json", import.meta.url);` },
      found: `src/main.ts:1: "../../package.json" leaves the repository (/synthetic/package.json)`,
    },
  ])("finds $case", ({ source, found }) => {
    expect(escapes(source)).toEqual([found]);
  });

  it.each([
    {
      case: "a URL into dist/ from test/helpers/",
      source: {
        file: "test/helpers/server.ts",
        text: `const MAIN = fileURLToPath(new URL("../../dist/src/main.js", import.meta.url));`,
      },
    },
    {
      case: "a compiled file's URL from where it runs (dist/src/)",
      source: {
        file: "src/main.ts",
        text: `new URL("../../package.json", import.meta.url);`,
        runsFrom: "dist/src",
      },
    },
    {
      case: "paths in comments",
      source: {
        file: "src/x.ts",
        text: `/** Render's documents (../../../shared/render-api). */\n// ../../x`,
      },
    },
    {
      case: "a path that climbs and comes back",
      source: {
        file: "test/x.test.ts",
        text: `mkdirSync(join(dir, ".."));\nimport "../src/a.js";`,
      },
    },
    {
      case: "a URL scheme",
      source: { file: "src/x.ts", text: `if (url.protocol === "file:") load(url);` },
    },
    {
      case: "system paths",
      source: { file: "test/x.ts", text: `const chromium = "/usr/bin/chromium";` },
    },
    {
      case: "the CI script's way to the root",
      source: { file: ".ci/run", text: `cd "$(dirname "$0")/.." # the repository\n# ../shared` },
    },
  ])("accepts $case", ({ source }) => {
    expect(escapes(source)).toEqual([]);
  });
});
