/**
 * Property-based tests (fast-check) of the whole request path: whatever a
 * client sends to POST /mcp — arbitrary tool arguments, JSON-RPC-ish
 * envelopes, raw bytes, odd 2026-07-28 headers, odd Authorization headers —
 * it gets a well-formed answer with a status decided per category, and the
 * server stays up, healthy and quiet (no long log lines, no error logs).
 *
 * Reproducible: every property runs with the fixed SEED and a bounded number
 * of runs. Counterexamples print as small descriptors (a depth, a size, a
 * kind), not as the megabytes they stand for: bodies are rendered from them.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { brotliDecompressSync, gunzipSync, gzipSync, inflateSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODERN, mirroredName, type Stack, startStack, TASKS_CAPABILITY } from "./helpers/stack.js";

const SEED = 20_260_728;
/** Runs per property: enough to reach the odd corners, few enough to keep the file well under a minute. */
const RUNS = 250;
const ADMIN = "workflows:read workflows:run workflows:cancel workflows:admin";
const READ_ONLY = "workflows:read";
const MAX_BODY_BYTES = 5 * 1024 * 1024;
/** No log line may be longer: request-derived text is bounded before it is logged. */
const MAX_LOG_LINE = 4096;
/** Node's default limit on a request's header block; above it the HTTP parser answers 431 itself. */
const NODE_MAX_HEADER_BYTES = 16 * 1024;
/** A stack trace, in any string a client gets. */
const STACK_TRACE = /\n\s+at |\bat [\w.<>$]+ \(.*:\d+:\d+\)/;
/** Where the server lives on disk: never in an answer. */
const INTERNAL_PATH = new RegExp(
  `${process.cwd().replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}|node_modules|file://|/dist/src/|workflows-mcp-[A-Za-z0-9]{6}`,
);
/** Tasks the fuzzer may name that finish at once; the others (sleep, spin, hog, …) are left alone. */
const CHEAP_TASKS = ["echo", "add", "fail"] as const;
/**
 * Error codes a tool error may carry for what a caller sent; ERR_INTERNAL (a
 * bug on our side) and the backend's and store's outages are not among them.
 */
const TOOL_ERROR_CODES = new Set([
  "ERR_INVALID_ARGUMENTS",
  "ERR_INVALID_CURSOR",
  "ERR_NOT_ROOT_RUN",
  "ERR_INVALID_INPUT",
  "ERR_INPUT_TOO_LARGE",
  "ERR_RUN_NOT_FOUND",
  "ERR_UNKNOWN_TASK",
  "ERR_LIMIT_REACHED",
]);

// ---------------------------------------------------------------------------
// JSON texts, described small and rendered big

/** A JSON text, as a descriptor: rendered by `text()` (no JSON.stringify of deep values). */
type J =
  | { raw: string }
  | { long: number; char: string }
  | { wide: number; item: string }
  | { deep: number; open: "[" | '{"a":' }
  | { obj: [string, J][] }
  | { arr: J[] };

function text(j: J): string {
  if ("raw" in j) return j.raw;
  if ("long" in j) return `"${j.char.repeat(j.long)}"`;
  if ("wide" in j) return `[${new Array(j.wide).fill(j.item).join(",")}]`;
  if ("deep" in j) {
    const [leaf, close] = j.open === "[" ? ["", "]"] : ["0", "}"];
    return j.open.repeat(j.deep) + leaf + close.repeat(j.deep);
  }
  if ("obj" in j) return `{${j.obj.map(([k, v]) => `${JSON.stringify(k)}:${text(v)}`).join(",")}}`;
  return `[${j.arr.map(text).join(",")}]`;
}

const raw = (value: unknown): J => ({ raw: JSON.stringify(value) });

/** Numbers and strings that trip parsers and validators. */
const oddLeaf = fc.constantFrom(
  "1e308",
  "-1e308",
  "1e309",
  "-0",
  "5e-324",
  "-1e-400",
  "123456789012345678901234567890",
  "0.1",
  "-1",
  "120",
  "121",
  '"NaN"',
  '"Infinity"',
  '"-0"',
  '""',
  '"2026-07-28T00:00:00Z"',
  '"not-a-time"',
  '"\\u0000"',
  '"\\ud800"',
  "true",
  "null",
  "{}",
  "[]",
  '["pending","running"]',
);

const PROTO_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "__defineGetter__",
];

/**
 * Values within the body limit: ordinary, odd, long, wide, a little deep (at
 * most 200 levels: deeper nesting has a property of its own), prototype-polluting.
 */
const { value, small } = fc.letrec<{ value: J; small: J }>((tie) => ({
  small: fc.oneof(
    { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(raw) },
    { weight: 3, arbitrary: oddLeaf.map((s) => ({ raw: s })) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }).map(raw) },
  ),
  value: fc.oneof(
    { weight: 10, arbitrary: tie("small") },
    {
      weight: 1,
      arbitrary: fc.record({
        long: fc.constantFrom(10_000, 1_000_000, 4_900_000),
        char: fc.constantFrom("a", "é", "\\u0000", "\\ud800"),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ wide: fc.constant(40_000), item: fc.constantFrom("0", '"x"', "{}") }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        deep: fc.constantFrom(10, 100, 200),
        open: fc.constantFrom("[" as const, '{"a":' as const),
      }),
    },
    {
      weight: 2,
      arbitrary: fc
        .array(fc.tuple(fc.constantFrom(...PROTO_KEYS), tie("small")), {
          minLength: 1,
          maxLength: 3,
        })
        .map((obj) => ({ obj })),
    },
    {
      weight: 2,
      arbitrary: fc
        .array(fc.tuple(fc.string({ maxLength: 8 }), tie("small")), { maxLength: 4 })
        .map((obj) => ({ obj })),
    },
    { weight: 1, arbitrary: fc.array(tie("small"), { maxLength: 4 }).map((arr) => ({ arr })) },
  ),
}));

