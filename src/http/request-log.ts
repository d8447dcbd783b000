import type { NextFunction, Request, Response } from "express";
import { callerOf } from "../auth/caller.js";
import type { Logger } from "../logger.js";
import { boundedList, boundedText } from "./bounded.js";

/**
 * One line per request once it is answered. Only named, bounded fields are
 * logged: never headers, bodies or tokens. The path is the URL's own (not the
 * one a router saw after its mount point), without the query string. When
 * the logger's level leaves `info` out, nothing is timed or listened for:
 * that is a few per cent of a `tools/call`'s CPU (`npm run bench`).
 */
export function requestLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!logger.isLevelEnabled("info")) {
      next();
      return;
    }
    const started = process.hrtime.bigint();
    const path = boundedText(req.originalUrl.split("?", 1)[0] ?? "/", 256);
    res.on("finish", () => {
      const caller = req.auth && callerOf(req.auth);
      const mcp = req.mcp;
      logger.info(
        {
          method: req.method,
          path,
          status: res.statusCode,
          durationMs: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
          era: mcp?.era,
          rpcMethod: mcp && boundedList(mcp.messages.map((m) => m.method)),
          tool: mcp && boundedList(mcp.calls.map((call) => call.name)),
          subject: caller ? boundedText(caller.subject) : undefined,
          clientId: caller?.clientId ? boundedText(caller.clientId) : undefined,
          auth: req.decision?.outcome,
          authReason: req.decision?.reason,
          traceId: req.trace?.traceId(),
        },
        "request",
      );
    });
    next();
  };
}
