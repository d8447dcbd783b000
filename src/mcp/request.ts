import {
  classifyInboundRequest,
  type InboundModernRoute,
  type ProtocolEra,
} from "@modelcontextprotocol/server";
import type { NextFunction, Request, Response } from "express";
import { boundedText } from "../http/bounded.js";
import { RpcError, sendRpcError } from "../http/json-rpc-error.js";
import type { WorkflowBackend } from "../workflows/backend.js";
import { isRecord, type RpcRequest, requestsIn, type ToolCall, toolCallOf } from "./messages.js";
import { type ApprovalTargets, approvalIdOf, type Demand, demandOf } from "./requirements.js";
import { MODERN_REVISION } from "./revision.js";
import type { ToolDefinition } from "./tool.js";

/**
 * The JSON-RPC request as every step after the body parser sees it, read
 * from the body once: its messages, its era as the SDK classifies it, what
 * each message demands, the runs it would start. Built by `classifyRequest`;
 * the steps after read it with `mcpRequestOf`.
 */
export interface McpRequest {
  /** The requests in the body (one, or a 2025-era batch); anything else in it is not one. */
  messages: readonly RpcRequest[];
  /** The `tools/call` messages among them. */
  calls: readonly ToolCall[];
  /** Absent when the SDK's classifier refused the request. */
  era?: ProtocolEra;
  /** A 2026-07-28 request as the SDK's classifier routed it. */
  route?: InboundModernRoute;
  /** One per message. */
  demands: readonly Demand[];
  /** Calls of tools that start a run (what the run-start limit counts). */
  runStarts: number;
  /** Some request asks for progress: the answer streams it (SSE). */
  asksForProgress: boolean;
}

/** A classified request's context: `era` is known. */
export type ClassifiedRequest = McpRequest & { era: ProtocolEra };

interface ClassifyOptions {
  tools: ReadonlyMap<string, Pick<ToolDefinition, "requires" | "runOf">>;
  backend: Pick<WorkflowBackend, "taskNameOf">;
  /** What the approval requests named by calls are about (their scope depends on it); absent: none exist. */
  approvalTargets?(ids: readonly string[]): Promise<ApprovalTargets>;
}

/** Approval requests one HTTP request may name and have looked up; a batch naming more is refused. */
const MAX_APPROVALS_NAMED = 20;

/** SEP-2243: where `Mcp-Name` is mirrored from, per method (the Tasks extension adds taskId). */
const NAME_SOURCE: Readonly<Record<string, string>> = {
  "tools/call": "name",
  "prompts/get": "name",
  "resources/read": "uri",
  "tasks/get": "taskId",
  "tasks/update": "taskId",
  "tasks/cancel": "taskId",
};

/**
 * After the body parser: reads the body once into the request's context and
 * refuses what is malformed — whoever sends it, before any authorization
 * (400): an era the SDK's classifier refuses (its own answer), and for a
 * 2026-07-28 request missing `MCP-Protocol-Version` or `Mcp-Method`, or an
 * `Mcp-Name` that disagrees with the body (SEP-2243: intermediaries route and
 * rate-limit on those headers, so a request that says one thing to them and
 * another to us is refused, as the SDK's entry would: -32020).
 */
