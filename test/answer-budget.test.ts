/**
 * The answer budget in process, behind a real express app on loopback: what
 * it admits, per caller and in all, for how long, and what it says when it
 * refuses. (Over the real server, test/load.test.ts (d).)
 */
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AnswerBudget } from "../src/http/answer-budget.js";
import { LimitReached } from "../src/workflows/errors.js";

const MB = 1024 * 1024;
const budget = new AnswerBudget(32 * MB);
let url: string;
let close: () => void;
/** What each request's admission did: "admitted", or the refusal's message. */
let outcome: string[] = [];

beforeAll(async () => {
  const app = express();
  app.use((req, _res, next) => {
    // What requireBearer sets: one AuthInfo per request, naming the caller.
    req.auth = {
      token: "",
      clientId: "c",
      scopes: [],
      extra: { issuer: "https://issuer.test", subject: String(req.query.who) },
    };
    next();
  });
  app.use(budget.attach);
  app.get("/", (req, res) => {
    try {
      budget.shareOf(req.auth).admit(Number(req.query.bytes));
      outcome.push("admitted");
    } catch (error) {
      outcome.push(error instanceof LimitReached ? error.message : String(error));
    }
    // Held open for a while: the answer is on its way meanwhile.
    setTimeout(() => res.end("ok"), Number(req.query.hold ?? 0));
  });
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(() => close?.());

const read = async (who: string, mb: number, hold = 0) => {
  const res = await fetch(`${url}/?who=${who}&bytes=${Math.round(mb * MB)}&hold=${hold}`);
  await res.text();
};

describe("the answer budget (32 MB: 16 MB for one caller)", () => {
  it("admits a caller up to half of it and everyone up to all of it; small answers always pass, and count", async () => {
    outcome = [];
    const held = [read("ada", 8, 300), read("ada", 8, 300)];
    await sleep(50);
    await read("ada", 1);
    await read("ada", 0.0625);
    await read("bob", 8);
    await read("bob", 8);
    await Promise.all(held);
    expect(outcome).toEqual([
      "admitted",
      "admitted",
      "This run is 1.0 MB with its input and results, and answers holding 16.0 MB of runs are being built or sent (16.0 MB of them yours); this server builds at most 32.0 MB of them at once and a second, 16.0 MB for one caller. Try again in 1 s",
      "admitted",
      "admitted",
      "This run is 8.0 MB with its input and results, and answers holding 24.1 MB of runs are being built or sent (8.0 MB of them yours); this server builds at most 32.0 MB of them at once and a second, 16.0 MB for one caller. Try again in 1 s",
    ]);
    expect(budget.held).toBe(24 * MB + 0.0625 * MB);
    // A second after their responses ended, nothing counts any more.
    await sleep(1_100);
    expect(budget.held).toBe(0);
  });

  it("counts an answer for a second even when its response ended at once", async () => {
    outcome = [];
    await read("dan", 16);
    await read("dan", 1);
    await sleep(1_100);
    await read("dan", 1);
    expect(outcome.map((o) => o.slice(0, 20))).toEqual([
      "admitted",
      "This run is 1.0 MB w",
      "admitted",
    ]);
  });

  it("bounds nothing for a request it did not see (in-process callers)", () => {
    expect(() => budget.shareOf(undefined).admit(100 * MB)).not.toThrow();
  });
});
