import type { McpServer, McpServerFactory, Server, Transport } from "@modelcontextprotocol/server";
import { isRecord } from "../../mcp/messages.js";
import { traceOfAuth } from "./request-trace.js";

/**
 * The per-request servers' answers, as they leave: each response a server
 * sends through its transport (the documented `Transport.send`) ends the
 * span of the message it answers, with its outcome. Those servers are built
 * for one request, so the request's trace is known when one is built.
 */
export function observeAnswers(factory: McpServerFactory): McpServerFactory {
  return (ctx) => {
    const requestTrace = traceOfAuth(ctx.authInfo);
    const built = factory(ctx);
    if (!requestTrace) return built;
    const observe = (server: McpServer | Server): McpServer | Server => {
      const connect = server.connect.bind(server);
      server.connect = (transport: Transport) => {
        const send = transport.send.bind(transport);
        transport.send = (message, options) => {
          if (isRecord(message) && ("result" in message || "error" in message)) {
            requestTrace.answered(message);
          }
          return send(message, options);
        };
        return connect(transport);
      };
      return server;
    };
    return built instanceof Promise ? built.then(observe) : observe(built);
  };
}
