import { randomBytes } from "node:crypto";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import {
  ContractViolation,
  validateQuery,
  validateRequestBody,
  validateResponse,
  validateRunEvent,
} from "./contract.js";

/**
 * A loopback stand-in for Render's API (Workflows, Workflow Tasks, Logs),
 * holding one workspace. Every body it serves is checked against Render's
 * OpenAPI documents, and every request it receives against the documented
 * parameters: a mismatch is answered 500 and recorded, and close() throws it.
 */

export type RenderStatus =
  | "pending"
  | "running"
  | "completed"
  | "succeeded"
  | "failed"
  | "canceled"
  | "paused";
const TERMINAL: RenderStatus[] = ["completed", "succeeded", "failed", "canceled"];

export interface RecordedRequest {
  method: string;
  /** Without the /v1 prefix, e.g. /task-runs/trn-1 */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body?: unknown;
}

interface FakeWorkflow {
  id: string;
  name: string;
  slug: string;
  ownerId: string;
}

interface FakeTask {
  id: string;
  name: string;
  workflowId: string;
  createdAt: string;
}

interface FakeAttempt {
  status: RenderStatus;
  enqueuedAt: string;
  startedAt: string;
  completedAt?: string;
  error?: string;
  results?: unknown[];
}

export interface FakeRun {
  id: string;
  taskId: string;
  status: RenderStatus;
  input: unknown[] | Record<string, unknown>;
  results: unknown[];
  error?: string;
  enqueuedAt: string;
  startedAt?: string;
  completedAt?: string;
  parentTaskRunId: string;
  rootTaskRunId: string;
  retries: number;
  attempts: FakeAttempt[];
}

interface FakeLog {
  id: string;
  runId: string;
  workflowId: string;
  timestamp: string;
  message: string;
  level?: string;
}

/** What can happen to a run; each change is pushed to event streams. */
export type Step =
  | { do: "start" }
  /** The current attempt fails; the run goes on (its event says `failed`). */
  | { do: "failAttempt"; error: string }
  | { do: "retry" }
  | { do: "succeed"; result: unknown }
  | { do: "fail"; error: string }
  | { do: "log"; message: string; level?: string };

export interface Fault {
  status: 429 | 500 | 503;
  /** Seconds, sent as Retry-After and Ratelimit-Reset (429). */
  retryAfter?: number;
  /** Only requests whose path starts with this (default: every request). */
  path?: string;
}

export interface FakeRenderApi {
  /** Base URL as RENDER_API_URL takes it: http://127.0.0.1:PORT/v1 */
  url: string;
  workflow: FakeWorkflow;
  requests: RecordedRequest[];
  /** Contract violations so far (also thrown by close()). */
  violations: string[];
  addWorkflow(slug: string): FakeWorkflow;
  addTask(name: string, workflow?: FakeWorkflow): FakeTask;
  /** A run created directly (not through POST), e.g. to fill a list. */
  addRun(
    task: string,
    options?: {
      status?: RenderStatus;
      input?: unknown[];
      parent?: FakeRun;
      workflow?: FakeWorkflow;
    },
  ): FakeRun;
  run(id: string): FakeRun;
  apply(id: string, step: Step): FakeRun;
  /** Steps applied, `everyMs` apart, to each run of `task` started through POST. */
  script(task: string, steps: Step[], everyMs?: number): void;
  /** The next `count` matching requests fail this way. */
  failNext(count: number, fault: Fault): void;
  /** Every request fails this way until cleared with undefined. */
  failAll(fault: Fault | undefined): void;
  /** Event streams end right after their headers are sent. */
  dropEventStreams(drop: boolean): void;
  /** The next `count` requests get no answer at all. */
  hangNext(count: number): void;
  close(): Promise<void>;
}

export interface FakeOptions {
  /** The key requests must carry as a bearer token (not checked in dev-server mode). */
  apiKey?: string;
  /** Imitates `render workflows dev`: no /workflows, no /logs, no authentication. */
  devServer?: boolean;
  /** Slug of the first workflow (default my-workflow). */
  slug?: string;
}

const id = (prefix: string) => `${prefix}-${randomBytes(10).toString("hex")}`;

