import type { Request } from "express";
import { boundedText } from "./bounded.js";

/** How the request's authorization was decided: the `auth` field of its log line. */
type AuthDecision =
  | "authenticated"
  | "no_token"
  | "invalid_token"
  | "insufficient_scope"
  | "keys_unavailable"
  | "host_refused"
  | "origin_refused"
  | "rate_limited"
  | "duplicate_header";

export interface Decision {
  outcome: AuthDecision;
  /** Why, for a refusal: bounded, never a token. */
  reason?: string;
}

/** Records what decided the request (the last step to decide wins), for its log line. */
export function decide(req: Request, outcome: AuthDecision, reason?: string): void {
  req.decision = reason === undefined ? { outcome } : { outcome, reason: boundedText(reason) };
}
