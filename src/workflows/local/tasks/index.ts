/**
 * Example tasks, after Render Workflows' quickstart, in the shape of Render's
 * TypeScript SDK 1.x: deployed to Render, the same code runs with
 * `import { task, type TaskContext } from "@renderinc/sdk/workflows"` (drop
 * `description` and `input`, which only the embedded engine reads). Write
 * your own the same way and point LOCAL_TASKS_MODULE at the built file.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { type TaskContext, task } from "../task.js";

export const greet = task(
  {
    name: "greet",
    description: "Greets someone by name.",
    input: z.tuple([z.string().min(1).describe("Who to greet")]),
  },
  function greet(_ctx: TaskContext, name: string) {
    return `Hello, ${name}!`;
  },
);

export const square = task(
  {
    name: "square",
    description: "Squares a number.",
    input: z.tuple([z.number().describe("The number to square")]),
  },
  function square(_ctx: TaskContext, n: number) {
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
  async function sumOfSquares(ctx: TaskContext, numbers: number[]) {
    const squares = await Promise.all(numbers.map((n) => ctx.run(square, n)));
    console.log(`squares: ${squares.join(", ")}`);
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
  function flipCoin(_ctx: TaskContext) {
    const heads = Math.random() < 0.5;
    console.log(heads ? "heads" : "tails");
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
  async function longRunning(_ctx: TaskContext, seconds: number) {
    for (let i = 1; i <= seconds; i++) {
      await sleep(1000);
      console.log(`${i} of ${seconds} seconds done`);
    }
    return { seconds };
  },
);
