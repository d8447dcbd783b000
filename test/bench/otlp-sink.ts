/**
 * The bench's OTLP/HTTP receiver, on loopback as a collector beside the
 * server would be: it takes every export (traces and metrics, protobuf),
 * counts them and their bytes, and answers 200 as a collector does. It
 * decodes nothing: that would be the driver's cost, not the server's.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface OtlpSink {
  url: string;
  received(): { traces: number; metrics: number; bytes: number };
  close(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const counts = { traces: 0, metrics: 0, bytes: 0 };
  const server = createServer((req, res) => {
    req.on("data", (chunk: Buffer) => {
      counts.bytes += chunk.length;
    });
    req.on("end", () => {
      if (req.url === "/v1/traces") counts.traces++;
      if (req.url === "/v1/metrics") counts.metrics++;
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received: () => ({ ...counts }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