/** A value for a named argument: plausible for it (so validation goes deeper) or anything. */
function argumentValue(key: string): fc.Arbitrary<J> {
  const plausible: Record<string, fc.Arbitrary<J>> = {
    task: fc.oneof(fc.constantFrom(...CHEAP_TASKS), fc.string({ maxLength: 20 })).map(raw),
    input: fc.oneof(
      fc.constant(raw([1, 2])),
      fc.array(value, { maxLength: 3 }).map((arr) => ({ arr })),
    ),
    wait_seconds: fc.constantFrom(0, 0, 1, 5, -1, 121, 0.5).map(raw),
    id: fc.oneof(fc.constant("trn-00000000000000000000"), fc.string({ maxLength: 300 })).map(raw),
    limit: fc.constantFrom(0, 1, 20, 100, 101, 1000, 1001).map(raw),
    status: fc
      .subarray(["pending", "running", "succeeded", "failed", "canceled", "bogus"])
      .map(raw),
  };
  const own = plausible[key];
  return own ? fc.oneof({ weight: 4, arbitrary: own }, { weight: 1, arbitrary: value }) : value;
}

/** Arguments for a tool: an object of its own keys (and others), or any other value. */
function argumentsFor({ keys, required }: ToolKeys): fc.Arbitrary<J> {
  const optional = keys.filter((k) => !required.includes(k));
  const own = fc
    .tuple(
      fc.nat(4).map((n) => n === 0),
      fc.subarray(optional),
    )
    .map(([dropRequired, chosen]) => [...(dropRequired ? [] : required), ...chosen]);
  const shaped = own.chain((chosen) =>
    fc
      .tuple(
        fc.tuple(...chosen.map((k) => argumentValue(k).map((v) => [k, v] as [string, J]))),
        fc.array(
          fc.tuple(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...PROTO_KEYS)), value),
          {
            maxLength: 2,
          },
        ),
      )
      .map(([mine, extra]) => ({ obj: [...mine, ...extra] }) as J),
  );
  return fc.oneof({ weight: 5, arbitrary: shaped }, { weight: 1, arbitrary: value });
}

// ---------------------------------------------------------------------------
// The server, one exchange, and what every answer must be

let stack: Stack;
let tokens: { admin: string; readOnly: string };
/** A tool's input keys, as tools/list shows them. */
interface ToolKeys {
  keys: string[];
  required: string[];
}
let toolKeys: Map<string, ToolKeys>;
/** Tools the read-only token may not call, as whoami says. */
let deniedToReadOnly: Set<string>;
/** whoami's and list_tasks' answers before any fuzzing: after it, they must be the same. */
let baseline: unknown[];
let logLinesChecked = 0;
/** Requests the server answered through express, and the "request" lines it logged for them. */
let answered = 0;
let requestLines = 0;
let logEntriesScanned = 0;

interface Answer {
  status: number;
  contentType: string;
  headers: Headers;
  text: string;
}

/** POSTs to /mcp as a conforming client would, but for `headers` (an undefined one is left out). */
async function post(
  body: string | Uint8Array,
  headers: Record<string, string | undefined>,
): Promise<Answer> {
  const all: Record<string, string | undefined> = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    ...headers,
  };
  const res = await fetch(`${stack.server.url}/mcp`, {
    method: "POST",
    headers: Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined),
    body,
  });
  // Node's HTTP parser answers an oversized header block itself: express never sees it, nor logs it.
  if (res.status !== 431) answered++;
  return {
    status: res.status,
    contentType: res.headers.get("content-type") ?? "",
    headers: res.headers,
    text: await res.text(),
  };
}

/** The body's JSON values: one for a JSON body, one per event of an SSE stream. Throws when not JSON. */
function jsonOf(answer: Answer): unknown[] {
  if (answer.contentType.startsWith("text/event-stream")) {
    const events = answer.text
      .split("\n")
      .filter((line) => line.startsWith("data: "))
      .map((line) => JSON.parse(line.slice("data: ".length)) as unknown);
    expect(events.length).toBeGreaterThan(0);
    return events.flatMap((event) => (Array.isArray(event) ? event : [event]));
  }
  expect(answer.contentType).toMatch(/^application\/json\b/);
  const parsed: unknown = JSON.parse(answer.text);
  return Array.isArray(parsed) ? parsed : [parsed];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function strings(value: unknown, into: string[] = []): string[] {
  if (typeof value === "string") into.push(value);
  else if (Array.isArray(value)) for (const item of value) strings(item, into);
  else if (isRecord(value)) for (const item of Object.values(value)) strings(item, into);
  return into;
}

/**
 * What every answer must be: a status from `allowed`; an empty body for 202
 * and 431, else JSON (or SSE events of JSON); every JSON-RPC error with an
 * integer code and a string message; no stack trace in an error or a tool
 * error; no internal path anywhere. Returns the body's JSON values.
 */
function wellFormed(answer: Answer, allowed: readonly number[]): Record<string, unknown>[] {
  expect(allowed, `status ${answer.status}: ${answer.text.slice(0, 300)}`).toContain(answer.status);
  expect(answer.text).not.toMatch(INTERNAL_PATH);
  if (answer.status === 202 || answer.status === 431) {
    expect(answer.text).toBe("");
    return [];
  }
  const messages = jsonOf(answer);
  for (const message of messages) {
    expect(isRecord(message)).toBe(true);
    const m = message as Record<string, unknown>;
    if (answer.status === 401) {
      expect(typeof m.error).toBe("string");
      expect(typeof m.error_description).toBe("string");
      continue;
    }
    expect(m.jsonrpc).toBe("2.0");
    const carried: unknown[] = [];
    if ("error" in m) {
      const error = m.error as Record<string, unknown>;
      expect(isRecord(error)).toBe(true);
      expect(Number.isInteger(error.code)).toBe(true);
      expect(typeof error.message).toBe("string");
      carried.push(error);
    } else {
      expect("result" in m).toBe(true);
      const result = m.result as Record<string, unknown>;
      if (result.isError === true) carried.push(result);
    }
    for (const s of strings(carried)) expect(s).not.toMatch(STACK_TRACE);
  }
  return messages as Record<string, unknown>[];
}

/** After every run: the process lives, /healthz answers 200, and its new log lines are short and not errors. */
async function serverIsWell(): Promise<void> {
  expect(stack.server.child.exitCode).toBeNull();
  expect(stack.server.child.signalCode).toBeNull();
  const health = await fetch(`${stack.server.url}/healthz`);
  answered++;
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: "ok" });
  await logsCaughtUp();
  const lines = stack.server.output.slice(logLinesChecked);
  logLinesChecked += lines.length;
  for (const line of lines) {
    expect(line.length, line.slice(0, 300)).toBeLessThanOrEqual(MAX_LOG_LINE);
    expect(line, "an error-level log line").not.toMatch(/"level":(50|60)/);
  }
}

