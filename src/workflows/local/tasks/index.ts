/**
 * Example tasks, after Render Workflows' quickstart. Write your own the same
 * way in a module of your own and point LOCAL_TASKS_MODULE at its built file.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { task, taskContext } from "../task.js";

export const greet = task(
  {
    name: "greet",
    description: "Greets someone by name.",
    input: z.tuple([z.string().min(1).describe("Who to greet")]),
  },
  function greet(name: string) {
    return `Hello, ${name}!`;
  },
);

export const square = task(
  {
    name: "square",
    description: "Squares a number.",
    input: z.tuple([z.number().describe("The number to square")]),
  },
  function square(n: number) {
    return n * n;
  },
);

export const sumOfSquares = task(
  {
    name: "sumOfSquares",
    description:
      "Sums the squares of some numbers, running one square subtask per number in parallel.",
    input: z.tuple([z.array(z.number()).max(100).describe("The numbers")]),
  },
  async function sumOfSquares(numbers: number[]) {
    const squares = await Promise.all(numbers.map((n) => square(n)));
    taskContext().log.info(`squares: ${squares.join(", ")}`);
    return squares.reduce((sum, value) => sum + value, 0);
  },
);

export const flipCoin = task(
  {
    name: "flipCoin",
    description: "Flips a coin and fails on tails; retried up to 3 times, so it usually succeeds.",
    input: z.tuple([]),
    retry: { maxRetries: 3, waitDurationMs: 500, backoffScaling: 2 },
  },
  function flipCoin() {
    const heads = Math.random() < 0.5;
    console.log(`attempt ${taskContext().attempt}: ${heads ? "heads" : "tails"}`);
    if (!heads) throw new Error("tails");
    return "heads";
  },
);

export const longRunning = task(
  {
    name: "longRunning",
    description:
      "Works for the given number of seconds (at most 600), logging each second: for waiting and cancelling.",
    input: z.tuple([z.number().int().min(1).max(600).describe("Seconds to run")]),
    timeoutSeconds: 660,
  },
  async function longRunning(seconds: number) {
    for (let i = 1; i <= seconds; i++) {
      await sleep(1000);
      taskContext().log.info(`${i} of ${seconds} seconds done`);
    }
    return { seconds };
  },
);
