/**
 * What OpenTelemetry costs (issue 20): (a) with telemetry on — every request
 * traced and measured, exported over OTLP/HTTP to a loopback receiver —
 * against (a) with it off, the same request at the same concurrency, round
 * by round; and, given `--before=<main.js of an earlier build>`, (a) against
 * that build (A/B: telemetry off must cost nothing).
 */
import { cv, mean } from "./stats.js";

/** Issue 20: telemetry on keeps at least this share of the throughput at concurrency 10. */
export const TELEMETRY_GOAL = { share: 0.85, concurrency: 10 };

interface Cell {
  target: string;
  request: string;
  concurrency: number;
  rps: number;
  rpsPerRound: number[];
  p99Ms: number;
}

export interface Comparison {
  request: string;
  concurrency: number;
  /** Mean req/s of the first target over the second's. */
  ratio: number;
  perRound: number[];
  spread: number;
  p99Ratio: number;
}

/** `a` against `b` for every request and concurrency both were measured at. */
export function compare(cells: readonly Cell[], a: string, b: string): Comparison[] {
  return cells
    .filter((cell) => cell.target === a)
    .flatMap((cell) => {
      const other = cells.find(
        (c) => c.target === b && c.request === cell.request && c.concurrency === cell.concurrency,
      );
      if (!other) return [];
      const perRound = cell.rpsPerRound.map((v, i) => v / (other.rpsPerRound[i] ?? Number.NaN));
      return [
        {
          request: cell.request,
          concurrency: cell.concurrency,
          ratio: cell.rps / other.rps,
          perRound,
          spread: cv(perRound),
          p99Ratio: cell.p99Ms / other.p99Ms,
        },
      ];
    });
}

/** The goal's verdict: every request measured at its concurrency keeps the share. */
export function telemetryVerdict(on: readonly Comparison[]) {
  const atGoal = on.filter((c) => c.concurrency === TELEMETRY_GOAL.concurrency);
  const worst = Math.min(...atGoal.map((c) => c.ratio));
  return {
    ...TELEMETRY_GOAL,
    worstShare: worst,
    meanShare: mean(atGoal.map((c) => c.ratio)),
    met: atGoal.length > 0 && worst >= TELEMETRY_GOAL.share,
  };
}

export function printComparisons(
  log: (line: string) => void,
  title: string,
  rows: readonly Comparison[],
): void {
  if (rows.length === 0) return;
  log(`\n${title}`);
  for (const row of rows) {
    log(
      `  c=${String(row.concurrency).padEnd(3)} ${row.request.padEnd(28)} ${row.ratio.toFixed(2)}× req/s  [${Math.min(...row.perRound).toFixed(2)}–${Math.max(...row.perRound).toFixed(2)} per round]  p99 ${row.p99Ratio.toFixed(2)}×`,
    );
  }
}