/**
 * Waits until the server has logged its line for every request it answered
 * (one "request" line each, written once the answer is sent): then every line
 * a request caused is in, and is blamed on the run that sent it.
 */
async function logsCaughtUp(): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const { logs } = stack.server;
    for (; logEntriesScanned < logs.length; logEntriesScanned++) {
      if (logs[logEntriesScanned]?.msg === "request") requestLines++;
    }
    if (requestLines >= answered) return;
    if (Date.now() > deadline) {
      throw new Error(`the server logged ${requestLines} request lines for ${answered} answers`);
    }
    await sleep(5);
  }
}

/** A property's predicate, followed by the checks every run ends with. */
function checked<A extends unknown[]>(predicate: (...args: A) => Promise<void>) {
  return async (...args: A): Promise<void> => {
    try {
      await predicate(...args);
    } catch (error) {
      // What this run made the server log is this run's: the next run starts clean.
      await logsCaughtUp().catch(() => undefined);
      logLinesChecked = stack.server.output.length;
      throw error;
    }
    await serverIsWell();
  };
}

/** The code of a JSON-RPC error message, or undefined. */
const codeOf = (message: Record<string, unknown> | undefined) =>
  (message?.error as { code?: unknown } | undefined)?.code;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The `_meta` envelope of a 2026-07-28 request. */
const ENVELOPE = JSON.stringify({
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "fuzz", version: "1.0.0" },
});
const ENVELOPE_WITH_TASKS = JSON.stringify({
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": TASKS_CAPABILITY,
  "io.modelcontextprotocol/clientInfo": { name: "fuzz", version: "1.0.0" },
});
/** SEP-2243's sentinel for a header value a header cannot carry as is. */
const base64Header = (value: string) => `=?base64?${Buffer.from(value).toString("base64")}?=`;

/** A tools/call body as text, in either era, and the headers a conforming client sends with it. */
function toolCallRequest(
  era: "modern" | "legacy",
  id: number | string,
  name: string,
  args: string,
): { body: string; headers: Record<string, string> } {
  const meta = era === "modern" ? `,"_meta":${ENVELOPE}` : "";
  const body = `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"tools/call","params":{"name":${JSON.stringify(name)},"arguments":${args}${meta}}}`;
  const headers: Record<string, string> =
    era === "modern"
      ? {
          "mcp-protocol-version": MODERN,
          "mcp-method": "tools/call",
          "mcp-name": base64Header(name),
        }
      : {};
  return { body, headers };
}

async function callTool(token: string, name: string, args: Record<string, unknown> = {}) {
  const { body } = toolCallRequest("legacy", 1, name, JSON.stringify(args));
  const [message] = wellFormed(await post(body, bearer(token)), [200]);
  return (message as { result: { structuredContent: unknown } }).result.structuredContent;
}

/** Nothing the fuzzer sent changed what the server says about the caller or the catalogue. */
async function unchanged(): Promise<void> {
  expect([
    await callTool(tokens.admin, "whoami"),
    await callTool(tokens.admin, "list_tasks"),
  ]).toEqual(baseline);
}

// ---------------------------------------------------------------------------
// Envelopes, raw bodies, headers, tokens

const KNOWN_METHODS = [
  "initialize",
  "ping",
  "tools/list",
  "tools/call",
  "resources/list",
  "resources/read",
  "prompts/list",
  "prompts/get",
  "completion/complete",
  "logging/setLevel",
  "tasks/get",
  "tasks/list",
  "tasks/cancel",
  "tasks/result",
  "tasks/update",
  "server/discover",
  "notifications/initialized",
  "notifications/cancelled",
  "notifications/progress",
];

interface Envelope {
  jsonrpc?: string;
  id?: string;
  method?: string;
  params?: J;
  result?: string;
  error?: string;
}

/** A value one time in ten, else undefined. */
const rarely = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

