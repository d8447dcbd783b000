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
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MODERN, type Stack, startStack, TASKS_CAPABILITY } from "./helpers/stack.js";

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
  [process.cwd(), "node_modules", "file://", "/dist/src/", "workflows-mcp-[A-Za-z0-9]{6}"]
    .map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, (c) => (c === "[" || c === "]" ? c : `\\${c}`)))
    .join("|"),
);
/** Tasks the fuzzer may name that finish at once; the others (sleep, spin, hog, …) are left alone. */
const CHEAP_TASKS = ["echo", "add", "fail"] as const;
/** Error codes a tool error may carry here; ERR_INTERNAL (a bug on our side) is not one of them. */
const TOOL_ERROR_CODES = new Set([
  "ERR_INVALID_ARGUMENTS",
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

/** Values within the body limit: ordinary, odd, long, wide, a little deep, prototype-polluting. */
const value: fc.Arbitrary<J> = fc.letrec<{ value: J; small: J }>((tie) => ({
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
        deep: fc.constantFrom(10, 100, 1_000),
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
})).value;

/** A value for a named argument: plausible for it (so validation goes deeper) or anything. */
function argumentValue(key: string): fc.Arbitrary<J> {
  const plausible: Record<string, fc.Arbitrary<J>> = {
    task: fc.oneof(fc.constantFrom(...CHEAP_TASKS), fc.string({ maxLength: 20 })).map(raw),
    input: fc.oneof(
      fc.constant(raw([1, 2])),
      fc.array(value, { maxLength: 3 }).map((arr) => ({ arr })),
    ),
    wait_seconds: fc.constantFrom(0, 1, 120, -1, 121, 0.5).map(raw),
    id: fc.oneof(fc.constant("trn-00000000000000000000"), fc.string({ maxLength: 300 })).map(raw),
    limit: fc.constantFrom(0, 1, 20, 100, 101, 1000, 1001).map(raw),
    status: fc.subarray(["pending", "running", "succeeded", "failed", "canceled", "bogus"]).map(raw),
  };
  return plausible[key] ? fc.oneof(plausible[key], value) : value;
}

/** Arguments for a tool: an object of its own keys (and others), or any other value. */
function argumentsFor(keys: readonly string[]): fc.Arbitrary<J> {
  const own = keys.length > 0 ? fc.subarray([...keys]) : fc.constant([] as string[]);
  const shaped = own.chain((chosen) =>
    fc
      .tuple(
        fc.tuple(...chosen.map((k) => argumentValue(k).map((v) => [k, v] as [string, J]))),
        fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(...PROTO_KEYS)), value), {
          maxLength: 2,
        }),
      )
      .map(([mine, extra]) => ({ obj: [...mine, ...extra] }) as J),
  );
  return fc.oneof({ weight: 5, arbitrary: shaped }, { weight: 1, arbitrary: value });
}

// ---------------------------------------------------------------------------
// The server, one exchange, and what every answer must be

let stack: Stack;
let tokens: { admin: string; readOnly: string };
/** Tool name → its input keys, as tools/list shows them. */
let toolKeys: Map<string, string[]>;
/** Tools the read-only token may not call, as whoami says. */
let deniedToReadOnly: Set<string>;
/** whoami's and list_tasks' answers before any fuzzing: after it, they must be the same. */
let baseline: unknown[];
let logLinesChecked = 0;

interface Answer {
  status: number;
  contentType: string;
  headers: Headers;
  text: string;
}

async function post(body: string | Uint8Array, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${stack.server.url}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body,
  });
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
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: "ok" });
  const lines = stack.server.output.slice(logLinesChecked);
  logLinesChecked += lines.length;
  for (const line of lines) {
    expect(line.length, line.slice(0, 300)).toBeLessThanOrEqual(MAX_LOG_LINE);
    expect(line, "an error-level log line").not.toMatch(/"level":(50|60)/);
  }
}

/** A property's predicate, followed by the checks every run ends with. */
function checked<A extends unknown[]>(predicate: (...args: A) => Promise<void>) {
  return async (...args: A): Promise<void> => {
    await predicate(...args);
    await serverIsWell();
  };
}

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
      ? { "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": base64Header(name) }
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
  expect([await callTool(tokens.admin, "whoami"), await callTool(tokens.admin, "list_tasks")]).toEqual(
    baseline,
  );
}

const settings = { seed: SEED, numRuns: RUNS };

beforeAll(async () => {
  stack = await startStack({
    RATE_LIMIT_REQUESTS_PER_MINUTE: "0",
    RATE_LIMIT_RUNS_PER_MINUTE: "0",
  });
  tokens = {
    admin: await stack.issuer.sign({ sub: "fuzz-admin", scope: ADMIN, exp: Math.floor(Date.now() / 1000) + 3600 }),
    readOnly: await stack.issuer.sign({ sub: "fuzz-reader", scope: READ_ONLY, exp: Math.floor(Date.now() / 1000) + 3600 }),
  };
  const list = wellFormed(
    await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }), bearer(tokens.admin)),
    [200],
  )[0] as { result: { tools: { name: string; inputSchema: { properties?: object } }[] } };
  toolKeys = new Map(
    list.result.tools.map((t) => [t.name, Object.keys(t.inputSchema.properties ?? {})]),
  );
  const reader = (await callTool(tokens.readOnly, "whoami")) as { deniedTools: { name: string }[] };
  deniedToReadOnly = new Set(reader.deniedTools.map((t) => t.name));
  baseline = [await callTool(tokens.admin, "whoami"), await callTool(tokens.admin, "list_tasks")];
  await serverIsWell();
});
afterAll(() => stack?.close());

describe("fuzzing POST /mcp", () => {
  it("the tools and their scopes are what the properties assume", () => {
    expect([...toolKeys.keys()]).toEqual(expect.arrayContaining(["whoami", "start_task_run", "list_audit_events"]));
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
        arbitrary: fc
          .constantFrom(...names)
          .chain((name) => fc.record({ name: fc.constant(name), args: argumentsFor(toolKeys.get(name) ?? []) })),
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
          const r = message?.result as any; const tag = `${answer.status} ${name.slice(0,20)} ${message?.error ? (message.error as any).code : r?.isError ? r._meta?.["workflows-mcp/error"]?.code : "ok"}`; (globalThis as any).tally ??= {}; (globalThis as any).tally[tag] = ((globalThis as any).tally[tag] ?? 0) + 1;
          if (expected === 403) {
            expect(answer.headers.get("www-authenticate")).toMatch(/^Bearer .*error="insufficient_scope"/);
            expect((message?.error as { code: number }).code).toBe(-32003);
          }
          if (expected !== 200) return;
          expect(message?.id).toBe(id);
          const argsAreObject = isRecord(JSON.parse(text(args)));
          if (!known || !argsAreObject) {
            expect((message?.error as { code: number }).code).toBe(-32602);
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
    console.log(JSON.stringify((globalThis as any).tally, null, 1));
  }, 50_000);
});
