import { randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { z } from "zod";
import type { Logger } from "../../logger.js";
import { NO_TELEMETRY, type RenderTelemetry } from "../../telemetry/telemetry.js";
import { noteAnswerSize } from "../answer-size.js";
import { BackendForbidden, BackendUnavailable, InputTooLarge, InvalidInput } from "../errors.js";
import { RequestBudget, type RequestKind } from "./budget.js";
import { ErrorBody } from "./schemas.js";

export interface HttpOptions {
  /** Per attempt, from sending the request to reading the whole body. */
  timeoutMs: number;
  /** Further attempts after a 429, a 5xx, a timeout or a network error. */
  maxRetries: number;
  /** No further attempt starts once this much time has passed since the first. */
  retryBudgetMs: number;
}

export const DEFAULT_HTTP_OPTIONS: HttpOptions = {
  timeoutMs: 15_000,
  maxRetries: 3,
  retryBudgetMs: 10_000,
};

export type Query = Record<string, string | number | readonly string[] | undefined>;

export interface RequestOptions<T> {
  query?: Query;
  body?: unknown;
  /** Validates the 2xx body; absent: the body is ignored (204). */
  schema?: z.ZodType<T>;
  /** The error for a 404 on this request; absent: Render's API is reported as broken. */
  notFound?: (message: string) => Error;
}

const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 4_000;

/**
 * Render's REST API with the server's own key: every request (each retry
 * too) waits for its turn in the key's request budget, every call has a
 * timeout, 429 and 5xx are retried within a bound, other statuses become
 * WorkflowErrors a person can act on, and every body read is validated. The
 * key is only ever put in the Authorization header of requests to `baseUrl`;
 * redirects are not followed, so it cannot be carried anywhere else.
 */
export class RenderHttp {
  readonly #authorization?: string;
  readonly #host: string;

  constructor(
    readonly baseUrl: string,
    apiKey: string | undefined,
    private readonly logger: Logger,
    private readonly options: HttpOptions = DEFAULT_HTTP_OPTIONS,
    private readonly budget: RequestBudget = new RequestBudget(),
    private readonly telemetry: RenderTelemetry = NO_TELEMETRY.render,
  ) {
    this.#authorization = apiKey ? `Bearer ${apiKey}` : undefined;
    this.#host = new URL(baseUrl).host;
  }

  async request<T>(
    method: "GET" | "POST" | "DELETE",
    path: string,
    options: RequestOptions<T> = {},
  ): Promise<T> {
    const url = this.url(path, options.query);
    const label = `${method} ${path}`;
    const kind: RequestKind = method === "GET" ? "read" : "write";
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      const canRetry = (delayMs: number) =>
        attempt < this.options.maxRetries &&
        Date.now() + delayMs - started <= this.options.retryBudgetMs;
      await this.turn(kind);
      const call = this.telemetry.call(method, this.#host, path, attempt);
      let response: Response;
      let text: string;
      try {
        response = await fetch(url, {
          method,
          headers: this.headers(
            options.body === undefined ? {} : { "content-type": "application/json" },
          ),
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
          redirect: "manual",
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        text = await response.text();
      } catch (error) {
        const reason =
          error instanceof Error && error.name === "TimeoutError"
            ? `no answer within ${this.options.timeoutMs / 1000} s`
            : `${error instanceof Error ? (error.cause ?? error).toString() : String(error)}`;
        call.end({
          failure: error instanceof Error && error.name === "TimeoutError" ? "timeout" : "network",
        });
        const delay = backoff(attempt);
        if (canRetry(delay)) {
          this.logger.warn(
            { call: label, attempt: attempt + 1, reason },
            "Render API call failed; retrying",
          );
          await sleep(delay);
          continue;
        }
        throw new BackendUnavailable(
          `Render's API could not be reached (${label}: ${reason}) after ${attempt + 1} attempt(s); try again later`,
        );
      }
      call.end({ status: response.status });
      this.logger.debug(
        { call: label, status: response.status, attempt: attempt + 1, ms: Date.now() - started },
        "Render API call",
      );
      this.heed(kind, response);

      if (response.status >= 200 && response.status < 300) {
        return options.schema ? parseBody(options.schema, text, label) : (undefined as T);
      }
      const message = errorMessage(text);
      if (response.status === 429 || response.status >= 500) {
        const waitMs = retryAfterMs(response.headers) ?? backoff(attempt);
        if (canRetry(waitMs)) {
          this.logger.warn(
            { call: label, status: response.status, attempt: attempt + 1, waitMs },
            "Render API call failed; retrying",
          );
          await sleep(waitMs);
          continue;
        }
        if (response.status === 429) {
          const again = retryAfterMs(response.headers);
          const seconds = again === undefined ? undefined : Math.ceil(again / 1000);
          throw new BackendUnavailable(
            `Render's API rate limit was exceeded (${label})${seconds === undefined ? "" : `; try again in ${seconds} s`}`,
            seconds === undefined ? {} : { retryAfterSeconds: seconds },
          );
        }
        throw new BackendUnavailable(
          `Render's API failed (${label}: HTTP ${response.status}${message ? `, ${message}` : ""}) after ${attempt + 1} attempt(s); try again later`,
        );
      }
      throw this.errorFor(response.status, message, label, options);
    }
  }

  /**
   * Opens an event stream, which lives until `signal` aborts; only opening it
   * is timed. No retries: the caller falls back to polling.
   */
  async stream(path: string, query: Query, signal: AbortSignal): Promise<Response> {
    await this.turn("read");
    signal.throwIfAborted();
    const opening = new AbortController();
    const stop = () => opening.abort(signal.reason);
    signal.addEventListener("abort", stop, { once: true });
    const timer = setTimeout(() => opening.abort(), this.options.timeoutMs);
    const call = this.telemetry.call("GET", this.#host, path, 0);
    let response: Response;
    try {
      response = await fetch(this.url(path, query), {
        headers: this.headers({ accept: "text/event-stream" }),
        redirect: "manual",
        signal: opening.signal,
      });
    } catch (error) {
      call.end({ failure: "network" });
      throw error;
    } finally {
      clearTimeout(timer);
    }
    call.end({ status: response.status });
    this.heed("read", response);
    if (response.status !== 200 || !response.body) {
      await response.body?.cancel();
      throw new BackendUnavailable(`Render's event stream answered HTTP ${response.status}`);
    }
    return response;
  }

  /** Waits for this request's turn in the budget (LimitReached when it is too far off). */
  private async turn(kind: RequestKind): Promise<void> {
    const waitMs = this.budget.reserve(kind);
    if (waitMs > 0) await sleep(waitMs);
  }

  /**
   * Render's own count wins over ours: after a 429, or an answer saying the
   * window is used up (other instances or apps may share the key), no request
   * of that kind is sent until Render says the window resets.
   */
  private heed(kind: RequestKind, response: Response): void {
    const exhausted =
      response.status === 429 || response.headers.get("ratelimit-remaining")?.trim() === "0";
    if (!exhausted) return;
    const waitMs = retryAfterMs(response.headers);
    if (waitMs !== undefined && waitMs > 0) this.budget.pause(kind, waitMs);
  }

  private url(path: string, query: Query = {}): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined) continue;
      // Render's array parameters are repeated keys (OpenAPI form, explode).
      for (const item of typeof value === "object" ? value : [value])
        params.append(key, String(item));
    }
    const search = params.size > 0 ? `?${params}` : "";
    return `${this.baseUrl}${path}${search}`;
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    return {
      accept: "application/json",
      "user-agent": "workflows-mcp",
      ...(this.#authorization ? { authorization: this.#authorization } : {}),
      ...extra,
    };
  }

  private errorFor(
    status: number,
    message: string,
    label: string,
    options: RequestOptions<unknown>,
  ): Error {
    const detail = message ? `: ${message}` : "";
    switch (status) {
      case 401:
        return new BackendForbidden(
          `Render refused the server's API key (HTTP 401${detail}); the server's operator must check RENDER_API_KEY`,
        );
      case 403:
        return new BackendForbidden(
          `Render refused the server's API key for this action (HTTP 403${detail}); the key's workspace may not include the workflow`,
        );
      case 404:
        return (
          options.notFound?.(message) ??
          new BackendUnavailable(`Render's API has no ${label} (HTTP 404${detail})`)
        );
      case 400:
      case 409:
      case 422:
        return new InvalidInput(`Render rejected the request${detail || ` (HTTP ${status})`}`);
      case 413:
        return new InputTooLarge(`Render refused the request as too large (HTTP 413${detail})`);
      default:
        return status >= 300 && status < 400
          ? new BackendUnavailable(
              `Render's API answered ${label} with a redirect (HTTP ${status}), which this server does not follow`,
            )
          : new BackendUnavailable(`Render's API answered ${label} with HTTP ${status}${detail}`);
    }
  }
}

function parseBody<T>(schema: z.ZodType<T>, text: string, label: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BackendUnavailable(`Render's API answered ${label} with a body that is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "body";
    throw new BackendUnavailable(
      `Render's API answered ${label} with a body this server does not understand (${where}: ${issue?.message ?? "invalid"})`,
    );
  }
  const { data } = parsed;
  return typeof data === "object" && data !== null ? noteAnswerSize(data, text.length) : data;
}

/** Render's `message`, one line and short: it is shown to clients as is. */
function errorMessage(text: string): string {
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(text));
    const message = parsed.success ? parsed.data.message : undefined;
    return message ? message.replace(/\s+/g, " ").trim().slice(0, 300) : "";
  } catch {
    return "";
  }
}

/** Full jitter: a random wait up to an exponentially growing ceiling. */
function backoff(attempt: number): number {
  return randomInt(
    BACKOFF_BASE_MS,
    Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt + 1)) + 1,
  );
}

/** `Retry-After` (seconds or an HTTP date), else `Ratelimit-Reset` (seconds). */
function retryAfterMs(headers: Headers): number | undefined {
  const retryAfter = headers.get("retry-after");
  if (retryAfter) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - Date.now());
  }
  const reset = Number(headers.get("ratelimit-reset") ?? Number.NaN);
  if (!Number.isFinite(reset)) return undefined;
  // Seconds until the window resets; tolerate an epoch timestamp too.
  return Math.max(0, reset > 1e9 ? reset * 1000 - Date.now() : reset * 1000);
}