/** One JSON-RPC-ish message: each member present or not, well-typed or not. */
const envelope: fc.Arbitrary<Envelope> = fc.record({
  jsonrpc: fc.option(
    fc.oneof(
      { weight: 8, arbitrary: fc.constant('"2.0"') },
      { weight: 1, arbitrary: fc.constantFrom('"1.0"', "2", "2.0", "null", '""', '"2.0 "', "{}") },
    ),
    { nil: undefined, freq: 10 },
  ),
  id: fc.option(
    fc.oneof(
      { weight: 3, arbitrary: fc.integer().map(String) },
      { weight: 2, arbitrary: fc.string({ maxLength: 10 }).map((s) => JSON.stringify(s)) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          "null",
          "1.5",
          "-0",
          "1e308",
          "{}",
          "[]",
          "true",
          "123456789012345678901234567890",
          JSON.stringify("i".repeat(100_000)),
        ),
      },
    ),
    { nil: undefined, freq: 4 },
  ),
  method: fc.option(
    fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...KNOWN_METHODS).map((m) => JSON.stringify(m)) },
      { weight: 2, arbitrary: fc.string({ maxLength: 30 }).map((m) => JSON.stringify(m)) },
      { weight: 1, arbitrary: fc.constantFrom(...PROTO_KEYS).map((m) => JSON.stringify(m)) },
      { weight: 1, arbitrary: fc.constant(JSON.stringify("m".repeat(100 * 1024))) },
      { weight: 1, arbitrary: fc.constantFrom("5", "null", "{}", "[]", "true") },
    ),
    { nil: undefined, freq: 10 },
  ),
  params: fc.option(
    fc.oneof(
      { weight: 3, arbitrary: small },
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom("whoami", "list_tasks", "start_task_run", "nope"), small)
          .map(
            ([name, args]) =>
              ({
                obj: [
                  ["name", raw(name)],
                  ["arguments", args],
                ],
              }) as J,
          ),
      },
    ),
    { nil: undefined, freq: 3 },
  ),
  // A response's members, now and then.
  result: rarely(fc.constantFrom("{}", "null", "1")),
  error: rarely(fc.constantFrom('{"code":1,"message":"x"}', "{}", '"x"')),
});

function renderEnvelope(e: Envelope): string {
  const members = [
    e.jsonrpc === undefined ? undefined : `"jsonrpc":${e.jsonrpc}`,
    e.id === undefined ? undefined : `"id":${e.id}`,
    e.method === undefined ? undefined : `"method":${e.method}`,
    e.params === undefined ? undefined : `"params":${text(e.params)}`,
    e.result === undefined ? undefined : `"result":${e.result}`,
    e.error === undefined ? undefined : `"error":${e.error}`,
  ];
  return `{${members.filter((m) => m !== undefined).join(",")}}`;
}

/** A message every JSON-RPC 2.0 server must take (params an object without a `_meta` envelope). */
function wellTyped(m: unknown): m is Record<string, unknown> {
  return (
    isRecord(m) &&
    m.jsonrpc === "2.0" &&
    typeof m.method === "string" &&
    (!("params" in m) || (isRecord(m.params) && !("_meta" in m.params))) &&
    !("result" in m) &&
    !("error" in m)
  );
}
const isRequest = (m: unknown): m is { id: string | number } =>
  wellTyped(m) && (typeof m.id === "string" || Number.isSafeInteger(m.id));
const isNotification = (m: unknown) => wellTyped(m) && !("id" in m);

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));
/** `n` bytes of deterministic noise. */
function noise(n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = n;
  for (let i = 0; i < n; i++) {
    x = (x * 1_103_515_245 + 12_345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
/** Whether the body parser would find JSON in these bytes (UTF-8, a leading BOM dropped). */
function parses(bytes: Uint8Array): boolean {
  try {
    JSON.parse(new TextDecoder("utf-8").decode(bytes));
    return true;
  } catch {
    return false;
  }
}
const VALID_CALL = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "tools/call",
  params: { name: "whoami", arguments: {} },
});
const GZIPPED_CALL = new Uint8Array(gzipSync(VALID_CALL));

interface ModernTarget {
  method: string;
  params: Record<string, unknown>;
  tasks?: boolean;
  /** The status when the headers mirror the body. */
  status: number;
  /** The JSON-RPC error code inside that answer, if it is one. */
  error?: number;
  /** An Mcp-Method and an Mcp-Name to send instead of the mirrored ones. */
  methodHeader: string | undefined;
  nameHeader: string | undefined;
}

/** A header value: the right one, absent, near misses, anything printable, or too big for Node. */
function headerVariant(right: string | undefined): fc.Arbitrary<string | undefined> {
  const wrong = fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength: 60 }) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        undefined,
        "2025-11-25",
        "2025-06-18",
        "2026-07-29",
        "",
        "=?base64?***?=",
        "=?base64??=",
      ),
    },
    { weight: 1, arbitrary: fc.constant("h".repeat(20_000)) },
  );
  if (right === undefined) return wrong;
  const nearlyRight = fc.constantFrom(
    ` ${right}\t`,
    right.toUpperCase(),
    `${right}x`,
    base64Header(right),
  );
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(right) },
    { weight: 2, arbitrary: nearlyRight },
    { weight: 2, arbitrary: wrong },
  );
}

