import {
  type AuthInfo,
  type McpServerFactory,
  WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/server";
import { isRecord, requestsIn } from "./messages.js";

export interface LegacyExchange {
  authInfo?: AuthInfo;
  /** The body, already parsed (and checked) in front of the handler. */
  parsedBody: unknown;
  /** Settles when the HTTP exchange is over (answered, or the client went away). */
  closed: Promise<unknown>;
}

/**
 * 2025-era requests, served the SDK's established stateless way: a fresh
 * server from the same factory as the 2026-07-28 path, over a streamable HTTP
 * transport without sessions, torn down when the exchange closes. This is
 * what `createMcpHandler`'s own legacy fallback does, with one difference
 * its options cannot express: the answer is a single JSON body unless the
 * request asked for progress, so SSE is used only where it carries something
 * (the fallback always streams, which costs a chunked stream and more writes
 * per answer). The 2026-07-28 path answers the same way (`auto`).
 */
export function legacyStatelessHandler(factory: McpServerFactory, maxRequestBodySize: number) {
  return async (request: Request, exchange: LegacyExchange): Promise<Response> => {
    const { authInfo, parsedBody } = exchange;
    const server = await factory({
      era: "legacy",
      ...(authInfo ? { authInfo } : {}),
      requestInfo: request,
    });
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: !asksForProgress(parsedBody),
      maxRequestBodySize,
    });
    await server.connect(transport);
    void exchange.closed.then(() => {
      transport.close().catch(ignore);
      server.close().catch(ignore);
    });
    return transport.handleRequest(request, { ...(authInfo ? { authInfo } : {}), parsedBody });
  };
}

/** Whether any request in the body carries a `progressToken` (the only reason to stream). */
export function asksForProgress(body: unknown): boolean {
  return requestsIn(body).some(
    (message) =>
      isRecord(message.params) &&
      isRecord(message.params._meta) &&
      message.params._meta.progressToken !== undefined,
  );
}

const ignore = () => {};
