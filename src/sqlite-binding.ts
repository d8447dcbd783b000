import Database from "better-sqlite3";
import { errorMessage } from "./error-message.js";

/** Node.js's NODE_MODULE_VERSION (process.versions.modules) per major release. */
const NODE_OF_MODULE_VERSION: Readonly<Record<string, string>> = {
  "108": "18",
  "115": "20",
  "120": "21",
  "127": "22",
  "131": "23",
  "137": "24",
  "141": "25",
};

const nodeOf = (moduleVersion: string) =>
  NODE_OF_MODULE_VERSION[moduleVersion] === undefined
    ? `another Node.js (NODE_MODULE_VERSION ${moduleVersion})`
    : `Node.js ${NODE_OF_MODULE_VERSION[moduleVersion]} (NODE_MODULE_VERSION ${moduleVersion})`;

const FIX =
  "run `npm rebuild better-sqlite3` (or `npm ci`) with the Node.js you start the server with";

/**
 * Why better-sqlite3's native module did not load, in one whole line. Its
 * usual cause is an install under one Node.js and a start under another:
 * the module is built for the Node.js that ran `npm ci`.
 */
export function bindingFailure(
  error: unknown,
  running: { version: string; modules: string } = {
    version: process.version,
    modules: process.versions.modules,
  },
): string {
  const text = errorMessage(error).replace(/\s+/g, " ");
  const versions =
    /NODE_MODULE_VERSION (\d+)\. This version of Node\.js requires NODE_MODULE_VERSION (\d+)/.exec(
      text,
    );
  if (versions) {
    return `better-sqlite3 was built for ${nodeOf(versions[1] as string)}, and this is Node.js ${running.version} (NODE_MODULE_VERSION ${versions[2] ?? running.modules}): ${FIX}`;
  }
  return `better-sqlite3's native module cannot be loaded (${text.slice(0, 300)}): ${FIX}`;
}

/**
 * Loads better-sqlite3's native module once, before anything opens a file:
 * its failure is then reported as what it is, not as a file that cannot be
 * opened. Throws an Error whose message is bindingFailure's line.
 */
export function checkSqliteBinding(): void {
  try {
    new Database(":memory:").close();
  } catch (error) {
    throw new Error(bindingFailure(error), { cause: error });
  }
}