/** What the header property sends in the body; the headers it then tries come with it. */
const modernTarget: fc.Arbitrary<ModernTarget> = fc
  .oneof(
    fc.constantFrom(
      { method: "tools/call", params: { name: "whoami", arguments: {} }, status: 200 },
      { method: "tools/call", params: { name: "list_tasks", arguments: {} }, status: 200 },
      { method: "tools/call", params: { name: "nope", arguments: {} }, status: 200, error: -32602 },
      { method: "tools/list", params: {}, status: 200 },
      { method: "server/discover", params: {}, status: 200 },
      { method: "tasks/get", params: { taskId: "trn-x" }, tasks: true, status: 200, error: -32602 },
      { method: "ping", params: {}, status: 404 },
    ),
    fc
      .string({ minLength: 1, maxLength: 40 })
      .filter(
        (m) =>
          m.trim() === m &&
          m.length > 0 &&
          !KNOWN_METHODS.includes(m) &&
          !m.startsWith("notifications/"),
      )
      .map((method) => ({ method, params: {}, status: 404 })),
  )
  .chain((target) =>
    fc.record({
      method: fc.constant(target.method),
      params: fc.constant(target.params as Record<string, unknown>),
      tasks: fc.constant("tasks" in target ? target.tasks : undefined),
      status: fc.constant(target.status),
      error: fc.constant("error" in target ? target.error : undefined),
      methodHeader: headerVariant(target.method),
      nameHeader: headerVariant(mirroredName(target.method, target.params)),
    }),
  );

/** The value an Mcp-Name header stands for (SEP-2243's Base64 sentinel decoded). */
function decodeName(value: string | undefined): string | undefined {
  const encoded =
    value === undefined ? undefined : /^=\?base64\?([A-Za-z0-9+/=]*)\?=$/.exec(value)?.[1];
  return encoded === undefined ? value : Buffer.from(encoded, "base64").toString("utf8");
}

let invalidTokens: string[] = [];
/** Real tokens from the real issuer that must still be refused (minted in beforeAll). */
const badTokens = () => invalidTokens;

const settings = { seed: SEED, numRuns: RUNS };

beforeAll(async () => {
  stack = await startStack({
    RATE_LIMIT_REQUESTS_PER_MINUTE: "0",
    RATE_LIMIT_RUNS_PER_MINUTE: "0",
  });
  tokens = {
    admin: await stack.issuer.sign({
      sub: "fuzz-admin",
      scope: ADMIN,
      exp: Math.floor(Date.now() / 1000) + 3600,
    }),
    readOnly: await stack.issuer.sign({
      sub: "fuzz-reader",
      scope: READ_ONLY,
      exp: Math.floor(Date.now() / 1000) + 3600,
    }),
  };
  const list = wellFormed(
    await post(
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      bearer(tokens.admin),
    ),
    [200],
  )[0] as {
    result: {
      tools: { name: string; inputSchema: { properties?: object; required?: string[] } }[];
    };
  };
  toolKeys = new Map(
    list.result.tools.map((t) => [
      t.name,
      { keys: Object.keys(t.inputSchema.properties ?? {}), required: t.inputSchema.required ?? [] },
    ]),
  );
  const reader = (await callTool(tokens.readOnly, "whoami")) as { deniedTools: { name: string }[] };
  deniedToReadOnly = new Set(reader.deniedTools.map((t) => t.name));
  baseline = [await callTool(tokens.admin, "whoami"), await callTool(tokens.admin, "list_tasks")];
  const real = await stack.issuer.sign({ sub: "fuzz-admin", scope: ADMIN });
  const [head, payload, signature] = real.split(".") as [string, string, string];
  const flipped = signature[10] === "A" ? "B" : "A";
  invalidTokens = [
    await stack.issuer.sign({ sub: "expired" }, { expiresIn: -120 }),
    await stack.issuer.sign({ sub: "foreign" }, { foreignKey: true }),
    await stack.issuer.sign({ sub: "elsewhere", aud: "http://other.test/mcp" }),
    await stack.issuer.sign({ sub: "impostor", iss: "http://127.0.0.1:1" }),
    await stack.issuer.sign({ sub: undefined }),
    await stack.issuer.sign({ sub: "s".repeat(5_000) }),
    await stack.issuer.sign({ sub: "unknown-kid" }, { header: { kid: "no-such-key" } }),
    `${head}.${payload}.${signature.slice(0, 10)}${flipped}${signature.slice(11)}`,
    `${head}.${payload}.`,
    `${head}.${payload}`,
    `${real}x`,
  ];
  await serverIsWell();
});
afterAll(() => stack?.close());

