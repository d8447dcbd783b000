/**
 * `npm run bench` (issue 12): what an authorized MCP request costs on this
 * server, as ratios to (b) the SDK's documented stateless serving of the
 * same tools with no authorization and (c) plain express answering a fixed
 * response, all measured in one run on loopback, targets alternating round
 * by round so that a busy machine slows them all alike.
 *
 *   node dist/test/bench/run.js              the bench (about 6 minutes)
 *   node dist/test/bench/run.js --quick      one short round of everything (a smoke test)
 *   node dist/test/bench/run.js --profile    a CPU profile of (a) under load instead
 *                                            (--profile=baseline|handler|ceiling: of another target)
 *
 * Options: --rounds=N --seconds=S (headline tools/call), --secondary-rounds=N
 * --secondary-seconds=S (other requests, at concurrency 10), --cold-starts=N,
 * --sustain=S (the memory run), --log-level=LEVEL (of (a) and (b); default warn),
 * --rewarm=S (unmeasured load before each headline window; default 1, 0 in --quick),
 * --before=PATH (dist/src/main.js of an earlier build: measured beside (a), A/B),
 * --out=FILE. Results: test-results/bench-results.json.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startTestIssuer, type TestIssuer } from "../helpers/issuer.js";
import { type Credentials, type LoadResult, load } from "./load.js";
import { type OtlpSink, startOtlpSink } from "./otlp-sink.js";
import { type CpuProfile, formatSummary, type ProfileSummary, summarize } from "./profile.js";
import { type BenchRequest, forge, isResult, pollingRequests, REQUESTS } from "./requests.js";
import { cv, linearFit, mean, median, percentile, round, Samples } from "./stats.js";
import {
  BASELINE,
  CEILING,
  MAIN,
  memoryOf,
  PUBLIC_URL,
  RESOURCE,
  type RunningTarget,
  sampleMemory,
  startTarget,
  type TargetId,
  type TargetSpec,
} from "./targets.js";
import { compare, printComparisons, TELEMETRY_GOAL, telemetryVerdict } from "./telemetry-cost.js";

const argv = process.argv.slice(2);
const has = (name: string) => argv.includes(`--${name}`);
const quick = has("quick");
function option(name: string, fallback: number): number {
  const arg = argv.find((a) => a.startsWith(`--${name}=`));
  const value = arg ? Number(arg.slice(name.length + 3)) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}
/** npm runs scripts from the package's root: results go to its test-results/ (gitignored). */
const RESULTS_DIR = resolve("test-results");
const outArg = argv.find((a) => a.startsWith("--out="))?.slice("--out=".length);
const beforeArg = argv.find((a) => a.startsWith("--before="))?.slice("--before=".length);

const settings = {
  concurrencies: [1, 10, 50],
  rounds: option("rounds", quick ? 1 : 3),
  seconds: Math.round(option("seconds", quick ? 1 : 2)),
  secondaryConcurrency: 10,
  secondaryRounds: option("secondary-rounds", quick ? 1 : 2),
  secondarySeconds: Math.round(option("secondary-seconds", 1)),
  warmupSeconds: 1,
  rewarmSeconds: Math.round(option("rewarm", quick ? 0 : 1)),
  coldStarts: option("cold-starts", quick ? 1 : 3),
  sustainSeconds: Math.round(option("sustain", quick ? 6 : 20)),
  sustainConcurrency: 10,
  /** The memory run is "flat" when the heap after full GCs grows at most this much per 10k requests (50 B/request). */
  flatMbPer10k: 0.5,
  /** warn: a line per request (info) is a cost of its own, measured apart; see the README. */
  logLevel: argv.find((a) => a.startsWith("--log-level="))?.slice("--log-level=".length) ?? "warn",
};

/** The targets the issue sets (ratios of (a) at each concurrency). */
const GOALS = { vsBaseline: 2, vsCeiling: 0.5 };
/** Issue 18: a Tasks client's polling at least this fast, against tools/call get_task_run on the same run. */
const POLLING_GOAL = 0.9;

const SCOPES = "workflows:read workflows:run workflows:cancel";

function specs(issuer: TestIssuer, otlp?: OtlpSink): TargetSpec[] {
  const ours = {
    PUBLIC_URL,
    AUTH_ISSUER: issuer.issuer,
    RATE_LIMIT_REQUESTS_PER_MINUTE: "0",
    RATE_LIMIT_RUNS_PER_MINUTE: "0",
    RATE_LIMIT_CONCURRENT_PER_CALLER: "0",
    LOG_LEVEL: settings.logLevel,
  };
  return [
    {
      id: "ours",
      label: "(a) workflows-mcp: JWT validation, gate, long-lived servers for the common requests",
      script: MAIN,
      env: ours,
      authorized: true,
      modern: true,
    },
    ...(otlp
      ? [
          {
            id: "sampled" as const,
            label:
              "(a+10%) (a+) sampling a tenth of the traces (OTEL_TRACES_SAMPLER=parentbased_traceidratio, 0.1); every request still measured",
            script: MAIN,
            env: {
              ...ours,
              OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
              OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
              OTEL_TRACES_SAMPLER_ARG: "0.1",
            },
            authorized: true,
            modern: true,
            informational: true,
          },
          {
            id: "traced" as const,
            label:
              "(a+) (a) with OpenTelemetry on: every request traced and measured, exported (OTLP/HTTP protobuf) to a loopback receiver",
            script: MAIN,
            env: { ...ours, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url },
            authorized: true,
            modern: true,
            informational: true,
          },
        ]
      : []),
    ...(beforeArg
      ? [
          {
            id: "before" as const,
            label: `(a0) an earlier build (${beforeArg}), for A/B against (a)`,
            script: resolve(beforeArg),
            env: ours,
            authorized: true,
            modern: true,
            informational: true,
          },
        ]
      : []),
    {
      id: "baseline",
      label: "(b) SDK stateless: McpServer + transport per request, JSON, no auth",
      script: BASELINE,
      env: { BENCH_BASELINE: "transport", LOG_LEVEL: settings.logLevel },
      authorized: false,
      modern: false,
    },
    {
      id: "handler",
      label: "(b2) SDK v2 createMcpHandler + toNodeHandler, no auth (informational)",
      script: BASELINE,
      env: { BENCH_BASELINE: "handler", LOG_LEVEL: settings.logLevel },
      authorized: false,
      modern: true,
      informational: true,
    },
    {
      id: "ceiling",
      label: "(c) express answering a fixed JSON-RPC response",
      script: CEILING,
      env: {},
      authorized: false,
      modern: false,
    },
  ];
}

