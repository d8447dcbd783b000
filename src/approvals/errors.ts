import { WorkflowError } from "../workflows/errors.js";

/** Also what a request the caller may not see answers: the two are indistinguishable. */
export class ApprovalNotFound extends WorkflowError {
  readonly code = "ERR_APPROVAL_NOT_FOUND";
}

/** The caller may not decide (or withdraw) this request: separation of duties, or a person in a browser. */
export class DecisionNotAllowed extends WorkflowError {
  readonly code = "ERR_DECISION_NOT_ALLOWED";
}

/** Decisions are final: the request was decided otherwise, withdrawn or expired. */
export class AlreadyDecided extends WorkflowError {
  readonly code = "ERR_ALREADY_DECIDED";
}
