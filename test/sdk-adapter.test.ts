/**
 * The contract of the fast path (src/mcp/fast-path.ts) with the SDK: every
 * request it serves — both eras, successes and every kind of error — is
 * answered exactly as the SDK's own per-request serving answers it (status,
 * the headers a client reads, the body). The two run side by side in this
 * process over one engine; an SDK upgrade that changes what the fast path
 * relies on fails here, not in a client.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInProcess } from "./helpers/in-process.js";
import { startTestIssuer, type TestIssuer } from "./helpers/issuer.js";
import { modernRequest, postMcp, RESOURCE, TASKS_CAPABILITY } from "./helpers/stack.js";

let issuer: TestIssuer;
let fast: { url: string; fastPathAnswers(): number };
let sdk: { url: string; fastPathAnswers(): number };
let close: () => Promise<void>;
let token: string;
let reader: string;
/** Runs to read: one finished, one that works for a minute. */
let finished: string;
let working: string;

/** What a client reads of an answer. */
interface Answer {
  status: number;
  headers: Record<string, string | null>;
  body: unknown;
}

const READ_HEADERS = ["content-type", "www-authenticate", "retry-after", "mcp-protocol-version"];

async function answer(
  url: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<Answer> {
  const res = await postMcp(url, body, headers);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // SSE or not JSON: compared as text
  }
  return {
    status: res.status,
    headers: Object.fromEntries(READ_HEADERS.map((h) => [h, res.headers.get(h)])),
    body: parsed,
  };
}

/** Ids and instants differ between two answers that start runs; nothing else may. */
const normalized = (value: unknown) =>
  JSON.parse(
    JSON.stringify(value)
      .replace(/trn-[0-9a-f]{20}/g, "trn-<id>")
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "<instant>"),
  );

/** Sends the same request to both and requires the same answer; returns it. */
async function same(body: unknown, headers: Record<string, string>, normalize = false) {
  const [viaFast, viaSdk] = await Promise.all([
    answer(fast.url, body, headers),
    answer(sdk.url, body, headers),
  ]);
  if (normalize) expect(normalized(viaFast)).toEqual(normalized(viaSdk));
  else expect(viaFast).toEqual(viaSdk);
  return viaFast;
}

const legacyHeaders = (bearer: string) => ({ authorization: `Bearer ${bearer}` });
const legacyCall = (name: string, args: unknown = {}) => ({
  jsonrpc: "2.0",
  id: 7,
  method: "tools/call",
  params: { name, arguments: args },
});

/** A 2026-07-28 request, optionally with the Tasks extension declared and headers overridden. */
function modern(
  method: string,
  params: Record<string, unknown>,
  options: { bearer?: string; tasks?: boolean; headers?: Record<string, string> } = {},
) {
  const request = modernRequest(method, params, {
    id: 7,
    ...(options.tasks ? { capabilities: TASKS_CAPABILITY } : {}),
  });
  return {
    body: request.body,
    headers: {
      ...request.headers,
      authorization: `Bearer ${options.bearer ?? token}`,
      ...options.headers,
    },
  };
}

beforeAll(async () => {
  issuer = await startTestIssuer({ audience: RESOURCE });
  const started = await startInProcess(issuer, [{}, { fastPath: false }]);
  [fast, sdk] = started.servers as unknown as [typeof fast, typeof sdk];
  close = started.close;
  token = await issuer.sign({ sub: "ada", scope: "workflows:read workflows:run workflows:cancel" });
  reader = await issuer.sign({ sub: "ada", scope: "workflows:read" });
  const owner = { issuer: issuer.issuer, subject: "ada", at: new Date().toISOString() };
  finished = (await started.backend.startRun("echo", ["done"], owner)).id;
  working = (await started.backend.startRun("sleep", [60_000], owner)).id;
  for (let i = 0; i < 100; i++) {
    const run = await started.backend.getRun(finished, { kind: "all" });
    if (run.status === "succeeded") break;
    await sleep(20);
  }
});
afterAll(async () => {
  await close?.();
  await issuer?.close();
});