/** One target sent one request: the thing measured round after round. */
interface Unit {
  target: TargetId;
  request: BenchRequest;
}

interface Group {
  name: string;
  concurrency: number;
  units: Unit[];
  headline: boolean;
}

function groups(
  polling: ReturnType<typeof pollingRequests>,
  /** Measured beside (a) on the headline requests: telemetry on, an earlier build. */
  extra: readonly TargetId[],
): Group[] {
  const R = REQUESTS;
  const headline = settings.concurrencies.map(
    (concurrency): Group => ({
      name: "tools/call list_tasks",
      concurrency,
      headline: true,
      units: [
        { target: "ours", request: R.listTasks },
        { target: "baseline", request: R.listTasks },
        { target: "ceiling", request: R.listTasks },
        { target: "ours", request: R.modernListTasks },
        { target: "handler", request: R.listTasks },
        ...extra.flatMap((target) => [
          { target, request: R.listTasks },
          { target, request: R.modernListTasks },
        ]),
      ],
    }),
  );
  const c = settings.secondaryConcurrency;
  const all = (request: BenchRequest): Unit[] =>
    (["ours", "baseline", "handler"] as const).map((target) => ({ target, request }));
  const modern = (request: BenchRequest): Unit[] =>
    (["ours", "handler"] as const).map((target) => ({ target, request }));
  const secondary: Group[] = [
    { name: "initialize", concurrency: c, headline: false, units: all(R.initialize) },
    { name: "tools/list", concurrency: c, headline: false, units: all(R.toolsList) },
    { name: "tools/call whoami", concurrency: c, headline: false, units: all(R.whoami) },
    {
      name: "rejected token",
      concurrency: c,
      headline: false,
      units: [
        { target: "ours", request: R.rejected },
        { target: "ours", request: R.rejectedEach },
      ],
    },
    {
      name: "2026-07-28 server/discover",
      concurrency: c,
      headline: false,
      units: modern(R.discover),
    },
    {
      name: "2026-07-28 tools/list",
      concurrency: c,
      headline: false,
      units: modern(R.modernToolsList),
    },
    {
      name: "2026-07-28 tools/call list_tasks",
      concurrency: c,
      headline: false,
      units: [{ target: "handler", request: R.modernListTasks }],
    },
    {
      name: "2026-07-28 polling a run",
      concurrency: c,
      headline: false,
      units: [
        { target: "ours", request: polling.tasksGet },
        { target: "ours", request: polling.getTaskRun },
      ],
    },
  ];
  return [...headline, ...secondary];
}

const unitKey = (unit: Unit, concurrency: number) =>
  `${unit.target}|${unit.request.id}|c${concurrency}`;

interface Measured {
  target: TargetId;
  request: BenchRequest;
  concurrency: number;
  rounds: Omit<LoadResult, "latencies">[];
  latencies: Samples;
}

interface Summary {
  target: TargetId;
  request: string;
  era: string;
  concurrency: number;
  rps: number;
  rpsCv: number;
  rpsPerRound: number[];
  p50Ms: number;
  p99Ms: number;
  responses: number;
  failures: number;
  statuses: Record<string, number>;
}

function summary(m: Measured): Summary {
  const sorted = m.latencies.sorted();
  const statuses: Record<string, number> = {};
  for (const r of m.rounds) {
    for (const [status, count] of Object.entries(r.statuses)) {
      statuses[status] = (statuses[status] ?? 0) + count;
    }
  }
  const rps = m.rounds.map((r) => r.rps);
  return {
    target: m.target,
    request: m.request.id,
    era: m.request.era,
    concurrency: m.concurrency,
    rps: mean(rps),
    rpsCv: cv(rps),
    rpsPerRound: rps.map((v) => Math.round(v)),
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    responses: m.rounds.reduce((a, r) => a + r.responses, 0),
    failures: m.rounds.reduce((a, r) => a + r.failures, 0),
    statuses,
  };
}

const log = (line = "") => process.stdout.write(`${line}\n`);
const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");
const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);
const mark = (ok: boolean) => (ok ? "met" : "NOT met");