export async function startFakeRenderApi(options: FakeOptions = {}): Promise<FakeRenderApi> {
  const workflows: FakeWorkflow[] = [];
  const tasks: FakeTask[] = [];
  const runs: FakeRun[] = [];
  const logs: FakeLog[] = [];
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];
  const scripts = new Map<string, { steps: Step[]; everyMs: number }>();
  const streams = new Map<string, Set<ServerResponse>>();
  const timers = new Set<NodeJS.Timeout>();
  const queued: Fault[] = [];
  let always: Fault | undefined;
  let dropStreams = false;
  let hang = 0;
  const ownerId = id("tea");
  // Strictly increasing timestamps keep orderings (newest first, log windows) unambiguous.
  let clock = Date.now();
  const now = () => {
    clock = Math.max(clock + 1, Date.now());
    return new Date(clock).toISOString();
  };

  const addWorkflow = (slug: string): FakeWorkflow => {
    const workflow = { id: id("wfl"), name: `${slug} service`, slug, ownerId };
    workflows.push(workflow);
    return workflow;
  };
  const workflow = addWorkflow(options.slug ?? "my-workflow");

  const taskNamed = (name: string, wf = workflow) =>
    tasks.find((t) => t.name === name && t.workflowId === wf.id);

  const details = (run: FakeRun) => ({
    id: run.id,
    taskId: run.taskId,
    status: run.status,
    results: run.results,
    ...(run.error === undefined ? {} : { error: run.error }),
    ...(run.startedAt ? { startedAt: run.startedAt } : {}),
    ...(run.completedAt ? { completedAt: run.completedAt } : {}),
    input: run.input,
    parentTaskRunId: run.parentTaskRunId,
    rootTaskRunId: run.rootTaskRunId,
    retries: run.retries,
    attempts: run.attempts,
  });
  const summary = (run: FakeRun) => {
    const { results: _r, error: _e, input: _i, attempts, ...rest } = details(run);
    return {
      ...rest,
      attempts: attempts.map(({ error: _ae, results: _ar, ...attempt }) => attempt),
    };
  };

  /** Pushes the run to its event streams; terminal events are all labelled task.completed. */
  const publish = (run: FakeRun, status: RenderStatus = run.status) => {
    const data = { ...details(run), status };
    validateRunEvent(data);
    const event = TERMINAL.includes(status) ? "task.completed" : `task.${status}`;
    for (const res of streams.get(run.id) ?? []) {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    }
  };

  const createRun = (task: FakeTask, input: FakeRun["input"], parent?: FakeRun): FakeRun => {
    const runId = id("trn");
    const run: FakeRun = {
      id: runId,
      taskId: task.id,
      status: "pending",
      input,
      results: [],
      enqueuedAt: now(),
      parentTaskRunId: parent?.id ?? "",
      rootTaskRunId: parent?.rootTaskRunId ?? runId,
      retries: 0,
      attempts: [],
    };
    runs.push(run);
    return run;
  };

  const startAttempt = (run: FakeRun) => {
    const at = now();
    run.status = "running";
    run.startedAt ??= at;
    run.attempts.push({ status: "running", enqueuedAt: run.enqueuedAt, startedAt: at });
  };

  const finish = (run: FakeRun, status: RenderStatus, error?: string) => {
    const at = now();
    run.status = status;
    run.completedAt = at;
    if (error !== undefined) run.error = error;
    const attempt = run.attempts.at(-1);
    if (attempt && !attempt.completedAt) {
      attempt.status = status;
      attempt.completedAt = at;
      if (error !== undefined) attempt.error = error;
    }
  };

  const apply = (runId: string, step: Step): FakeRun => {
    const run = find(runId);
    switch (step.do) {
      case "retry":
        run.retries += 1;
        startAttempt(run);
        break;
      case "start":
        startAttempt(run);
        break;
      case "failAttempt": {
        const attempt = run.attempts.at(-1);
        if (!attempt) throw new Error("failAttempt: no attempt started");
        attempt.status = "failed";
        attempt.completedAt = now();
        attempt.error = step.error;
        // The quirk: the stream reports the attempt's failure while the run goes on.
        publish(run, "failed");
        return run;
      }
      case "succeed": {
        run.results = [step.result];
        // `completed` is the older name Render still sends.
        finish(run, "completed");
        const attempt = run.attempts.at(-1);
        if (attempt) attempt.results = [step.result];
        break;
      }
      case "fail":
        finish(run, "failed", step.error);
        break;
      case "log":
        logs.push({
          id: id("log"),
          runId: run.id,
          workflowId: tasks.find((t) => t.id === run.taskId)?.workflowId ?? "",
          timestamp: now(),
          message: step.message,
          level: step.level,
        });
        return run;
    }
    publish(run);
    return run;
  };

  const find = (runId: string) => {
    const run = runs.find((r) => r.id === runId);
    if (!run) throw new Error(`no run ${runId}`);
    return run;
  };

  const runScript = (run: FakeRun, steps: Step[], everyMs: number) => {
    const [step, ...rest] = steps;
    if (!step) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (TERMINAL.includes(run.status)) return;
      apply(run.id, step);
      runScript(run, rest, everyMs);
    }, everyMs);
    timers.add(timer);
  };

  /** Sends a body after checking it against the contract (a mismatch is answered 500). */
  const send = (
    res: ServerResponse,
    method: string,
    template: string,
    status: number,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    try {
      validateResponse(method, template, status, body);
    } catch (error) {
      violations.push(String(error));
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: "the fake's response broke Render's contract" }));
      return;
    }
    if (body === undefined) {
      res.writeHead(status, headers).end();
      return;
    }
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(body));
  };

  /** A bare array of `{<resource>, cursor}`, newest first, paged by the last item's cursor. */
  const page = <T extends { id: string }>(
    items: T[],
    query: URLSearchParams,
    wrap: (item: T) => Record<string, unknown>,
  ): Record<string, unknown>[] | "bad-cursor" => {
    const limit = Number(query.get("limit") ?? 20);
    const cursor = query.get("cursor");
    let start = 0;
    if (cursor) {
      const index = items.findIndex((item) => cursorOf(item) === cursor);
      if (index < 0) return "bad-cursor";
      start = index + 1;
    }
    return items
      .slice(start, start + limit)
      .map((item) => ({ ...wrap(item), cursor: cursorOf(item) }));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, url: URL, body: unknown) => {
    const method = req.method ?? "GET";
    const path = url.pathname.replace(/^\/v1/, "");
    const query = url.searchParams;
    const fail = (template: string, status: number, message: string) =>
      send(res, method, template, status, { id: id("err"), message });

    const routes: [RegExp, string][] = [
      [/^\/workflows$/, "/workflows"],
      [/^\/workflows\/([^/]+)$/, "/workflows/{workflowId}"],
      [/^\/tasks$/, "/tasks"],
      [/^\/tasks\/([^/]+)$/, "/tasks/{taskId}"],
      [/^\/task-runs$/, "/task-runs"],
      [/^\/task-runs\/events$/, "/task-runs/events"],
      [/^\/task-runs\/([^/]+)$/, "/task-runs/{taskRunId}"],
      [/^\/logs$/, "/logs"],
    ];
    const route = routes.find(([pattern]) => pattern.test(path));
    if (
      !url.pathname.startsWith("/v1/") ||
      !route ||
      (options.devServer && ["/workflows", "/workflows/{workflowId}", "/logs"].includes(route[1]))
    ) {
      // What a router answers for a path it does not serve (the CLI's dev server is chi).
      res
        .writeHead(404, { "content-type": "text/plain; charset=utf-8" })
        .end("404 page not found\n");
      return;
    }
    const [pattern, template] = route;
    const param = decodeURIComponent(pattern.exec(path)?.[1] ?? "");

    if (!options.devServer && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return fail(template, 401, "unauthorized");
    }
    const fault = always && matches(always, path) ? always : takeFault(queued, path);
    if (fault) {
      const headers: Record<string, string> =
        fault.retryAfter === undefined
          ? {}
          : {
              "retry-after": String(fault.retryAfter),
              "ratelimit-limit": "30",
              "ratelimit-remaining": "0",
              "ratelimit-reset": String(fault.retryAfter),
            };
      return send(
        res,
        method,
        template,
        fault.status,
        { message: `fake ${fault.status}` },
        headers,
      );
    }

    // Requests are held to the documented parameters too: drift on our side is caught here.
    try {
      if (template !== "/logs") validateQuery(method, template, query);
      if (method === "POST") validateRequestBody(method, template, body);
    } catch (error) {
      violations.push(String(error));
      return fail(template, 400, "request does not match Render's API");
    }

    const sendPage = (items: ReturnType<typeof page>) =>
      items === "bad-cursor"
        ? fail(template, 400, "invalid cursor")
        : send(res, method, template, 200, items);

    switch (`${method} ${template}`) {
      case "GET /workflows": {
        return sendPage(
          page(workflows, query, (workflow) => ({ workflow: workflowBody(workflow) })),
        );
      }
      case "GET /workflows/{workflowId}": {
        const found = workflows.find((w) => w.id === param);
        return found
          ? send(res, method, template, 200, workflowBody(found))
          : fail(template, 404, "workflow not found");
      }
      case "GET /tasks": {
        const ids = query.getAll("workflowId");
        const selected = options.devServer
          ? tasks
          : tasks.filter((t) => ids.length === 0 || ids.includes(t.workflowId));
        return sendPage(page(selected, query, (task) => ({ task: taskBody(task) })));
      }
      case "GET /tasks/{taskId}": {
        const task = tasks.find((t) => t.id === param);
        return task
          ? send(res, method, template, 200, taskBody(task))
          : fail(template, 404, "task not found");
      }
      case "GET /task-runs": {
        const workflowIds = query.getAll("workflowId");
        const slugs = query.getAll("taskSlug");
        const roots = query.getAll("rootTaskRunId");
        const selected = [...runs].reverse().filter((run) => {
          const task = tasks.find((t) => t.id === run.taskId);
          const wf = workflows.find((w) => w.id === task?.workflowId);
          return (
            (workflowIds.length === 0 || workflowIds.includes(task?.workflowId ?? "")) &&
            (slugs.length === 0 ||
              slugs.some(
                (s) =>
                  s.replace(/:.*$/, "") ===
                  (options.devServer ? task?.name : `${wf?.slug}/${task?.name}`),
              )) &&
            (roots.length === 0 || roots.includes(run.rootTaskRunId))
          );
        });
        return sendPage(page(selected, query, (run) => ({ taskRun: summary(run) })));
      }
      case "POST /task-runs": {
        const { task: slug, input } = body as { task: string; input: FakeRun["input"] };
        const [workflowSlug, rest = ""] = slug.split("/");
        const name = rest.replace(/:.*$/, "");
        const wf = options.devServer ? workflow : workflows.find((w) => w.slug === workflowSlug);
        const task = wf && taskNamed(name, wf);
        if (!task) return fail(template, 404, `task ${slug} not found`);
        const run = createRun(task, input);
        const scripted = scripts.get(task.name);
        if (scripted) runScript(run, scripted.steps, scripted.everyMs);
        return send(res, method, template, 202, summary(run));
      }
      case "GET /task-runs/{taskRunId}": {
        const run = runs.find((r) => r.id === param);
        return run
          ? send(res, method, template, 200, details(run))
          : fail(template, 404, "task run not found");
      }
      case "DELETE /task-runs/{taskRunId}": {
        const run = runs.find((r) => r.id === param);
        if (!run) return fail(template, 404, "task run not found");
        // Render cancels trees from their root (how it refuses a subtask is not documented).
        if (run.rootTaskRunId !== run.id)
          return fail(template, 400, "only root task runs can be canceled");
        for (const member of runs.filter((r) => r.rootTaskRunId === run.id)) {
          if (!TERMINAL.includes(member.status)) {
            finish(member, "canceled");
            publish(member);
          }
        }
        return send(res, method, template, 204);
      }
      case "GET /task-runs/events":
        return openStream(
          res,
          query.getAll("taskRunIds").flatMap((v) => v.split(",")),
        );
      case "GET /logs":
        return serveLogs(res, method, template, query);
    }
    return fail(template, 404, "not found");
  };

  const openStream = (res: ServerResponse, runIds: string[]) => {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
    });
    res.write(": connected\n\n");
    if (dropStreams) {
      res.destroy();
      return;
    }
    for (const runId of runIds) {
      const set = streams.get(runId) ?? new Set();
      set.add(res);
      streams.set(runId, set);
    }
    res.on("close", () => {
      for (const runId of runIds) streams.get(runId)?.delete(res);
    });
  };

  const serveLogs = (
    res: ServerResponse,
    method: string,
    template: string,
    query: URLSearchParams,
  ) => {
    const fail = (message: string) => send(res, method, template, 400, { message });
    const owner = query.get("ownerId");
    const resources = query.getAll("resource");
    if (!owner || resources.length === 0) return fail("ownerId and resource are required");
    if (owner !== ownerId) return send(res, method, template, 403, { message: "forbidden" });
    const limit = Number(query.get("limit") ?? 20);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return fail("limit must be 1-100");
    // Render's defaults: the last hour, up to its now.
    const present = Math.max(Date.now(), clock) + 1;
    const start = Date.parse(query.get("startTime") ?? new Date(present - 3600_000).toISOString());
    const end = Date.parse(query.get("endTime") ?? new Date(present).toISOString());
    if (Number.isNaN(start) || Number.isNaN(end))
      return fail("startTime and endTime must be RFC 3339");
    const forward = query.get("direction") === "forward";
    const taskRuns = query.getAll("taskRun");
    const selected = logs
      .filter(
        (log) =>
          resources.includes(log.workflowId) &&
          (taskRuns.length === 0 || taskRuns.includes(log.runId)) &&
          Date.parse(log.timestamp) >= start &&
          Date.parse(log.timestamp) < end,
      )
      .sort((a, b) => (forward ? 1 : -1) * (Date.parse(a.timestamp) - Date.parse(b.timestamp)));
    const served = selected.slice(0, limit);
    const last = served.at(-1);
    const hasMore = selected.length > limit && last !== undefined;
    const edge = last ? Date.parse(last.timestamp) : end;
    return send(res, method, template, 200, {
      hasMore,
      nextStartTime: new Date(forward && hasMore ? edge + 1 : start).toISOString(),
      nextEndTime: new Date(!forward && hasMore ? edge : end).toISOString(),
      logs: served.map((log) => ({
        id: log.id,
        message: log.message,
        timestamp: log.timestamp,
        labels: [
          { name: "resource", value: log.workflowId },
          ...(log.level ? [{ name: "level", value: log.level }] : []),
        ],
      })),
    });
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://fake");
      const text = Buffer.concat(chunks).toString("utf8");
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      requests.push({
        method: req.method ?? "GET",
        path: url.pathname.replace(/^\/v1/, ""),
        query: url.searchParams,
        headers: req.headers,
        body,
      });
      if (hang > 0) {
        hang--;
        return;
      }
      handle(req, res, url, body).catch((error: unknown) => {
        violations.push(`fake failed: ${String(error)}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    workflow,
    requests,
    violations,
    addWorkflow,
    addTask(name, wf = workflow) {
      const task = { id: id("tsk"), name, workflowId: wf.id, createdAt: now() };
      tasks.push(task);
      return task;
    },
    addRun(name, { status = "pending", input = [], parent, workflow: wf = workflow } = {}) {
      const task = taskNamed(name, wf);
      if (!task) throw new Error(`addRun: no task ${name}`);
      const run = createRun(task, input, parent);
      if (status !== "pending") {
        startAttempt(run);
        if (status !== "running") finish(run, status, status === "failed" ? "boom" : undefined);
      }
      return run;
    },
    run: find,
    apply,
    script(task, steps, everyMs = 40) {
      scripts.set(task, { steps, everyMs });
    },
    failNext(count, fault) {
      for (let i = 0; i < count; i++) queued.push(fault);
    },
    failAll(fault) {
      always = fault;
    },
    dropEventStreams(drop) {
      dropStreams = drop;
    },
    hangNext(count) {
      hang = count;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (violations.length > 0) {
        throw new ContractViolation(
          `the fake Render API saw contract violations:\n${violations.join("\n")}`,
        );
      }
    },
  };
}

const cursorOf = (item: { id: string }) => Buffer.from(`after:${item.id}`).toString("base64url");

const matches = (fault: Fault, path: string) => !fault.path || path.startsWith(fault.path);

function takeFault(queue: Fault[], path: string): Fault | undefined {
  const index = queue.findIndex((fault) => matches(fault, path));
  return index < 0 ? undefined : queue.splice(index, 1)[0];
}

const workflowBody = (workflow: FakeWorkflow) => ({
  id: workflow.id,
  name: workflow.name,
  slug: workflow.slug,
  ownerId: workflow.ownerId,
  createdAt: "2026-01-05T10:00:00.000Z",
  updatedAt: "2026-01-05T10:00:00.000Z",
  region: "oregon",
  runCommand: "node dist/main.js",
  buildConfig: {
    buildCommand: "npm ci && npm run build",
    repo: "https://github.com/example/tasks",
    runtime: "node",
  },
});

const taskBody = (task: FakeTask) => ({
  id: task.id,
  name: task.name,
  createdAt: task.createdAt,
  workflowId: task.workflowId,
});
