import type { ErrorCode } from "../error-codes.js";
import { WorkflowError } from "../workflows/errors.js";

/**
 * Why the store cannot start. The message is one line that names the
 * variable to fix (DATABASE_URL or LOCAL_DB_PATH) and never a password.
 * Match on `code`.
 */
export class StoreStartupError extends Error {
  readonly code: ErrorCode = "ERR_STORE_STARTUP";

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The database cannot be reached or opened. */
export class StoreUnreachable extends StoreStartupError {
  override readonly code = "ERR_STORE_UNREACHABLE";
}

/**
 * The store failed while serving a call (connection lost, timeout, database
 * locked). Retrying later may succeed. The message says nothing about the
 * database; the cause is logged.
 */
export class StoreUnavailable extends WorkflowError {
  readonly code = "ERR_STORE_UNAVAILABLE";
  override readonly retryable = true;

  constructor(options?: ErrorOptions) {
    super("The server's database is unavailable; try again shortly");
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}
