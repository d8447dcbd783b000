import { type Meter, ValueType } from "@opentelemetry/api";
import { Attr, DURATION_BUCKETS, Metric } from "./names.js";

/** Every metric the server exports, made once from its meter. */
export function instruments(meter: Meter) {
  // Counted here and read at each collection: a verification costs an increment, not a recording.
  const tokenCounts = { hit: 0, miss: 0 };
  meter
    .createObservableCounter(Metric.tokenVerifications, {
      description: "Access tokens verified, by whether the verified-token cache answered",
      unit: "{token}",
      valueType: ValueType.INT,
    })
    .addCallback((result) => {
      result.observe(tokenCounts.hit, { [Attr.tokenCache]: "hit" });
      result.observe(tokenCounts.miss, { [Attr.tokenCache]: "miss" });
    });
  meter
    .createObservableGauge(Metric.tokenCacheHitRatio, {
      description: "Share of verifications the verified-token cache answered since the start",
      unit: "1",
      valueType: ValueType.DOUBLE,
    })
    .addCallback((result) => {
      const total = tokenCounts.hit + tokenCounts.miss;
      if (total > 0) result.observe(tokenCounts.hit / total);
    });

  const engineRuns = meter.createObservableGauge(Metric.engineRuns, {
    description: "Embedded engine: attempts waiting for a thread, and holding one",
    unit: "{run}",
    valueType: ValueType.INT,
  });
  const renderBudget = meter.createObservableGauge(Metric.renderBudget, {
    description: "Render API requests this instance's pacing lets through now, by kind",
    unit: "{request}",
    valueType: ValueType.INT,
  });

  const counter = (name: string, unit: string, description: string) =>
    meter.createCounter(name, { unit, description });

  return {
    operationDuration: meter.createHistogram(Metric.operationDuration, {
      description: "MCP request duration as observed on the server, from receipt to its answer",
      unit: "s",
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS] },
    }),
    refused: counter(Metric.refused, "{request}", "Requests refused, by reason"),
    runsStarted: counter(Metric.runsStarted, "{run}", "Runs started through this server, by task"),
    runsFinished: counter(
      Metric.runsFinished,
      "{run}",
      "Root runs of the embedded engine that finished, by task and status",
    ),
    renderRequests: counter(
      Metric.renderRequests,
      "{request}",
      "Requests sent to Render's API (each retry counts), by status",
    ),
    approvals: counter(Metric.approvals, "{request}", "Approval requests, by status (issue 19)"),
    tokenVerified(outcome: "hit" | "miss"): void {
      tokenCounts[outcome]++;
    },
    observeEngine(stats: () => { queued: number; held: number }): void {
      engineRuns.addCallback((result) => {
        const { queued, held } = stats();
        result.observe(queued, { [Attr.runState]: "waiting" });
        result.observe(held, { [Attr.runState]: "running" });
      });
    },
    observeRenderBudget(budget: () => { read: number; write: number }): void {
      renderBudget.addCallback((result) => {
        const { read, write } = budget();
        result.observe(read, { [Attr.budgetKind]: "read" });
        result.observe(write, { [Attr.budgetKind]: "write" });
      });
    },
  };
}

export type Instruments = ReturnType<typeof instruments>;