/** Starts, in (a), a run that works longer than the bench lasts, and returns its id. */
async function runToPoll(target: RunningTarget, token: string): Promise<string> {
  const res = await fetch(`${target.url}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "start_task_run", arguments: { task: "sleep", input: [3_600_000] } },
    }),
  });
  const answer = (await res.json()) as {
    result?: { structuredContent?: { run?: { id?: string } } };
  };
  const id = answer.result?.structuredContent?.run?.id;
  if (!id) throw new Error(`could not start a run to poll: ${JSON.stringify(answer)}`);
  return id;
}

/** Sends each unit's request once and checks the answer before measuring it. */
async function preflight(
  target: RunningTarget,
  request: BenchRequest,
  credentials: Credentials,
): Promise<{ ok: boolean; contentType: string; detail: string }> {
  const headers: Record<string, string> = { ...request.headers };
  if (target.spec.authorized) {
    const token =
      request.token === "valid"
        ? credentials.token
        : request.token === "forged"
          ? credentials.forged
          : forge(credentials.token);
    headers.authorization = `Bearer ${token}`;
  }
  const res = await fetch(`${target.url}/mcp`, { method: "POST", headers, body: request.body });
  const text = await res.text();
  const contentType = res.headers.get("content-type")?.split(";")[0] ?? "";
  const ok = request.expect === "401" ? res.status === 401 : res.status === 200 && isResult(text);
  return { ok, contentType, detail: `${res.status} ${text.slice(0, 300)}` };
}

async function bench() {
  const startedAt = new Date();
  const wallStart = performance.now();
  const load0 = loadavg();
  log(
    `workflows-mcp bench: node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? "?"}), load average ${load0.map((l) => l.toFixed(2)).join(" ")}`,
  );
  log(
    `  tools/call list_tasks: ${settings.rounds} rounds × ${settings.seconds} s (each after ${settings.rewarmSeconds} s unmeasured) at concurrency ${settings.concurrencies.join(", ")}; other requests: ${settings.secondaryRounds} × ${settings.secondarySeconds} s at ${settings.secondaryConcurrency}; LOG_LEVEL=${settings.logLevel}`,
  );

  const issuer = await startTestIssuer({ audience: RESOURCE });
  const token = await issuer.sign({ scope: SCOPES }, { expiresIn: 3_600 });
  const credentials: Credentials = { token, forged: forge(token) };
  // The driver's own fetch warms up before anything is timed.
  await (await fetch(issuer.jwksUrl)).text();
  const otlp = await startOtlpSink();

  const targetSpecs = specs(issuer, otlp);
  const byId = (id: TargetId) => targetSpecs.find((s) => s.id === id) as TargetSpec;
  const running = new Map<TargetId, RunningTarget>();
  const coldStarts = new Map<TargetId, number[]>();
  const cleanup = async () => {
    await Promise.allSettled([...running.values()].map((t) => t.stop()));
    await issuer.close();
    await otlp.close();
    const fixed = byId("ceiling").env.BENCH_FIXED_FILE;
    if (fixed) rmSync(fixed, { force: true });
  };
  process.once("SIGINT", () => void cleanup().then(() => process.exit(130)));

  try {
    // Cold starts, alternating targets; the last round's processes are the ones measured.
    log(`\nCold starts (spawn → first successful tools/call), ${settings.coldStarts} of each …`);
    for (let i = 0; i < settings.coldStarts; i++) {
      for (const spec of targetSpecs) {
        const target = await startTarget(spec, { token });
        coldStarts.set(spec.id, [...(coldStarts.get(spec.id) ?? []), target.coldStartMs]);
        if (spec.id === "baseline" && !byId("ceiling").env.BENCH_FIXED_FILE) {
          // The ceiling answers exactly what the baseline answered to the same tools/call.
          const file = join(tmpdir(), `bench-fixed-${process.pid}.json`);
          writeFileSync(file, target.firstAnswer);
          byId("ceiling").env.BENCH_FIXED_FILE = file;
        }
        if (i === settings.coldStarts - 1) running.set(spec.id, target);
        else await target.stop();
      }
    }
    const targetOf = (id: TargetId) => running.get(id) as RunningTarget;

    // A run that works for the whole bench, for the polling requests (what a client following a run sends).
    const polling = pollingRequests(await runToPoll(targetOf("ours"), token));
    // Every unit answers what it should before it is measured.
    const plan = groups(
      polling,
      targetSpecs.filter((s) => ["traced", "sampled", "before"].includes(s.id)).map((s) => s.id),
    );
    const skipped = new Map<string, string>();
    const contentTypes: Record<string, string> = {};
    for (const group of plan) {
      for (const unit of group.units) {
        const key = `${unit.target}|${unit.request.id}`;
        if (key in contentTypes || skipped.has(key)) continue;
        const check = await preflight(targetOf(unit.target), unit.request, credentials);
        contentTypes[key] = check.contentType;
        if (!check.ok) {
          skipped.set(key, check.detail);
          log(`  ! ${key} is not measured: it answered ${check.detail}`);
        }
      }
    }
    const measurable = (unit: Unit) => !skipped.has(`${unit.target}|${unit.request.id}`);

    const memory = new Map(
      targetSpecs.map((spec) => [spec.id, sampleMemory(targetOf(spec.id).pid, 250)]),
    );
    const idleRss = Object.fromEntries(
      targetSpecs.map((spec) => [spec.id, memoryOf(targetOf(spec.id).pid)?.rssMb ?? Number.NaN]),
    );

    const run = (unit: Unit, concurrency: number, seconds: number) =>
      load({
        url: targetOf(unit.target).url,
        request: unit.request,
        connections: concurrency,
        seconds,
        ...(targetOf(unit.target).spec.authorized ? { credentials } : {}),
      });

    // Warm-up: every unit once, unmeasured.
    const distinct = new Map<string, Unit>();
    for (const group of plan) {
      for (const unit of group.units.filter(measurable)) {
        distinct.set(`${unit.target}|${unit.request.id}`, unit);
      }
    }
    log(`Warm-up: ${distinct.size} target × request pairs, ${settings.warmupSeconds} s each …`);
    for (const unit of distinct.values()) await run(unit, 10, settings.warmupSeconds);

    // The rounds: within each group the targets alternate, and the order rotates each round.
    const measured = new Map<string, Measured>();
    const roundsOf = (group: Group) =>
      group.headline ? settings.rounds : settings.secondaryRounds;
    const maxRounds = Math.max(settings.rounds, settings.secondaryRounds);
    for (let r = 0; r < maxRounds; r++) {
      log(`Round ${r + 1} of ${maxRounds} …`);
      for (const group of plan) {
        if (r >= roundsOf(group)) continue;
        const units = group.units.filter(measurable);
        const order = units.map((_, i) => units[(i + r) % units.length] as Unit);
        for (const unit of order) {
          const seconds = group.headline ? settings.seconds : settings.secondarySeconds;
          // Each target idles while the others are measured, and on this VM its first second
          // back runs well below its rate (README, Benchmark): each headline window is warmed first.
          if (group.headline && settings.rewarmSeconds > 0) {
            await run(unit, group.concurrency, settings.rewarmSeconds);
          }
          const result = await run(unit, group.concurrency, seconds);
          const key = unitKey(unit, group.concurrency);
          const m = measured.get(key) ?? {
            target: unit.target,
            request: unit.request,
            concurrency: group.concurrency,
            rounds: [],
            latencies: new Samples(),
          };
          const { latencies, ...rest } = result;
          m.rounds.push(rest);
          m.latencies.append(latencies);
          measured.set(key, m);
          if (result.failures > 0) {
            log(
              `  ! ${key}: ${result.failures} failures ${JSON.stringify({ ...result.detail, statuses: result.statuses })}`,
            );
          }
        }
      }
    }
    for (const sampler of memory.values()) sampler.stop();
    const peakRss = Object.fromEntries(
      targetSpecs.map((s) => [s.id, memory.get(s.id)?.peakMb() ?? Number.NaN]),
    );
    const hwm = Object.fromEntries(
      targetSpecs.map((s) => [s.id, memoryOf(targetOf(s.id).pid)?.peakMb ?? Number.NaN]),
    );

    // The memory run: a fresh (a) alone, sustained, memory against requests served.
    for (const id of [
      "ours",
      "traced",
      "sampled",
      "before",
      "baseline",
      "handler",
      "ceiling",
    ] as const) {
      await running.get(id)?.stop();
      running.delete(id);
    }
    log(
      `Memory run: (a) tools/call list_tasks for ${settings.sustainSeconds} s at concurrency ${settings.sustainConcurrency} …`,
    );
    const sustained = await sustain(byId("ours"), credentials);

    const summaries = [...measured.values()].map(summary);
    const find = (target: TargetId, request: string, concurrency: number) =>
      summaries.find(
        (s) => s.target === target && s.request === request && s.concurrency === concurrency,
      );
    const pairedRatios = (a: Summary | undefined, b: Summary | undefined) => {
      if (!a || !b) return [];
      return a.rpsPerRound.map((v, i) => ratio(v, b.rpsPerRound[i] ?? Number.NaN));
    };

    // Headline: the issue's targets at each concurrency.
    const headline = settings.concurrencies.map((c) => {
      const ours = find("ours", REQUESTS.listTasks.id, c);
      const oursModern = find("ours", REQUESTS.modernListTasks.id, c);
      const baseline = find("baseline", REQUESTS.listTasks.id, c);
      const handler = find("handler", REQUESTS.listTasks.id, c);
      const ceiling = find("ceiling", REQUESTS.listTasks.id, c);
      const row = (s: Summary | undefined) => s && { rps: s.rps, p99Ms: s.p99Ms };
      const verdicts = (s: Summary | undefined) => {
        if (!s || !baseline || !ceiling) return undefined;
        const vsBaseline = ratio(s.rps, baseline.rps);
        const vsCeiling = ratio(s.rps, ceiling.rps);
        return {
          vsBaseline,
          vsBaselinePerRound: pairedRatios(s, baseline),
          vsCeiling,
          vsCeilingPerRound: pairedRatios(s, ceiling),
          vsHandler: handler ? ratio(s.rps, handler.rps) : Number.NaN,
          p99VsBaseline: ratio(s.p99Ms, baseline.p99Ms),
          goals: {
            twiceBaseline: vsBaseline >= GOALS.vsBaseline,
            halfCeiling: vsCeiling >= GOALS.vsCeiling,
            p99BelowBaseline: s.p99Ms < baseline.p99Ms,
          },
        };
      };
      return {
        concurrency: c,
        ours: row(ours),
        oursModern: row(oursModern),
        baseline: row(baseline),
        handler: row(handler),
        ceiling: row(ceiling),
        legacy: verdicts(ours),
        modern: verdicts(oursModern),
      };
    });

    const coldStart = Object.fromEntries(
      targetSpecs.map((s) => [
        s.id,
        { medianMs: median(coldStarts.get(s.id) ?? []), samplesMs: coldStarts.get(s.id) ?? [] },
      ]),
    );

    printReport({
      targetSpecs,
      summaries,
      headline,
      coldStart,
      idleRss,
      peakRss,
      hwm,
      sustained,
      contentTypes,
      skipped,
    });
    const telemetryOn = compare(summaries, "traced", "ours");
    const sampledOn = compare(summaries, "sampled", "ours");
    const telemetry = {
      ...telemetryVerdict(telemetryOn),
      sampled: telemetryVerdict(sampledOn),
      received: otlp.received(),
    };
    printComparisons(
      log,
      `OpenTelemetry on / off ((a+)/(a)), tools/call list_tasks; goal: at least ${TELEMETRY_GOAL.share}× at concurrency ${TELEMETRY_GOAL.concurrency}: ${mark(telemetry.met)} (worst ${fmt(telemetry.worstShare, 2)}×); the receiver got ${telemetry.received.traces} trace and ${telemetry.received.metrics} metric exports, ${fmt(telemetry.received.bytes / 1e6, 1)} MB`,
      telemetryOn,
    );
    printComparisons(
      log,
      `OpenTelemetry on, a tenth of the traces sampled ((a+10%)/(a)): ${mark(telemetry.sampled.met)} (worst ${fmt(telemetry.sampled.worstShare, 2)}×)`,
      sampledOn,
    );
    const ab = compare(summaries, "ours", "before");
    printComparisons(log, "A/B: (a) / (a0) the earlier build, tools/call list_tasks", ab);

    const results = {
      telemetry: roundDeep({ ...telemetry, onVsOff: telemetryOn, sampledVsOff: sampledOn }),
      ...(ab.length > 0 ? { abVsBefore: roundDeep(ab) } : {}),
      polling: roundDeep(pollingVerdict(summaries)),
      startedAt: startedAt.toISOString(),
      durationSeconds: round((performance.now() - wallStart) / 1000, 1),
      machine: {
        node: process.version,
        cpus: availableParallelism(),
        cpuModel: cpus()[0]?.model,
        loadAverageAtStart: load0.map((l) => round(l)),
        loadAverageAtEnd: loadavg().map((l) => round(l)),
      },
      settings: { ...settings, goals: GOALS },
      targets: targetSpecs.map(({ id, label, informational }) => ({ id, label, informational })),
      headline: roundDeep(headline),
      cells: roundDeep(summaries),
      coldStart: roundDeep(coldStart),
      memory: roundDeep({
        idleRssMb: idleRss,
        peakRssUnderLoadMb: peakRss,
        vmHwmMb: hwm,
        sustained,
      }),
      contentTypes,
      skipped: Object.fromEntries(skipped),
    };
    const out = outArg ?? join(RESULTS_DIR, "bench-results.json");
    mkdirSync(join(out, ".."), { recursive: true });
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    log(`\nResults: ${out} (${results.durationSeconds} s in all)`);
  } finally {
    await cleanup();
  }
}

/** A `--trace-gc` line: which collection, and the heap after it (MB). */
const GC_LINE =
  /(Scavenge|Minor Mark-Compact|Mark-Compact|Mark-sweep)[^\d]*([\d.]+) \([\d.]+\) -> ([\d.]+) \(([\d.]+)\) MB/;

/**
 * The memory run: a fresh (a) with `--trace-gc` under a sustained load. Two
 * measures against requests served, after a warm-up: the V8 heap left after
 * each full (mark-compact) collection, which is what a leak grows (the
 * verdict), and the RSS floor per second, which is noisier (V8 and the
 * allocator keep and return pages as they please; shown for information).
 */
async function sustain(spec: TargetSpec, credentials: Credentials) {
  const gcs: {
    atMs: number;
    kind: string;
    beforeMb: number;
    heapMb: number;
    committedMb: number;
  }[] = [];
  let partial = "";
  const target = await startTarget(spec, {
    token: credentials.token,
    nodeArgs: ["--trace-gc"],
    onOutput: (chunk) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        const match = GC_LINE.exec(line);
        if (match) {
          gcs.push({
            atMs: performance.now(),
            kind: match[1] ?? "",
            beforeMb: Number(match[2]),
            heapMb: Number(match[3]),
            committedMb: Number(match[4]),
          });
        }
      }
    },
  });
  const sampler = sampleMemory(target.pid, 250);
  const ticks: { atMs: number; total: number }[] = [];
  let total = 0;
  let result: LoadResult;
  try {
    result = await load({
      url: target.url,
      request: REQUESTS.listTasks,
      connections: settings.sustainConcurrency,
      seconds: settings.sustainSeconds,
      credentials,
      onTick: (responses) => {
        total += responses;
        ticks.push({ atMs: performance.now(), total });
      },
    });
  } finally {
    sampler.stop();
    await target.stop();
  }
  /** Requests served by a moment, interpolated between the ticks around it. */
  const requestsAt = (atMs: number) => {
    let before = { atMs: (ticks[0]?.atMs ?? 0) - 1000, total: 0 };
    for (const tick of ticks) {
      if (tick.atMs >= atMs) {
        const span = tick.atMs - before.atMs;
        const share = span > 0 ? (atMs - before.atMs) / span : 0;
        return before.total + share * (tick.total - before.total);
      }
      before = tick;
    }
    return before.total;
  };
  const warmupSeconds = Math.max(3, Math.floor(ticks.length / 4));
  const since = (ticks[warmupSeconds - 1] ?? ticks[0])?.atMs ?? 0;
  const until = ticks.at(-1)?.atMs ?? Number.POSITIVE_INFINITY;

  // Allocated between collections: the heap before each one minus the heap after the previous.
  const inWindow = gcs.filter((g) => g.atMs >= since && g.atMs <= until);
  let allocatedMb = 0;
  for (let i = 1; i < inWindow.length; i++) {
    allocatedMb += Math.max(
      0,
      (inWindow[i] as { beforeMb: number }).beforeMb -
        (inWindow[i - 1] as { heapMb: number }).heapMb,
    );
  }
  const windowRequests =
    inWindow.length > 1
      ? requestsAt((inWindow.at(-1) as { atMs: number }).atMs) -
        requestsAt((inWindow[0] as { atMs: number }).atMs)
      : Number.NaN;
  const fullGcs = gcs.filter(
    (g) => g.kind === "Mark-Compact" && g.atMs >= since && g.atMs <= until,
  );
  const heapFit = linearFit(fullGcs.map((g) => ({ x: requestsAt(g.atMs) / 10_000, y: g.heapMb })));

  // Per second: the lowest RSS seen, against requests so far.
  const buckets = ticks.map((tick, i) => {
    const from = i === 0 ? 0 : (ticks[i - 1] as { atMs: number }).atMs;
    const inSecond = sampler.samples.filter((x) => x.atMs > from && x.atMs <= tick.atMs);
    return {
      requests: tick.total,
      minRssMb: inSecond.length ? Math.min(...inSecond.map((x) => x.rssMb)) : Number.NaN,
    };
  });
  const kept = buckets.slice(warmupSeconds).filter((b) => Number.isFinite(b.minRssMb));
  const rssFit = linearFit(kept.map((b) => ({ x: b.requests / 10_000, y: b.minRssMb })));
  return {
    seconds: result.seconds,
    requests: result.responses,
    rps: result.rps,
    failures: result.failures,
    warmupSeconds,
    toleranceMbPer10k: settings.flatMbPer10k,
    heapAfterFullGc: {
      collections: fullGcs.length,
      slopeMbPer10kRequests: heapFit.slope,
      r2: heapFit.r2,
      mb: fullGcs.map((g) => g.heapMb),
    },
    scavenges: gcs.filter((g) => g.kind !== "Mark-Compact").length,
    /** What V8 allocated per request served, from the heap sizes around each collection. */
    allocatedKbPerRequest: (allocatedMb * 1024) / windowRequests,
    /** The most the V8 heap held (before a collection) and had committed, after the warm-up. */
    heapPeakMb: Math.max(0, ...gcs.filter((g) => g.atMs >= since).map((g) => g.beforeMb)),
    heapCommittedPeakMb: Math.max(
      0,
      ...gcs.filter((g) => g.atMs >= since).map((g) => g.committedMb),
    ),
    rss: {
      slopeMbPer10kRequests: rssFit.slope,
      r2: rssFit.r2,
      growthMb: (kept.at(-1)?.minRssMb ?? Number.NaN) - (kept[0]?.minRssMb ?? Number.NaN),
      peakMb: sampler.peakMb(),
      floorPerSecondMb: buckets.map((b) => b.minRssMb),
    },
    /** Undefined when too few full collections happened after the warm-up to tell. */
    flat:
      fullGcs.length >= 3
        ? heapFit.slope <= settings.flatMbPer10k
        : (undefined as boolean | undefined),
  };
}

function printReport(r: {
  targetSpecs: TargetSpec[];
  summaries: Summary[];
  headline: {
    concurrency: number;
    legacy?: Verdicts;
    modern?: Verdicts;
    [key: string]: unknown;
  }[];
  coldStart: Record<string, { medianMs: number; samplesMs: number[] }>;
  idleRss: Record<string, number>;
  peakRss: Record<string, number>;
  hwm: Record<string, number>;
  sustained: Awaited<ReturnType<typeof sustain>>;
  contentTypes: Record<string, string>;
  skipped: Map<string, string>;
}) {
  const name: Record<TargetId, string> = {
    ours: "(a) ours",
    traced: "(a+) ours, telemetry on*",
    sampled: "(a+10%) sampled 0.1*",
    before: "(a0) earlier build*",
    baseline: "(b) baseline",
    handler: "(b2) v2 handler*",
    ceiling: "(c) ceiling",
  };
  log("\nTargets");
  for (const spec of r.targetSpecs) log(`  ${spec.label}`);
  log("  * informational: not part of the goals");

  const header = `${"conc".padStart(4)}  ${"target".padEnd(24)}${"req/s".padStart(8)} ${"±".padStart(5)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"fail".padStart(6)}   ours/(b)  ours/(c)  ours/(b2)*`;
  const line = (s: Summary, label: string, cells = "") =>
    log(
      `${String(s.concurrency).padStart(4)}  ${label.padEnd(24)}${fmt(s.rps).padStart(8)} ${`${fmt(s.rpsCv * 100)}%`.padStart(5)}${fmt(s.p50Ms, 2).padStart(9)}${fmt(s.p99Ms, 2).padStart(9)}${String(s.failures).padStart(6)}${cells}`,
    );
  const x = (v: number | undefined) => (v === undefined ? "" : `${fmt(v, 2)}×`);
  const perRound = (values: number[] | undefined) =>
    values && values.length > 1
      ? `[${fmt(Math.min(...values), 2)}–${fmt(Math.max(...values), 2)}]`
      : "";

  log(
    "\ntools/call list_tasks (read-only; the backend lists the fixture tasks): one row per target",
  );
  log(header);
  for (const c of settings.concurrencies) {
    const at = (target: TargetId, request: string) =>
      r.summaries.find((s) => s.target === target && s.request === request && s.concurrency === c);
    const h = r.headline.find((row) => row.concurrency === c);
    const rows: [Summary | undefined, string, Verdicts | undefined][] = [
      [at("ours", REQUESTS.listTasks.id), "(a) ours, 2025-11-25", h?.legacy],
      [at("ours", REQUESTS.modernListTasks.id), "(a) ours, 2026-07-28", h?.modern],
      [at("baseline", REQUESTS.listTasks.id), name.baseline, undefined],
      [at("handler", REQUESTS.listTasks.id), name.handler, undefined],
      [at("ceiling", REQUESTS.listTasks.id), name.ceiling, undefined],
    ];
    for (const [s, label, v] of rows) {
      if (!s) continue;
      line(
        s,
        label,
        v
          ? `   ${x(v.vsBaseline).padStart(7)}  ${x(v.vsCeiling).padStart(7)}  ${x(v.vsHandler).padStart(7)}`
          : "",
      );
    }
    log("");
  }
  log(
    "  ± is the spread of req/s between rounds (coefficient of variation); p50/p99 pool every round.",
  );

  log(
    "\nGoals for (a), authorized tools/call (ratio of mean req/s; [min–max] of the per-round ratios):",
  );
  for (const row of r.headline) {
    for (const [era, v] of [
      ["2025-11-25", row.legacy],
      ["2026-07-28", row.modern],
    ] as const) {
      if (!v) continue;
      log(
        `  c=${String(row.concurrency).padEnd(3)} ${era}: ≥${GOALS.vsBaseline}× baseline: ${fmt(v.vsBaseline, 2)}× ${perRound(v.vsBaselinePerRound)} ${mark(v.goals.twiceBaseline)};  ≥${GOALS.vsCeiling}× ceiling: ${fmt(v.vsCeiling, 2)}× ${perRound(v.vsCeilingPerRound)} ${mark(v.goals.halfCeiling)};  p99 below baseline's: ${fmt(v.p99VsBaseline, 2)}× ${mark(v.goals.p99BelowBaseline)}`,
      );
    }
  }
  const s = r.sustained;
  log(
    `  memory flat under a sustained run (heap after full GCs): ${s.flat === undefined ? `undetermined (${s.heapAfterFullGc.collections} full GCs)` : `${fmt(s.heapAfterFullGc.slopeMbPer10kRequests, 2)} MB per 10k requests (tolerance ${s.toleranceMbPer10k}) → ${s.flat ? "flat: met" : "growing: NOT met"}`}`,
  );

  log(
    `\nOther requests, concurrency ${settings.secondaryConcurrency} (ours/(b) for 2025-11-25 requests; ours/(b2) for 2026-07-28 ones)`,
  );
  log(
    `      ${"request".padEnd(44)}${"target".padEnd(18)}${"req/s".padStart(8)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}${"fail".padStart(6)}  statuses`,
  );
  const secondaryIds = [
    REQUESTS.initialize,
    REQUESTS.toolsList,
    REQUESTS.whoami,
    REQUESTS.rejected,
    REQUESTS.rejectedEach,
    REQUESTS.discover,
    REQUESTS.modernToolsList,
    REQUESTS.modernListTasks,
  ];
  for (const request of secondaryIds) {
    const cells = r.summaries.filter(
      (s) => s.request === request.id && s.concurrency === settings.secondaryConcurrency,
    );
    const ours = cells.find((s) => s.target === "ours");
    const reference = cells.find(
      (s) => s.target === (request.era === "2025-11-25" ? "baseline" : "handler"),
    );
    for (const s of cells) {
      const statuses = Object.entries(s.statuses)
        .map(([k, v]) => `${k}×${v}`)
        .join(" ");
      log(
        `      ${`${request.era} ${request.label}`.padEnd(44)}${name[s.target].padEnd(18)}${fmt(s.rps).padStart(8)}${fmt(s.p50Ms, 2).padStart(9)}${fmt(s.p99Ms, 2).padStart(9)}${String(s.failures).padStart(6)}  ${statuses}`,
      );
    }
    if (ours && reference && reference !== ours) {
      log(
        `      ${"".padEnd(44)}${"ours/reference".padEnd(18)}${`${fmt(ratio(ours.rps, reference.rps), 2)}×`.padStart(8)}${`${fmt(ratio(ours.p50Ms, reference.p50Ms), 2)}×`.padStart(9)}${`${fmt(ratio(ours.p99Ms, reference.p99Ms), 2)}×`.padStart(9)}`,
      );
    }
  }
  const polling = pollingVerdict(r.summaries);
  for (const s of [polling.tasksGet, polling.getTaskRun]) {
    if (!s) continue;
    log(
      `      ${`2026-07-28 ${s.request === "m-tasks-get" ? "tasks/get" : "tools/call get_task_run"} (a run working)`.padEnd(44)}${name.ours.padEnd(18)}${fmt(s.rps).padStart(8)}${fmt(s.p50Ms, 2).padStart(9)}${fmt(s.p99Ms, 2).padStart(9)}${String(s.failures).padStart(6)}`,
    );
  }
  log(
    `      ${"tasks/get / tools/call get_task_run".padEnd(44)}${"".padEnd(18)}${`${fmt(polling.ratio, 2)}×`.padStart(8)}  per round ${polling.perRound.map((v) => fmt(v, 2)).join(", ")} (≥${POLLING_GOAL}×: ${mark(polling.met)})`,
  );
  log(
    "  (a)'s 2026-07-28 tools/call row is its concurrency-10 row of the table above (all its rounds).",
  );
  log(
    "  The rejected-token requests go to (a) only ((b) and (c) authorize nothing): every answer must be 401.",
  );
  log(
    "  'same forged token' is answered from the verifier's rejection cache after the first; 'a new forged",
  );
  log(
    "  token each' pays a full ES256 verification every time (an attacker's flood of distinct tokens).",
  );

  log(
    "\nMemory (RSS, MB)                     idle after start   peak under load   VmHWM (peak since spawn)",
  );
  for (const spec of r.targetSpecs) {
    log(
      `  ${name[spec.id].padEnd(34)}${fmt(r.idleRss[spec.id] ?? Number.NaN, 1).padStart(16)}${fmt(r.peakRss[spec.id] ?? Number.NaN, 1).padStart(18)}${fmt(r.hwm[spec.id] ?? Number.NaN, 1).padStart(18)}`,
    );
  }
  const idleOf = (id: TargetId) => r.peakRss[id] ?? Number.NaN;
  log(
    `  peak ratios: ours/(b) ${fmt(ratio(idleOf("ours"), idleOf("baseline")), 2)}×, ours/(c) ${fmt(ratio(idleOf("ours"), idleOf("ceiling")), 2)}×`,
  );
  log(
    `  sustained (a), a fresh process with --trace-gc: ${s.requests} requests in ${fmt(s.seconds, 0)} s (${fmt(s.rps)} req/s, ${s.failures} failures); after a ${s.warmupSeconds} s warm-up:`,
  );
  log(
    `    V8 heap after each full GC (${s.heapAfterFullGc.collections} of them; ${s.scavenges} scavenges): ${s.heapAfterFullGc.mb.map((v) => fmt(v, 1)).join(" ")} MB → ${fmt(s.heapAfterFullGc.slopeMbPer10kRequests, 2)} MB per 10k requests; heap peak ${fmt(s.heapPeakMb, 0)} MB, committed up to ${fmt(s.heapCommittedPeakMb, 0)} MB; about ${fmt(s.allocatedKbPerRequest, 0)} KB allocated per request`,
  );
  log(
    `    RSS floor per second: ${s.rss.floorPerSecondMb
      .filter(Number.isFinite)
      .map((v) => fmt(v, 0))
      .join(
        " ",
      )} MB → ${fmt(s.rss.slopeMbPer10kRequests, 2)} MB per 10k requests (r² ${fmt(s.rss.r2, 2)}; informational: V8 and the allocator keep and return pages as they please)`,
  );

  log("\nCold start (spawn → first successful tools/call), median of runs");
  for (const spec of r.targetSpecs) {
    const c = r.coldStart[spec.id];
    if (!c) continue;
    log(
      `  ${name[spec.id].padEnd(24)}${fmt(c.medianMs).padStart(6)} ms   (${c.samplesMs.map((v) => fmt(v)).join(", ")})`,
    );
  }
  const cold = (id: TargetId) => r.coldStart[id]?.medianMs ?? Number.NaN;
  log(
    `  ours/(b) ${fmt(ratio(cold("ours"), cold("baseline")), 2)}×, ours/(c) ${fmt(ratio(cold("ours"), cold("ceiling")), 2)}×`,
  );

  const types = Object.entries(r.contentTypes)
    .map(([key, type]) => `${key}: ${type}`)
    .join("; ");
  log(`\nResponse types: ${types}`);
  for (const [key, detail] of r.skipped) log(`  not measured: ${key}: ${detail}`);
}