describe("fuzzing POST /mcp", () => {
  it("the tools and their scopes are what the properties assume", () => {
    expect([...toolKeys.keys()]).toEqual(
      expect.arrayContaining(["whoami", "start_task_run", "list_audit_events"]),
    );
    expect([...deniedToReadOnly].sort()).toEqual(
      expect.arrayContaining(["cancel_task_run", "list_audit_events", "start_task_run"]),
    );
    expect(deniedToReadOnly.has("whoami")).toBe(false);
  });

  it(`tool arguments: any JSON value for any tool, both eras → 200 (403 where the token lacks the tool's scope, 413 over ${MAX_BODY_BYTES} bytes); a result or a -32602, never ERR_INTERNAL`, async () => {
    const names = [...toolKeys.keys()];
    const call = fc.oneof(
      {
        weight: 9,
        arbitrary: fc.constantFrom(...names).chain((name) =>
          fc.record({
            name: fc.constant(name),
            args: argumentsFor(toolKeys.get(name) as ToolKeys),
          }),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          name: fc.oneof(
            fc.string({ maxLength: 40 }),
            fc.constantFrom(...PROTO_KEYS, "", "whoami ", "WHOAMI", "x".repeat(1_000)),
          ),
          args: value,
        }),
      },
    );
    await fc.assert(
      fc.asyncProperty(
        call,
        fc.constantFrom("modern" as const, "legacy" as const),
        fc.constantFrom("admin" as const, "readOnly" as const),
        fc.oneof(fc.integer(), fc.string({ maxLength: 12 })),
        checked(async ({ name, args }, era, who, id) => {
          const request = toolCallRequest(era, id, name, text(args));
          const answer = await post(request.body, { ...request.headers, ...bearer(tokens[who]) });
          const known = toolKeys.has(name);
          const expected =
            Buffer.byteLength(request.body) > MAX_BODY_BYTES
              ? 413
              : who === "readOnly" && deniedToReadOnly.has(name)
                ? 403
                : 200;
          const [message] = wellFormed(answer, [expected]);
          if (expected === 403) {
            expect(answer.headers.get("www-authenticate")).toMatch(
              /^Bearer .*error="insufficient_scope"/,
            );
            expect(codeOf(message)).toBe(-32003);
          }
          if (expected !== 200) return;
          expect(message?.id).toBe(id);
          const argsAreObject = isRecord(JSON.parse(text(args)));
          if (!known || !argsAreObject) {
            expect(codeOf(message)).toBe(-32602);
            return;
          }
          const result = message?.result as {
            isError?: boolean;
            content: { type: string; text: string }[];
            structuredContent?: unknown;
            _meta?: Record<string, { code: string }>;
          };
          expect(result.content[0]?.type).toBe("text");
          expect(typeof result.content[0]?.text).toBe("string");
          if (result.isError) {
            expect([...TOOL_ERROR_CODES]).toContain(result._meta?.["workflows-mcp/error"]?.code);
          } else {
            expect(isRecord(result.structuredContent)).toBe(true);
          }
        }),
      ),
      settings,
    );
    await unchanged();
  }, 50_000);

  it("JSON-RPC-ish envelopes on the 2025 path (odd jsonrpc, ids, methods of every shape, params of every type, batches, notifications) → 200, 202 or 400: 400 (-32600) for what is not JSON-RPC, 200 with one answer per request or 202 for well-formed messages", async () => {
    const body = fc.oneof(
      { weight: 6, arbitrary: envelope.map((one) => ({ one })) },
      { weight: 2, arbitrary: fc.array(envelope, { maxLength: 4 }).map((batch) => ({ batch })) },
      { weight: 1, arbitrary: small.map((other) => ({ other })) },
    );
    await fc.assert(
      fc.asyncProperty(
        body,
        checked(async (b) => {
          const rendered =
            "one" in b
              ? renderEnvelope(b.one)
              : "batch" in b
                ? `[${b.batch.map(renderEnvelope).join(",")}]`
                : text(b.other);
          const sent: unknown = JSON.parse(rendered);
          const answer = await post(rendered, bearer(tokens.admin));
          const messages = wellFormed(answer, [200, 202, 400]);
          const list = Array.isArray(sent) ? sent : [sent];
          const requests = list.filter(isRequest);
          const valid = list.every((m) => isRequest(m) || isNotification(m));
          const code = () => codeOf(messages[0]);
          if (!isRecord(sent) && !Array.isArray(sent)) {
            expect(answer.status).toBe(400);
            expect(code()).toBe(-32600);
          } else if (list.length === 0) {
            expect(answer.status).toBe(400);
            expect(code()).toBe(-32600);
          } else if (isRecord(sent) && sent.jsonrpc !== "2.0") {
            expect(answer.status).toBe(400);
            expect(code()).toBe(-32600);
          } else if (valid) {
            expect(answer.status).toBe(requests.length > 0 ? 200 : 202);
            // One answer per request, each naming its id, in any order (JSON-RPC batches
            // are answered as they finish). -0 is 0 once it has been through JSON.
            const ids = (list: { id?: unknown }[]) =>
              list.map((m) => JSON.stringify(m.id === 0 ? 0 : m.id)).sort();
            expect(ids(messages)).toEqual(ids(requests));
          }
          if (answer.status === 200) {
            const ids = requests.map((r) => r.id);
            for (const m of messages) expect(ids.some((id) => id === m.id)).toBe(true);
          }
          if (answer.status === 202) expect(requests).toEqual([]);
        }),
      ),
      settings,
    );
    await unchanged();
  }, 50_000);

  it("raw bodies: arbitrary bytes under every Content-Type and Content-Encoding → 400 (-32700 not JSON, -32600 not JSON-RPC), 413, or 415, each exactly when it should", async () => {
    const bytes = fc.oneof(
      { weight: 6, arbitrary: fc.uint8Array({ maxLength: 512 }) },
      { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 200 }).map(utf8) },
      { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => utf8(JSON.stringify(v))) },
      {
        weight: 2,
        arbitrary: fc.nat(VALID_CALL.length - 1).map((n) => utf8(VALID_CALL.slice(0, n))),
      },
      // Big noise as its size only, so a counterexample prints small.
      { weight: 1, arbitrary: fc.constantFrom(100_000, 1_000_000, MAX_BODY_BYTES + 1) },
    );
    const contentType = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          { value: "application/json", json: true },
          { value: "application/json; charset=utf-8", json: true },
          { value: "Application/JSON", json: true },
        ),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          { value: "application/json; charset=latin1", json: "charset" },
          { value: "text/plain", json: false },
          { value: "application/x-www-form-urlencoded", json: false },
          { value: "multipart/form-data; boundary=x", json: false },
          { value: "application/json-seq", json: false },
          { value: undefined, json: false },
        ),
      },
    );
    const encoding = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(undefined, "identity", "gzip") },
      { weight: 1, arbitrary: fc.constant("x-unknown") },
    );
    await fc.assert(
      fc.asyncProperty(
        bytes,
        contentType,
        encoding,
        checked(async (bytesOrSize, type, coding) => {
          const payload = typeof bytesOrSize === "number" ? noise(bytesOrSize) : bytesOrSize;
          const sent = coding === "gzip" ? gzipSync(payload) : payload;
          const answer = await post(sent, {
            ...bearer(tokens.admin),
            "content-type": type.value,
            ...(coding ? { "content-encoding": coding } : {}),
          });
          let expected: [number, number];
          if (!type.json) expected = [415, -32000];
          else if (type.json === "charset" || coding === "x-unknown") expected = [415, -32600];
          else if (Math.max(sent.byteLength, payload.byteLength) > MAX_BODY_BYTES)
            expected = [413, -32600];
          else if (payload.byteLength === 0) expected = [400, -32600];
          else expected = parses(payload) ? [400, -32600] : [400, -32700];
          const [message] = wellFormed(answer, [expected[0]]);
          expect(codeOf(message)).toBe(expected[1]);
        }),
      ),
      settings,
    );
  }, 50_000);

  it(`2026-07-28 headers: arbitrary MCP-Protocol-Version, Mcp-Method and Mcp-Name → the method's own answer when they mirror the body, 400 (-32020) when not, 431 when the header block exceeds Node's ${NODE_MAX_HEADER_BYTES} bytes`, async () => {
    await fc.assert(
      fc.asyncProperty(
        modernTarget,
        headerVariant(MODERN),
        fc.nat(3).map((n) => n === 0),
        fc.nat(3).map((n) => n === 0),
        checked(async (target, version, methodChoice, nameChoice) => {
          const expectedName = mirroredName(target.method, target.params);
          const method = methodChoice ? target.methodHeader : target.method;
          const name = nameChoice ? target.nameHeader : expectedName;
          const headers: Record<string, string> = { ...bearer(tokens.admin) };
          if (version !== undefined) headers["mcp-protocol-version"] = version;
          if (method !== undefined) headers["mcp-method"] = method;
          if (name !== undefined) headers["mcp-name"] = name;
          const envelope = target.tasks ? ENVELOPE_WITH_TASKS : ENVELOPE;
          const params = JSON.stringify(target.params)
            .replace(/^\{/, `{"_meta":${envelope},`)
            .replace(",}", "}");
          const rendered = `{"jsonrpc":"2.0","id":7,"method":${JSON.stringify(target.method)},"params":${params}}`;
          const answer = await post(rendered, headers);
          const headerBytes = Object.entries(headers).reduce(
            (n, [k, v]) => n + k.length + v.length + 4,
            0,
          );
          if (headerBytes > NODE_MAX_HEADER_BYTES) {
            wellFormed(answer, [431]);
            return;
          }
          const mirrored =
            version?.trim() === MODERN &&
            method?.trim() === target.method &&
            (expectedName === undefined || decodeName(name?.trim()) === expectedName);
          const [message] = wellFormed(answer, [mirrored ? target.status : 400]);
          const error = message?.error as { code: number } | undefined;
          if (!mirrored) expect(error?.code).toBe(-32020);
          else if (target.status === 404) expect(error?.code).toBe(-32601);
          else if (target.error) expect(error?.code).toBe(target.error);
          else expect(isRecord(message?.result)).toBe(true);
          if (answer.status !== 400) expect(message?.id).toBe(7);
        }),
      ),
      settings,
    );
  }, 50_000);

  it("HTTP method and Accept: anything but POST → 405 (Allow: POST); a 2025-era POST whose Accept lacks application/json or text/event-stream → 406; a 2026-07-28 POST → 200 whatever its Accept", async () => {
    const accept = fc.oneof(
      fc.constant(undefined),
      fc
        .subarray([
          "application/json",
          "text/event-stream",
          "*/*",
          "text/html",
          "application/*",
          "text/*",
        ])
        .chain((types) => fc.shuffledSubarray(types, { minLength: types.length }))
        .map((types) => types.join(", ")),
      fc.string({ maxLength: 60 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH", "HEAD"),
        accept,
        fc.constantFrom("modern" as const, "legacy" as const),
        checked(async (method, acceptValue, era) => {
          const request = toolCallRequest(era, 3, "whoami", "{}");
          const res = await fetch(`${stack.server.url}/mcp`, {
            method,
            headers: Object.entries({
              "content-type": "application/json",
              ...request.headers,
              ...bearer(tokens.admin),
              accept: acceptValue,
            }).filter((e): e is [string, string] => e[1] !== undefined),
            ...(method === "GET" || method === "HEAD" ? {} : { body: request.body }),
          });
          answered++;
          const answer: Answer = {
            status: res.status,
            contentType: res.headers.get("content-type") ?? "",
            headers: res.headers,
            text: await res.text(),
          };
          // The 2025-era transport checks Accept for both media types, as written (case-sensitively).
          const acceptable =
            era === "modern" ||
            (acceptValue?.includes("application/json") === true &&
              acceptValue.includes("text/event-stream"));
          const expected = method !== "POST" ? 405 : acceptable ? 200 : 406;
          if (method === "HEAD") {
            expect(answer.status).toBe(405);
            expect(answer.text).toBe("");
            return;
          }
          const [message] = wellFormed(answer, [expected]);
          if (expected === 405) expect(answer.headers.get("allow")).toBe("POST");
          if (expected === 200) {
            const result = message?.result as { structuredContent?: { subject?: string } };
            expect(result.structuredContent?.subject).toBe("fuzz-admin");
          } else expect(codeOf(message)).toBe(-32000);
        }),
      ),
      settings,
    );
  }, 50_000);

  it("Authorization: any header value that is not a valid bearer token → 401 with a Bearer challenge and an OAuth error body", async () => {
    const b64 = (v: unknown) =>
      Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");
    const authorization = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ maxLength: 200 }).map((t) => `Bearer ${t}`),
      fc.stringMatching(/^[A-Za-z0-9\-._~+/]{1,300}={0,2}$/).map((t) => `Bearer ${t}`),
      fc
        .tuple(
          fc.jsonValue({ maxDepth: 2 }),
          fc.jsonValue({ maxDepth: 2 }),
          fc.uint8Array({ maxLength: 64 }),
        )
        .map(
          ([h, p, sig]) => `Bearer ${b64(h)}.${b64(p)}.${Buffer.from(sig).toString("base64url")}`,
        ),
      fc
        .tuple(
          fc.record({
            alg: fc.constantFrom("none", "HS256", "ES256", "RS256"),
            kid: fc.string({ maxLength: 20 }),
          }),
          fc.dictionary(
            fc.constantFrom("sub", "aud", "iss", "exp", "iat", "scope", "__proto__"),
            fc.jsonValue({ maxDepth: 1 }),
          ),
        )
        .map(([h, p]) => `Bearer ${b64(h)}.${b64(p)}.`),
      fc.constantFrom(...badTokens()).map((t) => `Bearer ${t}`),
      fc.constantFrom(
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer ",
        "Token abc",
        "Bearer a b",
        "Bearer\tabc",
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        authorization,
        fc.constantFrom("modern" as const, "legacy" as const),
        checked(async (value, era) => {
          const request = toolCallRequest(era, 1, "whoami", "{}");
          const answer = await post(request.body, { ...request.headers, authorization: value });
          const [body] = wellFormed(answer, [401]);
          expect(["unauthorized", "invalid_token"]).toContain(body?.error);
          expect(answer.headers.get("www-authenticate")).toMatch(
            /^Bearer (.+, )?resource_metadata="http:\/\/mcp\.test\/\.well-known\/oauth-protected-resource\/mcp"/,
          );
        }),
      ),
      settings,
    );
  }, 50_000);
});

