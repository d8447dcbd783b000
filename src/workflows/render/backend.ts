import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../logger.js";
import type {
  CancelOutcome,
  ListRunsQuery,
  LogPage,
  LogsQuery,
  RunPage,
  WaitOptions,
  WorkflowBackend,
} from "../backend.js";
import {
  BackendUnavailable,
  InputTooLarge,
  InvalidCursor,
  InvalidInput,
  NotRootRun,
  RunNotFound,
  UnknownTask,
} from "../errors.js";
import {
  isTerminal,
  MAX_INPUT_BYTES,
  type TaskInfo,
  type TaskInput,
  type TaskRun,
} from "../run.js";
import { decodeCursor, encodeCursor, RunsCursor } from "./cursor.js";
import { followRunEvents } from "./events.js";
import type { RenderHttp } from "./http.js";
import { fetchRunLogs } from "./logs.js";
import { toTaskRun } from "./map.js";
import { pages } from "./pages.js";
import { RenderRun, RenderRunDetails, RenderRunList, Task, TaskList } from "./schemas.js";
import { waitForRun } from "./wait.js";
import type { ServedWorkflow } from "./workflow.js";

/** Render's limit on a task run's arguments. */
/** Upstream pages one list_task_runs call may read while filtering by status. */
const MAX_RUN_PAGES = 10;
const TASKS_TTL_MS = 30_000;
const RUN_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** `task-name` or `workflow-slug/task-name`, optionally `:version`. */
const TASK_REF = /^(?:(?<workflow>[^/\s:]+)\/)?(?<name>[^/\s:]+)(?::(?<version>[A-Za-z0-9._-]+))?$/;

/** Render Workflows through its REST API, for the one workflow the server serves. */
export class RenderBackend implements WorkflowBackend {
  readonly kind = "render" as const;
  /** Task id → name; null for a task of another workflow. Ids never change meaning. */
  readonly #taskNames = new Map<string, string | null>();
  #tasks?: { at: number; list: Task[] };

  constructor(
    private readonly http: RenderHttp,
    private readonly workflow: ServedWorkflow,
    private readonly logger: Logger,
  ) {}

  describe(): string {
    const { slug } = this.workflow;
    return this.workflow.devServer
      ? `Render workflow ${slug} at ${this.http.baseUrl} (the Render CLI's local dev server: no workflow lookup, no logs)`
      : `Render workflow ${slug} (${this.workflow.id}) at ${this.http.baseUrl}`;
  }

  async listTasks(): Promise<TaskInfo[]> {
    // Render lists a task once per workflow version: one entry per name.
    const names = [...new Set((await this.tasks(true)).map((task) => task.name))].sort();
    return names.map((name) => ({
      name,
      description: `Runs as ${this.workflow.slug}/${name} on Render. Input: an array of positional arguments (TypeScript tasks) or an object of named parameters (Python tasks).`,
    }));
  }

  async startRun(task: string, input: TaskInput): Promise<TaskRun> {
    const ref = await this.taskRef(task);
    const bytes = Buffer.byteLength(JSON.stringify(input));
    if (bytes > MAX_INPUT_BYTES) {
      throw new InputTooLarge(
        `The input is ${(bytes / 1024 / 1024).toFixed(1)} MB as JSON; Render accepts at most 4 MB of task arguments`,
      );
    }
    const run = await this.http.request("POST", "/task-runs", {
      // The key makes a retried POST (after a timeout or a 5xx) start one run, not two.
      body: { task: ref.slug, input, idempotencyKey: randomUUID() },
      schema: RenderRun,
      notFound: (message) =>
        new UnknownTask(`Render has no task ${ref.slug}${message ? ` (${message})` : ""}`),
    });
    return { ...toTaskRun(run, ref.label), input };
  }

  async getRun(id: string): Promise<TaskRun> {
    if (!RUN_ID.test(id)) {
      throw new RunNotFound(
        `No task run with that id in workflow ${this.workflow.slug} (run ids look like trn-…)`,
      );
    }
    const missing = () => new RunNotFound(`No task run ${id} in workflow ${this.workflow.slug}`);
    const run = await this.http.request("GET", `/task-runs/${encodeURIComponent(id)}`, {
      schema: RenderRunDetails,
      notFound: missing,
    });
    // The key may reach other workflows' runs; this server shows only its own.
    const name = await this.taskName(run.taskId);
    if (name === undefined) throw missing();
    return toTaskRun(run, `${this.workflow.slug}/${name}`);
  }

  async listRuns(query: ListRunsQuery): Promise<RunPage> {
    const fingerprint = JSON.stringify([query.task ?? null, [...(query.status ?? [])].sort()]);
    const after = query.cursor ? decodeCursor(RunsCursor, query.cursor) : undefined;
    if (after && after.query !== fingerprint) {
      throw new InvalidCursor(
        "That cursor was issued for a different task or status filter; repeat the same filters, or omit cursor to start over",
      );
    }
    const ref = query.task ? await this.taskRef(query.task) : undefined;
    const wanted = query.status?.length ? new Set(query.status) : undefined;
    const runs: TaskRun[] = [];
    let lastSeen: string | undefined;
    let more = false;
    scan: for await (const page of pages(this.http, "/task-runs", {
      query: this.workflow.devServer
        ? { taskSlug: ref ? [ref.name] : undefined }
        : { workflowId: [this.workflow.id], taskSlug: ref ? [ref.slug] : undefined },
      schema: RenderRunList,
      // Filtering by status happens here, so read Render's pages whole.
      limit: wanted ? 100 : query.limit,
      maxPages: wanted ? MAX_RUN_PAGES : 1,
      after: after?.after,
    })) {
      more = page.more;
      for (const [index, { taskRun, cursor }] of page.items.entries()) {
        lastSeen = cursor;
        const name = await this.taskName(taskRun.taskId);
        if (name === undefined) continue;
        const run = toTaskRun(taskRun, `${this.workflow.slug}/${name}`);
        if (wanted && !wanted.has(run.status)) continue;
        runs.push(run);
        if (runs.length === query.limit) {
          more ||= index < page.items.length - 1;
          break scan;
        }
      }
    }
    return {
      runs,
      nextCursor:
        more && lastSeen
          ? encodeCursor({ kind: "runs", after: lastSeen, query: fingerprint })
          : undefined,
    };
  }

