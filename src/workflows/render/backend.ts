import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../logger.js";
import { listQueryDigest, reaches } from "../access.js";
import { DEFAULT_MAX_ACTIVE_RUNS } from "../active-runs.js";
import { answerSizeOf, noteAnswerSize } from "../answer-size.js";
import type {
  CancelOutcome,
  ListRunsQuery,
  LogPage,
  LogsQuery,
  ReadBudget,
  RunAccess,
  RunAction,
  RunPage,
  StartOptions,
  WaitOptions,
  WorkflowBackend,
} from "../backend.js";
import { mapLimit, SingleFlight } from "../concurrency.js";
import {
  BackendUnavailable,
  InputTooLarge,
  InvalidInput,
  NotRootRun,
  RunNotFound,
  UnknownTask,
} from "../errors.js";
import { allRunsAccess, message } from "../message.js";
import { ActiveRunsBound } from "../owners/active-runs-bound.js";
import { listOwnedRuns } from "../owners/owned-runs.js";
import type { RunOwners } from "../owners/run-owners.js";
import { RunSummaries } from "../owners/run-summaries.js";
import {
  isTerminal,
  MAX_INPUT_BYTES,
  type StartedBy,
  type TaskInfo,
  type TaskInput,
  type TaskRun,
  type TaskRunSummary,
  toSummary,
} from "../run.js";
import { encodeCursor, listCursorFor } from "./cursor.js";
import { followRunEvents } from "./events.js";
import { type FollowLimits, RunFollowers } from "./followers.js";
import type { Query, RenderHttp } from "./http.js";
import { MAX_RUN_PAGES, RENDER_LISTING_NOTE, RENDER_RUN_PAGE_SIZE } from "./listing-note.js";
import { fetchRunLogs } from "./logs.js";
import { toTaskRun } from "./map.js";
import { pages } from "./pages.js";
import { RenderRun, RenderRunDetails, RenderRunList, Task, TaskList } from "./schemas.js";
import { fetchRenderSummaries } from "./summaries.js";
import { parseTaskRef, taskNameIn } from "./task-ref.js";
import { waitForRun } from "./wait.js";
import type { ServedWorkflow } from "./workflow.js";

const TASKS_TTL_MS = 30_000;
const RUN_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** Store lookups of who started a listed run, at a time. */
const OWNER_LOOKUPS_AT_ONCE = 8;
/** Attempts at recording who started a run before the run is cancelled instead. */
const RECORD_ATTEMPTS = 2;

/**
 * Render Workflows through its REST API, for the one workflow the server
 * serves. Render's runs carry no owner, so this server records who started
 * each run it starts (RunOwners) and shows a caller without `:all` access
 * only the run trees it started; a run outside the caller's access answers
 * exactly like a run that does not exist.
 */
export class RenderBackend implements WorkflowBackend {
  readonly listingNote = RENDER_LISTING_NOTE;
  /** Task id → name; null for a task of another workflow. Ids never change meaning. */
  readonly #taskNames = new Map<string, string | null>();
  #tasks?: { at: number; list: Task[] };
  readonly #reads = new SingleFlight<string, TaskRun | undefined>();
  readonly #taskListing = new SingleFlight<"tasks", Task[]>();
  readonly #followers: RunFollowers;
  readonly #summaries: RunSummaries;
  readonly #active: ActiveRunsBound;