describe("2025-era requests (no envelope)", () => {
  /**
   * Each request, and whether the fast path answers it: what its server
   * refuses before any handler runs (a method it does not know), the SDK's
   * own serving answers.
   */
  const cases: [string, "fast path" | "falls back", unknown][] = [
    ["tools/list", "fast path", { jsonrpc: "2.0", id: 7, method: "tools/list" }],
    ["ping", "fast path", { jsonrpc: "2.0", id: 7, method: "ping" }],
    ["a tool's result", "fast path", legacyCall("whoami")],
    ["a run read", "fast path", legacyCall("get_task_run", { id: "<finished>" })],
    ["no such run", "fast path", legacyCall("get_task_run", { id: "trn-00000000000000000000" })],
    ["arguments the tool refuses", "fast path", legacyCall("get_task_run", { id: 42 })],
    ["an unknown tool", "fast path", legacyCall("no_such_tool")],
    ["a string id", "fast path", { jsonrpc: "2.0", id: "seven", method: "tools/list" }],
    [
      "params that are not a call",
      "fast path",
      { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: 5 } },
    ],
    ["an unknown method", "falls back", { jsonrpc: "2.0", id: 7, method: "no/such" }],
  ];
  it.each(cases)("%s: the same answer either way (%s)", async (_label, path, body) => {
    const sent = JSON.parse(JSON.stringify(body).replace("<finished>", finished));
    const before = fast.fastPathAnswers();
    await same(sent, legacyHeaders(token));
    expect(fast.fastPathAnswers()).toBe(before + (path === "fast path" ? 1 : 0));
  });

  it("what the fast path does not take (an unsupported version header, an Accept without SSE) is answered by the SDK", async () => {
    const variants: Record<string, string>[] = [
      { "mcp-protocol-version": "1999-01-01" },
      { accept: "application/json" },
    ];
    for (const headers of variants) {
      const before = fast.fastPathAnswers();
      const result = await same(legacyCall("whoami"), { ...legacyHeaders(token), ...headers });
      expect(result.status).toBeGreaterThanOrEqual(400);
      expect(fast.fastPathAnswers()).toBe(before);
    }
  });
});

