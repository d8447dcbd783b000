/**
 * Errors a backend raises for conditions a caller can act on. Tools turn them
 * into tool errors (`isError: true`) carrying `message`; anything else is a bug
 * and is reported without internals. Codes are stable: match on `code`.
 */
export class WorkflowError extends Error {
  static code = "ERR_WORKFLOW";
  code = "ERR_WORKFLOW";
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
    this.code = (new.target as typeof WorkflowError).code;
  }
}

export class UnknownTask extends WorkflowError {
  static override code = "ERR_UNKNOWN_TASK";
}

export class RunNotFound extends WorkflowError {
  static override code = "ERR_RUN_NOT_FOUND";
}

export class InvalidInput extends WorkflowError {
  static override code = "ERR_INVALID_INPUT";
}

export class InputTooLarge extends WorkflowError {
  static override code = "ERR_INPUT_TOO_LARGE";
}

/** Render cancels whole run trees: only a root run can be cancelled. */
export class NotRootRun extends WorkflowError {
  static override code = "ERR_NOT_ROOT_RUN";
}

export class InvalidCursor extends WorkflowError {
  static override code = "ERR_INVALID_CURSOR";
}

/** The backend refused the server's own credentials or the action (Render 401/403). */
export class BackendForbidden extends WorkflowError {
  static override code = "ERR_BACKEND_FORBIDDEN";
}

/** The backend could not be reached or kept failing (timeouts, 5xx, 429 after retries). */
export class BackendUnavailable extends WorkflowError {
  static override code = "ERR_BACKEND_UNAVAILABLE";
}
