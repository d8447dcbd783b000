import { once } from "node:events";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AuthProxy, startAuthProxy } from "./auth-proxy.js";

interface Received {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  body: string;
}

// An upstream that records what reaches it; /sse holds its stream open
// between events until the test lets it go on.
let received: Received[] = [];
let sse: ServerResponse | undefined;
const upstream = createServer((req, res) => {
  let body = "";
  req.setEncoding("utf8").on("data", (chunk: string) => {
    body += chunk;
  });
  req.on("end", () => {
    received.push({ method: req.method, url: req.url, headers: req.headers, body });
    if (req.url === "/sse") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: first\n\n");
      sse = res;
    } else {
      res.writeHead(202, { "content-type": "application/json", "x-upstream": "yes" });
      res.end('{"ok":true}');
    }
  });
});
let proxy: AuthProxy;

beforeAll(async () => {
  upstream.listen(0, "127.0.0.1");
  await once(upstream, "listening");
  proxy = await startAuthProxy({
    upstream: () => `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
    authorization: () => "Bearer t0ken",
    protocolVersion: "2025-06-18",
  });
});
beforeEach(() => {
  received = [];
});
afterAll(async () => {
  sse?.end();
  await proxy.close();
  upstream.closeAllConnections();
  upstream.close();
});

describe("the authenticating proxy", () => {
  it("adds the token and forwards the rest as the client sent it", async () => {
    const res = await fetch(`${proxy.url}/mcp?x=1`, {
      method: "POST",
      headers: {
        authorization: "Bearer not-this-one",
        origin: "http://evil.example.com",
        "content-type": "application/json",
      },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
    expect(res.status).toBe(202);
    expect(res.headers.get("x-upstream")).toBe("yes");
    expect(await res.text()).toBe('{"ok":true}');
    expect(received).toEqual([
      expect.objectContaining({
        method: "POST",
        url: "/mcp?x=1",
        body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      }),
    ]);
    expect(received[0]?.headers).toMatchObject({
      authorization: "Bearer t0ken",
      origin: "http://evil.example.com",
      host: new URL(proxy.url).host,
    });
  });

  it("asks for its protocol revision in initialize, single or batched, and records the header", async () => {
    const initialize = (id: number) => ({
      jsonrpc: "2.0",
      id,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {} },
    });
    const post = (body: unknown) =>
      fetch(`${proxy.url}/mcp`, {
        method: "POST",
        headers: { "content-type": "application/json", "mcp-protocol-version": "2025-11-25" },
        body: JSON.stringify(body),
      }).then((res) => res.text());
    const seenBefore = proxy.protocolVersionHeaders.length;
    await post(initialize(1));
    await post([initialize(2), { jsonrpc: "2.0", method: "notifications/initialized" }]);
    expect(received.map((r) => JSON.parse(r.body))).toEqual([
      { ...initialize(1), params: { protocolVersion: "2025-06-18", capabilities: {} } },
      [
        { ...initialize(2), params: { protocolVersion: "2025-06-18", capabilities: {} } },
        { jsonrpc: "2.0", method: "notifications/initialized" },
      ],
    ]);
    expect(proxy.protocolVersionHeaders.slice(seenBefore)).toEqual(["2025-11-25", "2025-11-25"]);
  });

  it("streams server-sent events as they come", async () => {
    const events: string[] = [];
    const res = await new Promise<IncomingMessage>((resolve) =>
      request(`${proxy.url}/sse`, { method: "GET" }, resolve).end(),
    );
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => events.push(chunk));
    // The upstream has not ended: the first event arrives only if it is streamed.
    while (events.length === 0) await once(res, "data");
    expect(events).toEqual(["data: first\n\n"]);
    sse?.end("data: second\n\n");
    await once(res, "end");
    expect(events.join("")).toBe("data: first\n\ndata: second\n\n");
  });
});