  async cancelRun(id: string): Promise<CancelOutcome> {
    const run = await this.getRun(id);
    if (run.rootTaskRunId !== run.id) {
      throw new NotRootRun(
        `Run ${id} is a subtask run; Render cancels a whole run tree from its root. Cancel its root run ${run.rootTaskRunId} instead (that cancels ${id} too).`,
      );
    }
    if (isTerminal(run.status)) return { run, alreadyFinished: true };
    try {
      await this.http.request("DELETE", `/task-runs/${encodeURIComponent(id)}`, {
        notFound: () => new RunNotFound(`No task run ${id} in workflow ${this.workflow.slug}`),
      });
    } catch (error) {
      // Render may refuse to cancel a run that finished meanwhile.
      const now = error instanceof InvalidInput ? await this.getRun(id) : undefined;
      if (now && isTerminal(now.status)) return { run: now, alreadyFinished: true };
      throw error;
    }
    // Cancelling takes a moment to show.
    let after = await this.getRun(id);
    for (let i = 1; i <= 4 && !isTerminal(after.status); i++) {
      await sleep(200 * i);
      after = await this.getRun(id);
    }
    return { run: after, alreadyFinished: isTerminal(after.status) && after.status !== "canceled" };
  }

  waitForRun(id: string, options: WaitOptions): Promise<TaskRun> {
    return waitForRun(id, options, {
      getRun: (runId) => this.getRun(runId),
      followEvents: (runId, signal, handlers) =>
        followRunEvents(this.http, runId, signal, handlers),
      logger: this.logger,
    });
  }

  async getRunLogs(id: string, query: LogsQuery): Promise<LogPage> {
    if (this.workflow.devServer) {
      throw new BackendUnavailable(
        `Logs are not available from the Render CLI's local dev server (${this.http.baseUrl}); its terminal shows each task's output`,
      );
    }
    const run = await this.getRun(id);
    return fetchRunLogs(
      this.http,
      { ownerId: this.workflow.ownerId, workflowId: this.workflow.id },
      run,
      query,
    );
  }

  async close(): Promise<void> {}

  /** The workflow's tasks (every version), cached briefly. */
  private async tasks(fresh = false): Promise<Task[]> {
    if (!fresh && this.#tasks && Date.now() - this.#tasks.at < TASKS_TTL_MS)
      return this.#tasks.list;
    const list: Task[] = [];
    for await (const page of pages(this.http, "/tasks", {
      query: this.workflow.devServer ? {} : { workflowId: [this.workflow.id] },
      schema: TaskList,
      limit: 100,
      maxPages: 10,
    })) {
      list.push(...page.items.map((item) => item.task));
    }
    for (const task of list) this.#taskNames.set(task.id, task.name);
    this.#tasks = { at: Date.now(), list };
    return list;
  }

  /** The name of a task of this workflow, or undefined for another workflow's. */
  private async taskName(taskId: string): Promise<string | undefined> {
    if (!this.#taskNames.has(taskId)) await this.tasks();
    // Not in the list: a task of another workflow, or one Render lists no more.
    if (!this.#taskNames.has(taskId)) {
      const task = await this.http
        .request("GET", `/tasks/${encodeURIComponent(taskId)}`, {
          schema: Task,
          notFound: () => new UnknownTask(taskId),
        })
        .catch((error: unknown) =>
          error instanceof UnknownTask ? undefined : Promise.reject(error),
        );
      const ours = this.workflow.devServer || task?.workflowId === this.workflow.id;
      this.#taskNames.set(taskId, task && ours ? task.name : null);
    }
    return this.#taskNames.get(taskId) ?? undefined;
  }

  /** Checks a task reference against the served workflow's tasks. */
  private async taskRef(task: string) {
    const { slug } = this.workflow;
    const match = TASK_REF.exec(task)?.groups;
    if (!match?.name) {
      throw new UnknownTask(
        `"${task}" is not a task reference; use task-name or ${slug}/task-name[:version]`,
      );
    }
    if (match.workflow !== undefined && match.workflow !== slug) {
      throw new UnknownTask(
        `Task ${task} belongs to workflow ${match.workflow}; this server serves workflow ${slug} only`,
      );
    }
    const { name, version } = match;
    let known = await this.tasks();
    if (!known.some((t) => t.name === name)) known = await this.tasks(true);
    if (!known.some((t) => t.name === name)) {
      const names = [...new Set(known.map((t) => t.name))].sort();
      throw new UnknownTask(
        `Workflow ${slug} has no task ${name}${names.length > 0 ? `; its tasks: ${names.join(", ")}` : ""}`,
      );
    }
    return {
      name,
      label: `${slug}/${name}`,
      slug: `${slug}/${name}${version ? `:${version}` : ""}`,
    };
  }
}
