import { classifyInboundRequest } from "@modelcontextprotocol/server";
import type { NextFunction, Request, Response } from "express";
import type { Auditor } from "../audit/auditor.js";
import { bearerChallenge } from "../auth/challenge.js";
import { authorize } from "../auth/policy.js";
import { boundedList, boundedText } from "../http/bounded.js";
import { RpcError, sendRpcError } from "../http/json-rpc-error.js";
import type { WorkflowBackend } from "../workflows/backend.js";
import { auditEventOf, callerOf } from "./caller.js";
import { isRecord, type RpcRequest, requestsIn, toolCallOf } from "./messages.js";
import { demandOf } from "./requirements.js";
import { MODERN_REVISION } from "./server.js";
import type { ToolDefinition } from "./tool.js";

export interface GateOptions {
  tools: ReadonlyMap<string, Pick<ToolDefinition, "requires" | "runOf">>;
  backend: Pick<WorkflowBackend, "taskNameOf">;
  resourceMetadataUrl: string;
  auditor: Auditor;
}

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
 * Runs after the token is verified and before the MCP handler sees the
 * request. First the request must be consistent: a 2026-07-28 request must
 * carry `MCP-Protocol-Version` and `Mcp-Method`, and they and `Mcp-Name` must
 * agree with the body (SEP-2243) — intermediaries route and rate-limit on
 * those headers, so a request that says one thing to them and another to us
 * is refused (400, -32020) whoever sends it. Then
 * every request in the body (a 2025-era batch included) is authorized by the
 * policy with its arguments; if any is refused, nothing runs and the client
 * gets 403 `insufficient_scope` naming the narrowest scopes that would allow
 * it plus those the token holds (MCP authorization: step-up).
 */
export function scopeGate(options: GateOptions) {
  return (req: Request, res: Response, next: NextFunction) => {
    const body: unknown = req.body;
    const requests = requestsIn(body);
    const calls = requests.flatMap((m) => toolCallOf(m) ?? []);
    res.locals.rpcMethods = boundedList(requests.map((m) => m.method));
    res.locals.tools = boundedList(calls.map((call) => call.name));

    const route = classifyInboundRequest({
      httpMethod: "POST",
      protocolVersionHeader: header(req, "mcp-protocol-version"),
      mcpMethodHeader: header(req, "mcp-method"),
      mcpNameHeader: header(req, "mcp-name"),
      body,
    });
    if (route.kind === "reject") {
      sendRpcError(res, route.httpStatus, route.code, route.message, {
        id: rpcId(requests[0]?.id),
        data: route.data,
      });
      return;
    }
    res.locals.era = route.kind;
    if (route.kind === "modern") res.locals.route = route;
    if (route.kind === "modern" && route.messageKind === "request") {
      const missing = missingHeader(req, route.message, route.classification.revision);
      if (missing) {
        sendRpcError(res, 400, RpcError.HeaderMismatch, missing.message, {
          id: rpcId(route.message.id),
          data: missing.data,
        });
        return;
      }
      const mismatch = nameMismatch(route.message, header(req, "mcp-name"));
      if (mismatch) {
        sendRpcError(res, 400, RpcError.HeaderMismatch, `Bad Request: ${mismatch}`, {
          id: rpcId(route.message.id),
        });
        return;
      }
    }

    const granted = req.auth?.scopes ?? [];
    for (const message of requests) {
      const demand = demandOf(message, options.tools, options.backend);
      const decision = authorize(demand.requirement, granted);
      if (decision.allowed) continue;
      const allowing = decision.missing
        .map((scope) => (decision.allowedBy[scope] ?? [scope]).join(" or "))
        .join(", and ");
      const description = `${demand.target} requires ${allowing}; the token has ${granted.length > 0 ? granted.join(" ") : "no scopes"}`;
      const caller = callerOf(req.auth);
      const task = taskArgument(message);
      res.locals.authDecision = "insufficient_scope";
      res.locals.authReason = boundedText(description);
      options.auditor.refusal({
        ...auditEventOf(caller, boundedText(demand.target), "refused"),
        ...(task === undefined ? {} : { task }),
        outcome: "insufficient_scope",
        reason: decision.missing.join(" "),
      });
      res.set(
        "WWW-Authenticate",
        bearerChallenge({
          // In development, the loopback name the request used (auth/loopback-resource.ts).
          resourceMetadata: res.locals.resourceMetadataUrl ?? options.resourceMetadataUrl,
          scope: decision.challenge,
          error: "insufficient_scope",
          description,
        }),
      );
      sendRpcError(res, 403, RpcError.Forbidden, `Insufficient scope: ${description}`, {
        id: rpcId(message.id),
        data: {
          [message.method === "tools/call" ? "tool" : "method"]: demand.target,
          missingScopes: decision.missing,
          allowedBy: decision.allowedBy,
          grantedScopes: granted,
        },
      });
      return;
    }
    // What the run-start limit counts: calls of tools that start a run (they name it, `runOf`).
    res.locals.runStarts = calls.filter(
      (call) => options.tools.get(call.name)?.runOf !== undefined,
    ).length;
    next();
  };
}

/**
 * A required SEP-2243 header that is absent, answered as the SDK's entry
 * answers it (its standard-header check, which is not exported), so that a
 * malformed request is 400 whoever sends it, not 403 for a token lacking the
 * scope first. A revision the SDK does not serve is left to it: it answers
 * that before the headers.
 */
function missingHeader(
  req: Request,
  message: RpcRequest,
  revision: string | undefined,
): { message: string; data: unknown } | undefined {
  if (revision !== MODERN_REVISION) return undefined;
  const body =
    header(req, "mcp-protocol-version") === undefined
      ? `the body envelope names protocol version ${revision} but the required MCP-Protocol-Version header is absent`
      : header(req, "mcp-method") === undefined
        ? `the body names method ${message.method} but the required Mcp-Method header is absent`
        : undefined;
  return body === undefined
    ? undefined
    : {
        message: `Bad Request: the request headers and body disagree: ${body}`,
        data: { mismatch: { header: "(missing)", body } },
      };
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

function taskArgument(message: RpcRequest): string | undefined {
  const args = toolCallOf(message)?.args;
  return isRecord(args) && typeof args.task === "string" ? boundedText(args.task) : undefined;
}

const rpcId = (id: unknown) => (typeof id === "string" || typeof id === "number" ? id : null);
