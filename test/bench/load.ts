/** One autocannon run of one request against one target, with every response's latency kept. */
import autocannon, { type Request } from "autocannon";
import { type BenchRequest, forge, isResult } from "./requests.js";
import { Samples } from "./stats.js";

export interface Credentials {
  /** A valid access token for ours. */
  token: string;
  /** One forged token, replayed. */
  forged: string;
}

export interface LoadOptions {
  url: string;
  request: BenchRequest;
  connections: number;
  /** Whole seconds (autocannon ends runs on its 1 s tick). */
  seconds: number;
  /** Credentials to send; absent: no Authorization header (targets that authorize nothing). */
  credentials?: Credentials;
  /** Called every second with the responses completed in that second. */
  onTick?: (responses: number) => void;
}

export interface LoadResult {
  responses: number;
  seconds: number;
  rps: number;
  latencies: Samples;
  statuses: Record<string, number>;
  /** Connection errors (timeouts included), bodies that were not results, unexpected statuses. */
  failures: number;
  detail: { errors: number; timeouts: number; mismatches: number; wrongStatus: number };
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const { request, credentials } = options;
  const headers: Record<string, string> = { ...request.headers };
  const requests: Request[] = [{}];
  if (credentials) {
    if (request.token === "valid") headers.authorization = `Bearer ${credentials.token}`;
    if (request.token === "forged") headers.authorization = `Bearer ${credentials.forged}`;
    if (request.token === "forged-each") {
      requests[0] = {
        setupRequest: (req) => ({
          ...req,
          headers: { ...headers, authorization: `Bearer ${forge(credentials.token)}` },
        }),
      };
    }
  }
  const latencies = new Samples();
  const statuses: Record<string, number> = {};
  const instance = autocannon({
    url: `${options.url}/mcp`,
    method: "POST",
    connections: options.connections,
    duration: options.seconds,
    timeout: 10,
    headers,
    body: request.body,
    requests,
    ...(request.expect === "result" ? { verifyBody: isResult } : {}),
  });
  instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
    latencies.push(ms);
    statuses[status] = (statuses[status] ?? 0) + 1;
  });
  if (options.onTick) {
    const onTick = options.onTick;
    instance.on("tick", ({ counter }: { counter: number }) => onTick(counter));
  }
  const result = await instance;
  const expected = request.expect === "401" ? "401" : "200";
  const wrongStatus = Object.entries(statuses)
    .filter(([status]) => status !== expected)
    .reduce((sum, [, count]) => sum + count, 0);
  const detail = {
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    wrongStatus,
  };
  return {
    responses: latencies.length,
    seconds: result.duration,
    rps: latencies.length / result.duration,
    latencies,
    statuses,
    failures: detail.errors + detail.mismatches + detail.wrongStatus,
    detail,
  };
}