/** tasks/get against tools/call get_task_run, on the same working run, side by side in one run. */
function pollingVerdict(summaries: Summary[]) {
  const find = (id: string) => summaries.find((s) => s.target === "ours" && s.request === id);
  const tasksGet = find("m-tasks-get");
  const getTaskRun = find("m-call-get-task-run");
  const perRound = (tasksGet?.rpsPerRound ?? []).map((v, i) =>
    ratio(v, getTaskRun?.rpsPerRound[i] ?? Number.NaN),
  );
  const value = ratio(tasksGet?.rps ?? Number.NaN, getTaskRun?.rps ?? Number.NaN);
  return { tasksGet, getTaskRun, ratio: value, perRound, met: value >= POLLING_GOAL };
}

interface Verdicts {
  vsBaseline: number;
  vsBaselinePerRound: number[];
  vsCeiling: number;
  vsCeilingPerRound: number[];
  vsHandler: number;
  p99VsBaseline: number;
  goals: { twiceBaseline: boolean; halfCeiling: boolean; p99BelowBaseline: boolean };
}

/** Numbers rounded for the results file. */
function roundDeep<T>(value: T): T {
  if (typeof value === "number") return (Number.isInteger(value) ? value : round(value, 3)) as T;
  if (Array.isArray(value)) return value.map(roundDeep) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundDeep(v)])) as T;
  }
  return value;
}

