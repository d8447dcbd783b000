import type { AuthInfo } from "@modelcontextprotocol/server";
import type { McpRequest } from "../mcp/request.js";
import type { RequestTrace } from "../telemetry/telemetry.js";
import type { Decision } from "./decision.js";

/**
 * What the steps of a request tell the steps after them, typed (never
 * through `res.locals`). Each is set by one step only.
 */
declare module "express-serve-static-core" {
  interface Request {
    /** Set by requireBearer once the access token is verified; forwarded to the MCP handler. */
    auth?: AuthInfo;
    /** What decided the request, for its log line (src/http/decision.ts). */
    decision?: Decision;
    /** The JSON-RPC request, classified once after the body parser: read it with mcpRequestOf. */
    mcp?: McpRequest;
    /**
     * In development, the loopback name the request used, answered as itself
     * (src/auth/loopback-resource.ts): its resource identifier and metadata URL.
     */
    loopback?: { resource: string; resourceMetadataUrl: string };
    /** With telemetry on, the request's trace (src/telemetry/): its id goes into the log line. */
    trace?: RequestTrace;
  }
  interface Response {
    /** The per-caller count this exchange holds until it closes (src/http/in-flight.ts). */
    inFlightKey?: string;
    /** The JSON-RPC error code of a refusal sent before the MCP server saw the request (telemetry reads it). */
    rpcErrorCode?: number;
  }
}
