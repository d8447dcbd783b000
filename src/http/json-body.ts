import { isJsonContentType } from "@modelcontextprotocol/server";
import express, { type NextFunction, type Request, type Response } from "express";
import { RpcError, sendRpcError } from "./json-rpc-error.js";

/** Large enough for Render's 4 MB task arguments inside a JSON-RPC envelope. */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;

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
        next(error);
    }
  },
];