describe("inputs that once broke the server (each pins its fix)", () => {
  it("nesting 1,000 to 1,000,000 levels deep anywhere in a request → 200 or 400 (413 over the body limit), never 500", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1_000, 5_000, 10_000, 100_000, 1_000_000),
        fc.constantFrom("[" as const, '{"a":' as const),
        fc.constantFrom("tool arguments", "task input", "params", "batch"),
        fc.constantFrom("modern" as const, "legacy" as const),
        checked(async (depth, open, where, era) => {
          const deep = text({ deep: depth, open });
          let request: { body: string; headers: Record<string, string> };
          if (where === "tool arguments")
            request = toolCallRequest(era, 1, "whoami", `{"x":${deep}}`);
          else if (where === "task input")
            request = toolCallRequest(
              era,
              1,
              "start_task_run",
              `{"task":"echo","input":[${deep}]}`,
            );
          else if (where === "params" && era === "modern")
            request = {
              body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":${ENVELOPE},"x":${deep}}}`,
              headers: { "mcp-protocol-version": MODERN, "mcp-method": "tools/list" },
            };
          else if (where === "params")
            request = {
              body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":${deep}}}`,
              headers: {},
            };
          else {
            const one = toolCallRequest("legacy", 1, "whoami", `{"x":${deep}}`);
            request = { body: `[${one.body}]`, headers: {} };
          }
          const answer = await post(request.body, { ...request.headers, ...bearer(tokens.admin) });
          const [message] = wellFormed(
            answer,
            Buffer.byteLength(request.body) > MAX_BODY_BYTES ? [413] : [200, 400],
          );
          if (answer.status === 400) expect(codeOf(message)).toBe(-32600);
        }),
      ),
      { seed: SEED, numRuns: 80 },
    );
  }, 50_000);

  it("a gzip, deflate or br body is decompressed and then answered as any body; one that does not decompress → 400 (-32700), never 500", async () => {
    const compressed = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 256 }),
      fc.nat(GZIPPED_CALL.length - 2).map((n) => GZIPPED_CALL.subarray(0, n + 1)),
    );
    await fc.assert(
      fc.asyncProperty(
        compressed,
        fc.constantFrom("gzip", "deflate", "br"),
        checked(async (payload, coding) => {
          const answer = await post(payload, {
            ...bearer(tokens.admin),
            "content-encoding": coding,
          });
          // What the body parser finds inside, as zlib itself says (undefined: it does not decompress).
          let inside: Uint8Array | undefined;
          try {
            const decompress = { gzip: gunzipSync, deflate: inflateSync, br: brotliDecompressSync };
            inside = new Uint8Array(decompress[coding](payload));
          } catch {
            inside = undefined;
          }
          const expected =
            inside === undefined || (inside.byteLength > 0 && !parses(inside)) ? -32700 : -32600;
          const [message] = wellFormed(answer, [400]);
          expect(codeOf(message)).toBe(expected);
        }),
      ),
      { seed: SEED, numRuns: 80 },
    );
  }, 50_000);

  it("a 2026-07-28 request whose method is an Object.prototype member is answered as an unknown method (404, -32601), not refused as a header mismatch", async () => {
    const answer = await post(
      `{"jsonrpc":"2.0","id":1,"method":"__proto__","params":{"_meta":${ENVELOPE},"[object Object]":"x"}}`,
      { ...bearer(tokens.admin), "mcp-protocol-version": MODERN, "mcp-method": "__proto__" },
    );
    const [message] = wellFormed(answer, [200, 400, 404]);
    expect({ status: answer.status, error: message?.error }).toEqual({
      status: 404,
      error: { code: -32601, message: "Method not found" },
    });
    await serverIsWell();
  });
});
