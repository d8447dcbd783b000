import { worded } from "../../src/mcp/wording.js";
import { WorkflowError } from "../../src/workflows/errors.js";

/**
 * What a backend's call rejected with, as a client reads it: its class, its
 * code and its message as the MCP layer words it (backends leave the scopes
 * to it). Fails when the call succeeds or throws something else.
 */
export async function readsAs(call: Promise<unknown>) {
  const error = await call.then(
    () => {
      throw new Error("expected a refusal");
    },
    (rejection: unknown) => rejection,
  );
  if (!(error instanceof WorkflowError)) throw error;
  return {
    name: error.name,
    code: error.code,
    retryable: error.retryable,
    message: worded(error.parts),
  };
}