  constructor(
    private readonly http: RenderHttp,
    private readonly workflow: ServedWorkflow,
    private readonly owners: RunOwners,
    private readonly logger: Logger,
    options: { follow?: FollowLimits; maxActiveRunsPerCaller?: number } = {},
  ) {
    const { follow, maxActiveRunsPerCaller = DEFAULT_MAX_ACTIVE_RUNS } = options;
    this.#followers = new RunFollowers(
      {
        read: async (id) => (await this.readRun(id)) ?? Promise.reject(this.notFound(id)),
        followEvents: (id, signal, handlers) => followRunEvents(this.http, id, signal, handlers),
        logger,
      },
      follow,
    );
    this.#summaries = new RunSummaries(
      fetchRenderSummaries({
        http,
        workflowQuery: this.workflowQuery(),
        summarize: (run) => this.summarize(run),
        readOne: async (id) => {
          const run = await this.readRun(id);
          return run && toSummary(run);
        },
      }),
    );
    this.#active = new ActiveRunsBound(owners, this.#summaries, maxActiveRunsPerCaller);
  }

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

  taskNameOf(reference: string): string | undefined {
    return taskNameIn(this.workflow.slug, reference);
  }

  async startRun(
    task: string,
    input: TaskInput,
    startedBy: StartedBy,
    options: StartOptions = {},
  ): Promise<TaskRun> {
    const ref = await this.taskRef(task);
    const bytes = Buffer.byteLength(JSON.stringify(input));
    if (bytes > MAX_INPUT_BYTES) {
      throw new InputTooLarge(
        `The input is ${(bytes / 1024 / 1024).toFixed(1)} MB as JSON; Render accepts at most 4 MB of task arguments`,
      );
    }
    return this.#active.admit(startedBy, async () => {
      const created = await this.http.request("POST", "/task-runs", {
        // The key makes a retried POST (after a timeout or a 5xx) start one run, not two.
        body: { task: ref.slug, input, idempotencyKey: options.idempotencyKey ?? randomUUID() },
        schema: RenderRun,
        notFound: (message) =>
          new UnknownTask(`Render has no task ${ref.slug}${message ? ` (${message})` : ""}`),
      });
      // Recorded before anyone hears of the run: an answered start always has its owner.
      await this.recordOrCancel(created.id, ref.label, startedBy);
      return { ...toTaskRun(created, ref.label, startedBy), input };
    });
  }

  async getRun(id: string, access: RunAccess, budget?: ReadBudget): Promise<TaskRun> {
    // Read once for every caller at that moment (readRun): weighed once it is in memory.
    const run = await this.visibleRun(id, access, "read");
    budget?.admit(answerSizeOf(run));
    return run;
  }

  async listRuns(query: ListRunsQuery): Promise<RunPage> {
    const cursor = listCursorFor(query);
    const ref = query.task ? await this.taskRef(query.task) : undefined;
    const wanted = query.status?.length ? new Set(query.status) : undefined;
    const digest = listQueryDigest(query);
    if (query.access.kind === "own") {
      if (ref?.version) {
        throw new InvalidInput(
          message`Your own runs are listed by task name, every version together: filter by ${ref.label} without :${ref.version} (Render's version filter needs ${allRunsAccess("read")})`,
        );
      }
      return listOwnedRuns(this.owners, this.#summaries, {
        owner: query.access.owner,
        task: ref?.label,
        status: wanted,
        limit: query.limit,
        cursor: cursor?.kind === "owned" ? cursor : undefined,
        digest,
      });
    }
    const found: TaskRunSummary[] = [];
    let lastSeen: string | undefined;
    let more = false;
    scan: for await (const page of pages(this.http, "/task-runs", {
      query: {
        ...this.workflowQuery(),
        taskSlug: ref ? [this.workflow.devServer ? ref.name : ref.slug] : undefined,
      },
      schema: RenderRunList,
      // Filtering by status happens here, so read Render's pages whole.
      limit: wanted ? RENDER_RUN_PAGE_SIZE : query.limit,
      maxPages: wanted ? MAX_RUN_PAGES : 1,
      after: cursor?.kind === "runs" ? cursor.after : undefined,
    })) {
      more = page.more;
      for (const [index, { taskRun, cursor: itemCursor }] of page.items.entries()) {
        lastSeen = itemCursor;
        const summary = await this.summarize(taskRun);
        if (!summary || (wanted && !wanted.has(summary.status))) continue;
        found.push(summary);
        if (found.length === query.limit) {
          more ||= index < page.items.length - 1;
          break scan;
        }
      }
    }
    const runs = await mapLimit(found, OWNER_LOOKUPS_AT_ONCE, async (summary) => ({
      ...summary,
      startedBy: await this.owners.startedBy(summary.rootTaskRunId),
    }));
    return {
      runs,
      nextCursor:
        more && lastSeen
          ? encodeCursor({ kind: "runs", after: lastSeen, query: digest })
          : undefined,
    };
  }

  async cancelRun(id: string, access: RunAccess, budget?: ReadBudget): Promise<CancelOutcome> {
    const run = await this.visibleRun(id, access, "cancel");
    budget?.admit(answerSizeOf(run));
    if (run.rootTaskRunId !== run.id) {
      throw new NotRootRun(
        `Run ${id} is a subtask run; Render cancels a whole run tree from its root. Cancel its root run ${run.rootTaskRunId} instead (that cancels ${id} too).`,
      );
    }
    if (isTerminal(run.status)) return { run, alreadyFinished: true };
    try {
      await this.http.request("DELETE", `/task-runs/${encodeURIComponent(id)}`, {
        notFound: () => this.notFound(id, access, "cancel"),
      });
    } catch (error) {
      // Render may refuse to cancel a run that finished meanwhile.
      const now = error instanceof InvalidInput ? await this.readRun(id) : undefined;
      if (now && isTerminal(now.status)) return { run: now, alreadyFinished: true };
      throw error;
    }
    // Cancelling takes a moment to show.
    let after = (await this.readRun(id)) ?? run;
    for (let i = 1; i <= 4 && !isTerminal(after.status); i++) {
      await sleep(200 * i);
      after = (await this.readRun(id)) ?? after;
    }
    return { run: after, alreadyFinished: isTerminal(after.status) && after.status !== "canceled" };
  }

  async waitForRun(id: string, options: WaitOptions): Promise<TaskRun> {
    // A run already followed is not read again: its follower has the latest state.
    const followed = this.#followers.latest(id);
    const run =
      followed && reaches(options.access, followed.startedBy)
        ? followed
        : await this.visibleRun(id, options.access, "read");
    const latest = await waitForRun(run, options, this.#followers);
    options.budget?.admit(answerSizeOf(latest));
    return latest;
  }

  async getRunLogs(id: string, query: LogsQuery, access: RunAccess): Promise<LogPage> {
    if (this.workflow.devServer) {
      throw new BackendUnavailable(
        `Logs are not available from the Render CLI's local dev server (${this.http.baseUrl}); its terminal shows each task's output`,
      );
    }
    const run = await this.visibleRun(id, access, "read");
    return fetchRunLogs(
      this.http,
      { ownerId: this.workflow.ownerId, workflowId: this.workflow.id },
      run,
      query,
    );
  }

  async close(): Promise<void> {
    this.#followers.close();
  }

  /**
   * The run, when it is one of the workflow's and `access` reaches it; else
   * RunNotFound, worded the same whichever of the two it is.
   */
  private async visibleRun(id: string, access: RunAccess, purpose: RunAction): Promise<TaskRun> {
    const run = await this.readRun(id);
    if (!run || !reaches(access, run.startedBy)) throw this.notFound(id, access, purpose);
    return run;
  }

  /**
   * The run as Render has it now, with who started it; undefined when Render
   * has no such run of this workflow. Concurrent reads of one run share one
   * request.
   */
  private readRun(id: string): Promise<TaskRun | undefined> {
    if (!RUN_ID.test(id)) return Promise.resolve(undefined);
    return this.#reads.run(id, async () => {
      const details = await this.http
        .request("GET", `/task-runs/${encodeURIComponent(id)}`, {
          schema: RenderRunDetails,
          notFound: () => new RunNotFound(id),
        })
        .catch((error: unknown) =>
          error instanceof RunNotFound ? undefined : Promise.reject(error),
        );
      if (!details) return undefined;
      // The key may reach other workflows' runs; this server shows only its own.
      const name = await this.taskName(details.taskId);
      if (name === undefined) return undefined;
      const rootId = details.rootTaskRunId || details.id;
      const run = noteAnswerSize(
        toTaskRun(details, `${this.workflow.slug}/${name}`, await this.owners.startedBy(rootId)),
        answerSizeOf(details),
      );
      this.#summaries.remember(toSummary(run));
      return run;
    });
  }

  /** A list item in our vocabulary (no owner yet), or undefined for another workflow's run. */
  private async summarize(run: RenderRun): Promise<TaskRunSummary | undefined> {
    const name = await this.taskName(run.taskId);
    return name === undefined
      ? undefined
      : toSummary(toTaskRun(run, `${this.workflow.slug}/${name}`));
  }

  private notFound(
    id: string,
    access: RunAccess = { kind: "all" },
    purpose: RunAction = "read",
  ): RunNotFound {
    if (!RUN_ID.test(id)) {
      return new RunNotFound(
        `No task run with that id in workflow ${this.workflow.slug} (run ids look like trn-…)`,
      );
    }
    const where = `No task run ${id} in workflow ${this.workflow.slug}`;
    return new RunNotFound(
      access.kind === "own"
        ? message`${where} that you started (runs started by others, or outside this server, need ${allRunsAccess(purpose)})`
        : where,
    );
  }

  /**
   * Records who started a run Render has accepted. If that cannot be done,
   * the run is cancelled: unrecorded, it would be invisible to the person who
   * started it (who would start it again) and run with no one accountable.
   */
  private async recordOrCancel(runId: string, task: string, startedBy: StartedBy): Promise<void> {
    let failure: unknown;
    for (let attempt = 1; attempt <= RECORD_ATTEMPTS; attempt++) {
      try {
        await this.owners.record({ runId, task, startedBy });
        return;
      } catch (error) {
        failure = error;
        if (attempt < RECORD_ATTEMPTS) await sleep(200);
      }
    }
    this.logger.error(
      { err: failure, run: runId, task },
      "could not record who started a run; cancelling it",
    );
    const cancelled = await this.http
      .request("DELETE", `/task-runs/${encodeURIComponent(runId)}`)
      .then(
        () => true,
        (error: unknown) => {
          this.logger.error(
            { err: error, run: runId, task },
            "could not cancel a run whose owner was not recorded: an operator must cancel it",
          );
          return false;
        },
      );
    const unrecorded = `Render started run ${runId}, but this server could not record that you started it (its database failed)`;
    throw new BackendUnavailable(
      cancelled
        ? `${unrecorded}, so the run was cancelled; try again later`
        : message`${unrecorded}, and cancelling the run failed too: it may still run, visible only with ${allRunsAccess("read")}; try again later`,
    );
  }

  /** What selects the served workflow's runs in GET /task-runs (the dev server serves only one). */
  private workflowQuery(): Query {
    return this.workflow.devServer ? {} : { workflowId: [this.workflow.id] };
  }

  /** The workflow's tasks (every version), cached briefly; concurrent callers share one listing. */
  private async tasks(fresh = false): Promise<Task[]> {
    if (!fresh && this.#tasks && Date.now() - this.#tasks.at < TASKS_TTL_MS)
      return this.#tasks.list;
    return this.#taskListing.run("tasks", async () => {
      const list: Task[] = [];
      for await (const page of pages(this.http, "/tasks", {
        query: this.workflowQuery(),
        schema: TaskList,
        limit: 100,
        maxPages: 10,
      })) {
        list.push(...page.items.map((item) => item.task));
      }
      for (const task of list) this.#taskNames.set(task.id, task.name);
      this.#tasks = { at: Date.now(), list };
      return list;
    });
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
    const ref = parseTaskRef(task);
    if (!ref) {
      throw new UnknownTask(
        `"${task}" is not a task reference; use task-name or ${slug}/task-name[:version]`,
      );
    }
    if (ref.workflow !== undefined && ref.workflow !== slug) {
      throw new UnknownTask(
        `Task ${task} belongs to workflow ${ref.workflow}; this server serves workflow ${slug} only`,
      );
    }
    const { name, version } = ref;
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
      version,
      label: `${slug}/${name}`,
      slug: `${slug}/${name}${version ? `:${version}` : ""}`,
    };
  }
}
