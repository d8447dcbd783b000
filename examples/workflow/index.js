// One tasks file for both engines: Render runs it as a workflow service, with
// Render's SDK; the embedded engine runs it as it is (LOCAL_TASKS_MODULE).
import { task } from "@renderinc/sdk/workflows";

const square = task({ name: "square", plan: "starter" }, function square(_ctx, n) {
  return n * n;
});

// Chaining: one square subtask run per number, in parallel, then the sum.
task({ name: "sumOfSquares", plan: "starter" }, async function sumOfSquares(ctx, numbers) {
  const squares = await Promise.all(numbers.map((n) => ctx.run(square, n)));
  console.log(`squares: ${squares.join(", ")}`);
  return squares.reduce((sum, value) => sum + value, 0);
});

// Retries: fails on tails; retried up to 3 times, 500 ms apart, then ×2.
task(
  {
    name: "flipCoin",
    plan: "starter",
    retry: { maxRetries: 3, waitDurationMs: 500, backoffScaling: 2 },
    timeoutSeconds: 60,
  },
  function flipCoin(_ctx) {
    const heads = Math.random() < 0.5;
    console.log(heads ? "heads" : "tails");
    if (!heads) throw new Error("tails");
    return "heads";
  },
);
