import { isJsonContentType } from "@modelcontextprotocol/server";
import express, { type NextFunction, type Request, type Response } from "express";
import { RpcError, sendRpcError } from "./json-rpc-error.js";

/** Large enough for Render's 4 MB task arguments inside a JSON-RPC envelope. */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;

/**
 * Deepest nesting a body may have. The MCP SDK re-serialises the parsed body
 * (JSON.stringify, recursive), which overflows the stack a few thousand
 * levels down; no MCP message or task input needs more than a few dozen.
 */
const MAX_BODY_DEPTH = 512;

/** Whether a parsed JSON value nests deeper than `max` (iteratively: no recursion to overflow). */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, depth] = next;
    if (typeof item !== "object" || item === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      pending.push([child, depth + 1]);
    }
  }
  return false;
}

/**
 * Parses JSON bodies up to MAX_BODY_BYTES, answering what cannot be parsed
 * with the JSON-RPC error a client expects instead of express's HTML: a
 * body that is not `application/json` (415), too large (413), not JSON (400).
 */
export const jsonBody = [
  (req: Request, res: Response, next: NextFunction) => {
    if (isJsonContentType(req.headers["content-type"] ?? null)) {
      next();
      return;
    }
    sendRpcError(
      res,
      415,
      RpcError.ServerError,
      "Unsupported Media Type: Content-Type must be application/json",
    );
  },
  express.json({ limit: MAX_BODY_BYTES, strict: false }),
  (error: unknown, _req: Request, res: Response, next: NextFunction) => {
    const type = (error as { type?: string } | undefined)?.type;
    switch (type) {
      case "entity.too.large":
        sendRpcError(
          res,
          413,
          RpcError.InvalidRequest,
          `Request body exceeds ${MAX_BODY_BYTES} bytes`,
        );
        return;
      case "entity.parse.failed":
        sendRpcError(res, 400, RpcError.ParseError, "Parse error: the body is not valid JSON");
        return;
      case "encoding.unsupported":
      case "charset.unsupported":
        sendRpcError(
          res,
          415,
          RpcError.InvalidRequest,
          "Unsupported body encoding or charset: send UTF-8 JSON",
        );
        return;
      case "request.aborted":
        res.status(400).end();
        return;
      default:
        // A compressed body that does not decompress: zlib's error, which
        // body-parser marks 400 without a type. The client's fault, not ours.
        if ((error as { status?: unknown } | undefined)?.status === 400) {
          sendRpcError(
            res,
            400,
            RpcError.ParseError,
            "Parse error: the body could not be decompressed (Content-Encoding)",
          );
          return;
        }
        next(error);
    }
  },
  (req: Request, res: Response, next: NextFunction) => {
    if (!nestsDeeperThan(req.body, MAX_BODY_DEPTH)) {
      next();
      return;
    }
    sendRpcError(
      res,
      400,
      RpcError.InvalidRequest,
      `Bad Request: the body nests deeper than ${MAX_BODY_DEPTH} levels`,
    );
  },
];
