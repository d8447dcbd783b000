import type { NextFunction, Request, Response } from "express";
import type { Logger } from "../logger.js";

/**
 * One line per request once it is answered. Only named fields are logged:
 * never headers, bodies or tokens.
 */
export function requestLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.on("finish", () => {
      const extra = req.auth?.extra;
      logger.info(
        {
          method: req.method,
          path: req.path,
          status: res.statusCode,
          durationMs: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
          rpcMethod: res.locals.rpcMethods,
          tool: res.locals.tools,
          subject: extra?.subject,
          clientId: req.auth?.clientId || undefined,
          auth: res.locals.authDecision,
          authReason: res.locals.authReason,
        },
        "request",
      );
    });
    next();
  };
}
