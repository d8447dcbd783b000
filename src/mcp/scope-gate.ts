import type { NextFunction, Request, Response } from "express";
import { bearerChallenge } from "../auth/challenge.js";
import { missingScopes } from "../auth/scope-check.js";
import { ALL_SCOPES, type Scope } from "../auth/scopes.js";
import { RpcError, sendRpcError } from "../http/json-rpc-error.js";
import type { ToolDefinition } from "./tool.js";

interface Refusal {
  id: string | number | null;
  tool: string;
  required: readonly Scope[];
  missing: Scope[];
}

/**
 * Runs before the MCP transport sees the request: every `tools/call` in the
 * body (a batch included) is checked against its tool's declared scopes, and
 * if any lacks one, nothing runs and the client gets 403 `insufficient_scope`
 * naming the scopes to ask for (MCP authorization: scope challenge handling).
 */
export function scopeGate(tools: readonly ToolDefinition[], resourceMetadataUrl: string) {
  const scopesByTool = new Map(tools.map((tool) => [tool.name, tool.scopes]));
  return (req: Request, res: Response, next: NextFunction) => {
    const granted = req.auth?.scopes ?? [];
    const messages: unknown[] = Array.isArray(req.body) ? req.body : [req.body];
    const methods: string[] = [];
    const called: string[] = [];
    let refusal: Refusal | undefined;

    for (const message of messages) {
      if (!isObject(message) || typeof message.method !== "string") continue;
      methods.push(message.method);
      if (message.method !== "tools/call" || !isObject(message.params)) continue;
      const name = message.params.name;
      if (typeof name !== "string") continue;
      called.push(name);
      const required = scopesByTool.get(name);
      // An unknown tool is the MCP server's to answer (a JSON-RPC error); it runs nothing.
      if (!required) continue;
      const missing = missingScopes(required, granted);
      if (missing.length > 0 && !refusal) {
        refusal = { id: rpcId(message.id), tool: name, required, missing };
      }
    }
    res.locals.rpcMethods =
      methods.length === 1 ? methods[0] : methods.length ? methods : undefined;
    res.locals.tools = called.length === 1 ? called[0] : called.length ? called : undefined;

    if (!refusal) {
      next();
      return;
    }
    // Ask for what the call needs plus what the token already has, so stepping
    // up never costs the client a scope it holds.
    const wanted = ALL_SCOPES.filter((s) => refusal.required.includes(s) || granted.includes(s));
    const description = `${refusal.tool} requires ${refusal.required.join(" ")}; the token lacks ${refusal.missing.join(" ")}`;
    res.locals.authDecision = "insufficient_scope";
    res.locals.authReason = description;
    res.set(
      "WWW-Authenticate",
      bearerChallenge({
        resourceMetadata: resourceMetadataUrl,
        scope: wanted,
        error: "insufficient_scope",
        description,
      }),
    );
    sendRpcError(res, 403, RpcError.Forbidden, `Insufficient scope: ${description}`, {
      id: refusal.id,
      data: {
        tool: refusal.tool,
        requiredScopes: refusal.required,
        missingScopes: refusal.missing,
      },
    });
  };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const rpcId = (id: unknown) => (typeof id === "string" || typeof id === "number" ? id : null);
