import { pino } from "pino";

export type Logger = pino.Logger;

/**
 * JSON lines on stdout. Redaction is a second line of defence: nothing should
 * put credentials in a log record in the first place.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: undefined,
    redact: {
      paths: [
        "authorization",
        "*.authorization",
        "headers.authorization",
        "*.headers.authorization",
        "token",
        "*.token",
        "apiKey",
        "*.apiKey",
      ],
      censor: "[redacted]",
    },
  });
}
