import type { ErrorCode } from "../error-codes.js";
import { type Message, plainText } from "./message.js";

/**
 * Errors a backend raises for conditions a caller can act on. Tools turn them
 * into tool errors (`isError: true`) carrying the message, worded for
 * clients (src/mcp/wording.ts), and in `_meta` the stable `code`, whether
 * retrying can help and, where known, when to retry. Anything else is a bug
 * and is reported without internals. Match on `code`.
 */
export abstract class WorkflowError extends Error {
  abstract readonly code: ErrorCode;
  /** Whether the same call may succeed later, unchanged. */
  readonly retryable: boolean = false;
  /** Seconds after which a retry is expected to succeed, where known. */
  readonly retryAfterSeconds?: number;
  /** The message as the backend wrote it, with where it needs access to every run. */
  readonly parts: Message;

  constructor(message: string | Message, options: { retryAfterSeconds?: number } = {}) {
    const parts = typeof message === "string" ? [message] : message;
    super(plainText(parts));
    this.name = new.target.name;
    this.parts = parts;
    if (options.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export class UnknownTask extends WorkflowError {
  readonly code = "ERR_UNKNOWN_TASK";
}

/** Also what a run the caller may not see answers: the two are indistinguishable. */
export class RunNotFound extends WorkflowError {
  readonly code = "ERR_RUN_NOT_FOUND";
}

export class InvalidInput extends WorkflowError {
  readonly code = "ERR_INVALID_INPUT";
}

export class InputTooLarge extends WorkflowError {
  readonly code = "ERR_INPUT_TOO_LARGE";
}

/** Render cancels whole run trees: only a root run can be cancelled. */
export class NotRootRun extends WorkflowError {
  readonly code = "ERR_NOT_ROOT_RUN";
}

export class InvalidCursor extends WorkflowError {
  readonly code = "ERR_INVALID_CURSOR";
}

/**
 * When a caller refused by a bound on its runs should try again. Nothing
 * says when a slot frees (runs last what they last), so this is the order of
 * a typical run, not a promise.
 */
export const LIMIT_RETRY_AFTER_SECONDS = 30;

/** A bound on pending runs (per caller or in total) or a rate limit: retry after `retryAfterSeconds`. */
export class LimitReached extends WorkflowError {
  readonly code = "ERR_LIMIT_REACHED";
  override readonly retryable = true;
}

/** The backend refused the server's own credentials or the action (Render 401/403). */
export class BackendForbidden extends WorkflowError {
  readonly code = "ERR_BACKEND_FORBIDDEN";
}

/** The backend could not be reached or kept failing (timeouts, 5xx, 429 after retries). */
export class BackendUnavailable extends WorkflowError {
  readonly code = "ERR_BACKEND_UNAVAILABLE";
  override readonly retryable = true;
}
