import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

export interface AuthProxyOptions {
  /** The server's base URL (http://127.0.0.1:PORT), read on every request: it can be known after the proxy starts. */
  upstream: () => string;
  /** The Authorization header value added to every request. */
  authorization: () => string;
  /** Rewrites each `initialize` request's protocolVersion to this revision. */
  protocolVersion: string;
}

export interface AuthProxy {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Every MCP-Protocol-Version request header forwarded so far, in order. */
  protocolVersionHeaders: string[];
  close(): Promise<void>;
}

/** Connection-level headers (RFC 9110 §7.6.1): they describe one hop, not the message. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * An HTTP proxy on loopback that adds a bearer token to every request, for
 * clients that cannot send one (the conformance suite's). Requests are
 * forwarded with their own Host and Origin, so the server judges what the
 * client sent; responses stream through as they arrive, so SSE keeps working.
 *
 * The conformance client always asks for the newest protocol revision; the
 * proxy rewrites `initialize` to ask for `protocolVersion` instead, so the
 * same scenarios run on every revision. The client then sends whatever
 * revision the server answered in MCP-Protocol-Version, recorded here.
 */
export async function startAuthProxy(options: AuthProxyOptions): Promise<AuthProxy> {
  const protocolVersionHeaders: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const version = req.headers["mcp-protocol-version"];
      if (typeof version === "string") protocolVersionHeaders.push(version);
      forward(req, res, pinInitialize(Buffer.concat(chunks), options.protocolVersion), options);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    protocolVersionHeaders,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function forward(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  { upstream, authorization }: AuthProxyOptions,
) {
  const target = new URL(req.url ?? "/", upstream());
  const headers: IncomingHttpHeaders = endToEnd(req.headers);
  headers.authorization = authorization();
  if (body.length > 0 || req.headers["content-length"] !== undefined) {
    headers["content-length"] = String(body.length);
  }
  const outgoing = request(target, { method: req.method, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, endToEnd(answer.headers));
    // Headers now, not with the first event: an SSE client waits for them.
    res.flushHeaders();
    answer.pipe(res);
    answer.on("error", () => res.destroy());
  });
  outgoing.on("error", (error) => {
    if (res.headersSent) res.destroy();
    else res.writeHead(502, { "content-type": "text/plain" }).end(`proxy: ${error.message}`);
  });
  // The client hung up (e.g. it cancelled an SSE stream): hang up upstream too.
  res.on("close", () => {
    if (!res.writableFinished) outgoing.destroy();
  });
  outgoing.end(body);
}

function endToEnd(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name.toLowerCase())),
  );
}

/** The body with every `initialize` request (single or batched) asking for `version`. */
function pinInitialize(body: Buffer, version: string): Buffer {
  let message: unknown;
  try {
    message = JSON.parse(body.toString("utf8"));
  } catch {
    return body; // not JSON: the server's to refuse
  }
  const messages = Array.isArray(message) ? message : [message];
  let pinned = false;
  for (const m of messages) {
    if (isRecord(m) && m.method === "initialize" && isRecord(m.params)) {
      m.params.protocolVersion = version;
      pinned = true;
    }
  }
  return pinned ? Buffer.from(JSON.stringify(message)) : body;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null;