/**
 * `--profile`: (a) under load with `node --cpu-prof`; the samples of each
 * load window (2025-11-25 tools/call, 2026-07-28 tools/call, new forged
 * tokens) summarized separately.
 */
async function profile() {
  const seconds = Math.round(option("seconds", 8));
  const dir = join(RESULTS_DIR, "bench-profile");
  mkdirSync(dir, { recursive: true });
  const issuer = await startTestIssuer({ audience: RESOURCE });
  const token = await issuer.sign({ scope: SCOPES }, { expiresIn: 3_600 });
  const credentials: Credentials = { token, forged: forge(token) };
  const which = (argv.find((a) => a.startsWith("--profile="))?.slice("--profile=".length) ??
    "ours") as TargetId;
  const otlp = await startOtlpSink();
  const spec = specs(issuer, otlp).find((s) => s.id === which);
  if (!spec)
    throw new Error(
      `--profile=${which}: no such target (ours, traced, baseline, handler, ceiling)`,
    );
  const send = spec.authorized ? { credentials } : {};
  const before = new Set(readdirSync(dir));
  const target = await startTarget(spec, {
    token,
    nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${dir}`, "--cpu-prof-interval=250"],
  });
  const summaries: Record<string, ProfileSummary> = {};
  const windows: { name: string; request: BenchRequest; from: number; to: number }[] = [];
  try {
    log(`Profiling ${spec.label} at concurrency 10: warm-up, then ${seconds} s per request …`);
    const plan: [string, BenchRequest][] = [
      [`tools/call list_tasks, 2025-11-25 client`, REQUESTS.listTasks],
      ...(spec.modern
        ? [
            [`tools/call list_tasks, 2026-07-28 client`, REQUESTS.modernListTasks] as [
              string,
              BenchRequest,
            ],
          ]
        : []),
      ...(spec.authorized
        ? [
            ["rejected: a new forged token per request", REQUESTS.rejectedEach] as [
              string,
              BenchRequest,
            ],
          ]
        : []),
    ];
    for (const [, request] of plan.slice(0, 2)) {
      await load({ url: target.url, request, connections: 10, seconds: 2, ...send });
    }
    for (const [name, request] of plan) {
      const from = Number(process.hrtime.bigint() / 1000n);
      const result = await load({ url: target.url, request, connections: 10, seconds, ...send });
      const to = Number(process.hrtime.bigint() / 1000n);
      windows.push({
        name: `${name} (${fmt(result.rps)} req/s under the profiler)`,
        request,
        from,
        to,
      });
    }
  } finally {
    await target.stop();
    await issuer.close();
    await otlp.close();
  }
  await sleep(200);
  const written = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile") && !before.has(f))
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const file = written[0];
  if (!file) throw new Error(`no CPU profile was written to ${dir}`);
  const cpu = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  for (const w of windows) {
    let s = summarize(cpu, { from: w.from, to: w.to });
    if (s.samples === 0) {
      log(`  (no samples in the ${w.name} window: clocks differ; summarizing the whole profile)`);
      s = summarize(cpu);
    }
    summaries[w.name] = s;
    log(`\n${formatSummary(w.name, s)}`);
  }
  const out = join(RESULTS_DIR, `bench-profile-${spec.id}.json`);
  writeFileSync(out, `${JSON.stringify({ profile: file, windows: summaries }, null, 2)}\n`);
  log(`Profile: ${file} (open it in Chrome DevTools or speedscope); summary: ${out}`);
}

(argv.some((a) => a === "--profile" || a.startsWith("--profile=")) ? profile() : bench()).catch(
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