describe("2026-07-28 requests", () => {
  const served = async (
    method: string,
    params: Record<string, unknown>,
    options: Parameters<typeof modern>[2] = {},
    path: "fast path" | "falls back" = "fast path",
  ) => {
    const { body, headers } = modern(method, params, options);
    const before = fast.fastPathAnswers();
    const result = await same(body, headers);
    expect(fast.fastPathAnswers()).toBe(before + (path === "fast path" ? 1 : 0));
    return result;
  };

  it("tools/list", async () => {
    expect((await served("tools/list", {})).status).toBe(200);
  });

  it("tools/call: a result, a tool error, refused arguments, an unknown tool", async () => {
    expect((await served("tools/call", { name: "whoami", arguments: {} })).status).toBe(200);
    await served("tools/call", { name: "get_task_run", arguments: { id: finished } });
    await served("tools/call", { name: "get_task_run", arguments: { id: "trn-0" } });
    await served("tools/call", { name: "get_task_run", arguments: {} });
    await served("tools/call", { name: "no_such_tool", arguments: {} }, {}, "falls back");
  });

  it("tools/call starting a run: the result, and a task handle for a Tasks client", async () => {
    // Each path starts its own run, as a caller of its own (a caller holds only its share of the
    // engine's slots): the answers differ in run ids, instants and the subject only.
    const start = { name: "start_task_run", arguments: { task: "sleep", input: [60_000] } };
    for (const tasks of [false, true]) {
      const before = fast.fastPathAnswers();
      const [viaFast, viaSdk] = await Promise.all(
        [fast, sdk].map(async (server, i) => {
          const bearer = await issuer.sign({
            sub: `starter-${tasks}-${i}`,
            scope: "workflows:run",
          });
          const { body, headers } = modern("tools/call", start, { bearer, tasks });
          return answer(server.url, body, headers);
        }),
      );
      const bothAs = (a: Answer) =>
        normalized(JSON.parse(JSON.stringify(a).replace(/starter-(true|false)-\d/g, "starter")));
      expect(bothAs(viaFast as Answer)).toEqual(bothAs(viaSdk as Answer));
      expect(fast.fastPathAnswers()).toBe(before + 1);
      if (tasks) {
        expect(viaFast?.body).toMatchObject({ result: { resultType: "task", status: "working" } });
      }
    }
  });

  it("tasks/get: a working run, a finished one, an unknown one, and without the capability (400)", async () => {
    const working_ = await served("tasks/get", { taskId: working }, { tasks: true });
    expect(working_.body).toMatchObject({ result: { status: "working" } });
    const done = await served("tasks/get", { taskId: finished }, { tasks: true });
    expect(done.body).toMatchObject({ result: { status: "completed" } });
    const unknown = await served(
      "tasks/get",
      { taskId: "trn-00000000000000000000" },
      { tasks: true },
    );
    expect(unknown.body).toMatchObject({ error: { code: -32602 } });
    const undeclared = await served("tasks/get", { taskId: finished });
    expect(undeclared.status).toBe(400);
    expect(undeclared.body).toMatchObject({ error: { code: -32021 } });
  });

  it("tasks/update and tasks/cancel", async () => {
    await served("tasks/update", { taskId: working, inputResponses: {} }, { tasks: true });
    await served("tasks/cancel", { taskId: "trn-00000000000000000000" }, { tasks: true });
    // A cancel changes the run: each path cancels one of its own.
    const owner = await answer(
      fast.url,
      ...(Object.values(
        modern("tools/call", {
          name: "start_task_run",
          arguments: { task: "sleep", input: [60_000] },
        }),
      ) as [unknown, Record<string, string>]),
    );
    const runId = (owner.body as { result: { structuredContent: { run: { id: string } } } }).result
      .structuredContent.run.id;
    const other = await answer(
      sdk.url,
      ...(Object.values(
        modern("tools/call", {
          name: "start_task_run",
          arguments: { task: "sleep", input: [60_000] },
        }),
      ) as [unknown, Record<string, string>]),
    );
    const otherId = (other.body as { result: { structuredContent: { run: { id: string } } } })
      .result.structuredContent.run.id;
    const viaFast = modern("tasks/cancel", { taskId: runId }, { tasks: true });
    const viaSdk = modern("tasks/cancel", { taskId: otherId }, { tasks: true });
    const before = fast.fastPathAnswers();
    const [a, b] = await Promise.all([
      answer(fast.url, viaFast.body, viaFast.headers),
      answer(sdk.url, viaSdk.body, viaSdk.headers),
    ]);
    expect(normalized(a)).toEqual(normalized(b));
    expect(a.status).toBe(200);
    expect(fast.fastPathAnswers()).toBe(before + 1);
  });

  it("what the fast path does not take is the SDK's to answer: a Base64 Mcp-Name, a progress request, server/discover", async () => {
    const before = fast.fastPathAnswers();
    const encoded = `=?base64?${Buffer.from("whoami").toString("base64")}?=`;
    const a = modern(
      "tools/call",
      { name: "whoami", arguments: {} },
      { headers: { "mcp-name": encoded } },
    );
    await same(a.body, a.headers);
    const progress = modern("tools/call", {
      name: "whoami",
      arguments: {},
      _meta: { progressToken: 1 },
    });
    const body = progress.body as { params: { _meta: Record<string, unknown> } };
    body.params._meta.progressToken = 1;
    await same(body, progress.headers);
    const discover = modern("server/discover", {});
    await same(discover.body, discover.headers);
    expect(fast.fastPathAnswers()).toBe(before);
  });

  it("a token without the tool's scope is refused before either path (403, the same challenge)", async () => {
    const { body, headers } = modern(
      "tools/call",
      { name: "start_task_run", arguments: { task: "echo", input: [1] } },
      { bearer: reader },
    );
    const result = await same(body, headers);
    expect(result.status).toBe(403);
  });
});
