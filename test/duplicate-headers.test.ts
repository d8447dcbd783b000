import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack, toolCall } from "./helpers/stack.js";

// A header a request may carry once, carried twice: Node keeps the first
// (req.headers) while a proxy in front may act on the last, so which host or
// which caller the request is for would depend on who reads it.

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * One HTTP/1.1 exchange written byte for byte (fetch and node:http will not
 * send a header twice), on a connection the server closes after its answer.
 */
function rawExchange(port: number, head: string[], body = ""): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.setTimeout(5_000, () => socket.destroy(new Error("no answer within 5 s")));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const end = text.indexOf("\r\n\r\n");
      const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body: text.slice(end + 4) });
    });
    const bytes = Buffer.from(body);
    // Written, not ended: a client that half-closes has gone away, to Node's HTTP server.
    socket.write(
      `${[...head, "Connection: close", `Content-Length: ${bytes.length}`].join("\r\n")}\r\n\r\n${body}`,
    );
  });
}

const refusal = (header: string) => ({
  jsonrpc: "2.0",
  id: null,
  error: {
    code: -32600,
    message: `Bad Request: the request has 2 ${header} headers; send exactly one`,
  },
});

describe("a header that must come once, sent twice: 400 before anything runs", () => {
  let stack: Stack;
  let alice: string;
  let bob: string;
  beforeAll(async () => {
    stack = await startStack();
    alice = await stack.issuer.sign({ sub: "dup-alice" });
    bob = await stack.issuer.sign({ sub: "dup-bob" });
  });
  afterAll(() => stack?.close());

  const mcp = (headers: string[]) =>
    rawExchange(
      stack.server.port,
      [
        "POST /mcp HTTP/1.1",
        "Content-Type: application/json",
        "Accept: application/json, text/event-stream",
        ...headers,
      ],
      JSON.stringify(toolCall("whoami")),
    );

  it("one Host and one Authorization: answered (the exchange itself is sound)", async () => {
    const res = await mcp(["Host: 127.0.0.1", `Authorization: Bearer ${alice}`]);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).result.structuredContent.subject).toBe("dup-alice");
  });

  it("two Host lines, an allowed one first (RFC 9112 §3.2): 400 naming Host, and the refusal is logged", async () => {
    const res = await mcp([
      "Host: 127.0.0.1",
      "Host: evil.example",
      `Authorization: Bearer ${alice}`,
    ]);
    expect(res.status).toBe(400);
    expect(res.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(JSON.parse(res.body)).toEqual(refusal("Host"));
    const logged = (l: Record<string, unknown>) => l.msg === "request" && l.status === 400;
    for (let waited = 0; waited < 5_000 && !stack.server.logs.some(logged); waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(stack.server.logs.find(logged)).toMatchObject({
      method: "POST",
      path: "/mcp",
      auth: "duplicate_header",
    });
  });

  it("header names are case-insensitive: Host and host", async () => {
    const res = await mcp(["Host: 127.0.0.1", "host: 127.0.0.1", `Authorization: Bearer ${alice}`]);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual(refusal("Host"));
  });

  it("two Authorization lines (two callers' tokens): 400 naming Authorization, whoever comes first", async () => {
    for (const tokens of [
      [alice, bob],
      [bob, alice],
    ]) {
      const res = await mcp([
        "Host: 127.0.0.1",
        `Authorization: Bearer ${tokens[0]}`,
        `authorization: Bearer ${tokens[1]}`,
      ]);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toEqual(refusal("Authorization"));
    }
  });

  it("on every route: GET /healthz with two Host lines is 400 too", async () => {
    const res = await rawExchange(stack.server.port, [
      "GET /healthz HTTP/1.1",
      "Host: 127.0.0.1",
      "Host: 127.0.0.1",
    ]);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual(refusal("Host"));
  });
});
