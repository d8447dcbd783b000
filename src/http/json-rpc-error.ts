import "./types.js";
import type { Response } from "express";

/**
 * Codes for errors raised before a message reaches the MCP server, in the
 * JSON-RPC implementation-defined range (-32000 to -32099) the SDK also uses.
 */
export const RpcError = {
  ParseError: -32700,
  InvalidRequest: -32600,
  InternalError: -32603,
  ServerError: -32000,
  Forbidden: -32003,
  /** A rate limit was hit: retry after the Retry-After header's seconds. */
  RateLimited: -32005,
  /** SEP-2243: `Mcp-Method`/`Mcp-Name` disagree with the body (the code the SDK's own check uses). */
  HeaderMismatch: -32020,
} as const;

export function sendRpcError(
  res: Response,
  status: number,
  code: number,
  message: string,
  options: { id?: string | number | null; data?: unknown } = {},
): void {
  res.rpcErrorCode = code;
  res.status(status).json({
    jsonrpc: "2.0",
    error: { code, message, ...(options.data === undefined ? {} : { data: options.data }) },
    id: options.id ?? null,
  });
}
