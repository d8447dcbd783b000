/**
 * Reading JSON-RPC requests out of a parsed body, whatever a client sent: the
 * gate, the legacy leg and the per-request server all look at a body before
 * the SDK has validated it, so nothing here assumes a shape.
 */

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** A message with a method: a request or a notification. */
export interface RpcRequest {
  method: string;
  params?: unknown;
  id?: unknown;
}

/** The requests in a body (one message or a 2025-era batch); whatever is not one is skipped. */
export function requestsIn(body: unknown): RpcRequest[] {
  return (Array.isArray(body) ? body : [body]).filter(
    (message): message is RpcRequest => isRecord(message) && typeof message.method === "string",
  );
}

/** A `tools/call`: the tool it names and its (unvalidated) arguments. */
export interface ToolCall {
  name: string;
  args: unknown;
}

/** The tool a `tools/call` names and its arguments; undefined for any other message. */
export function toolCallOf(message: RpcRequest): ToolCall | undefined {
  if (message.method !== "tools/call" || !isRecord(message.params)) return undefined;
  const { name, arguments: args } = message.params;
  return typeof name === "string" ? { name, args } : undefined;
}