export function classifyRequest(options: ClassifyOptions) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const body: unknown = req.body;
    const messages = requestsIn(body);
    const calls = messages.flatMap((m) => toolCallOf(m) ?? []);
    const approvalIds = new Set(
      calls.flatMap((call) => {
        const requires = options.tools.get(call.name)?.requires;
        return (requires && approvalIdOf(requires, call.args)) ?? [];
      }),
    );
    if (approvalIds.size > MAX_APPROVALS_NAMED) {
      sendRpcError(
        res,
        400,
        RpcError.InvalidRequest,
        `The request names ${approvalIds.size} approval requests; at most ${MAX_APPROVALS_NAMED} may be decided in one HTTP request`,
        { id: rpcId(messages[0]?.id) },
      );
      return;
    }
    let approvals: ApprovalTargets | undefined;
    if (approvalIds.size > 0 && options.approvalTargets) {
      try {
        approvals = await options.approvalTargets([...approvalIds]);
      } catch {
        // Approvals.targetsOf logged why.
        res.set("Retry-After", "5");
        sendRpcError(
          res,
          503,
          RpcError.InternalError,
          "The approval requests this call names could not be read from the database; retry in a few seconds",
          { id: rpcId(messages[0]?.id) },
        );
        return;
      }
    }
    const demands = messages.map((m) => demandOf(m, options.tools, options.backend, approvals));
    const context: McpRequest = {
      messages,
      calls,
      demands,
      runStarts: calls.filter((call) => options.tools.get(call.name)?.runOf !== undefined).length,
      asksForProgress: messages.some(asksForProgress),
    };
    req.mcp = context;

    const route = classifyInboundRequest({
      httpMethod: "POST",
      protocolVersionHeader: header(req, "mcp-protocol-version"),
      mcpMethodHeader: header(req, "mcp-method"),
      mcpNameHeader: header(req, "mcp-name"),
      body,
    });
    if (route.kind === "reject") {
      sendRpcError(res, route.httpStatus, route.code, route.message, {
        id: rpcId(messages[0]?.id),
        data: route.data,
      });
      return;
    }
    context.era = route.kind;
    if (route.kind === "modern") context.route = route;
    if (route.kind === "modern" && route.messageKind === "request") {
      const refusal = headerRefusal(req, route);
      if (refusal) {
        sendRpcError(res, 400, RpcError.HeaderMismatch, refusal.message, {
          id: rpcId(route.message.id),
          ...(refusal.data === undefined ? {} : { data: refusal.data }),
        });
        return;
      }
    }
    next();
  };
}

/** The request's context; only for steps after `classifyRequest` let it through. */
export function mcpRequestOf(req: Request): ClassifiedRequest {
  const context = req.mcp;
  if (context?.era === undefined) {
    throw new Error("the MCP request was not classified (classifyRequest must run first)");
  }
  return context as ClassifiedRequest;
}

/** Whether a request carries a `progressToken` (the only reason to stream an answer). */
export function asksForProgress(message: RpcRequest): boolean {
  return (
    isRecord(message.params) &&
    isRecord(message.params._meta) &&
    message.params._meta.progressToken !== undefined
  );
}

/**
 * A standard header a 2026-07-28 request lacks, or an `Mcp-Name` that
 * disagrees with its body. The presence checks are answered as the SDK's
 * entry answers them (its standard-header check is not exported), so the
 * answer does not depend on who gives it; a revision the SDK does not serve
 * is left to it (it answers that before the headers).
 */
function headerRefusal(
  req: Request,
  route: InboundModernRoute,
): { message: string; data?: unknown } | undefined {
  const { message, classification } = route;
  if (classification.revision === MODERN_REVISION) {
    const missing =
      header(req, "mcp-protocol-version") === undefined
        ? `the body envelope names protocol version ${classification.revision} but the required MCP-Protocol-Version header is absent`
        : header(req, "mcp-method") === undefined
          ? `the body names method ${message.method} but the required Mcp-Method header is absent`
          : undefined;
    if (missing) {
      return {
        message: `Bad Request: the request headers and body disagree: ${missing}`,
        data: { mismatch: { header: "(missing)", body: missing } },
      };
    }
  }
  const mismatch = nameMismatch(message, header(req, "mcp-name"));
  return mismatch === undefined ? undefined : { message: `Bad Request: ${mismatch}` };
}

/** Why `Mcp-Name` disagrees with the body, or undefined when it agrees (or the method mirrors no name). */
function nameMismatch(message: RpcRequest, headerValue: string | undefined): string | undefined {
  const field = Object.hasOwn(NAME_SOURCE, message.method)
    ? NAME_SOURCE[message.method]
    : undefined;
  const value = field && isRecord(message.params) ? message.params[field] : undefined;
  if (typeof value !== "string") return undefined;
  if (headerValue === undefined) {
    return `the body carries params.${field} but the required Mcp-Name header is absent`;
  }
  const named = decodeHeaderValue(headerValue);
  return named === value
    ? undefined
    : `the Mcp-Name header names ${JSON.stringify(boundedText(named))} but the body's params.${field} is ${JSON.stringify(boundedText(value))}`;
}

/** SEP-2243 Base64 sentinel: `=?base64?<value>?=` carries a value a header cannot. */
function decodeHeaderValue(value: string): string {
  const encoded = /^=\?base64\?([A-Za-z0-9+/=]*)\?=$/.exec(value)?.[1];
  return encoded === undefined ? value : Buffer.from(encoded, "base64").toString("utf8");
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

export const rpcId = (id: unknown) =>
  typeof id === "string" || typeof id === "number" ? id : null;
