/**
 * What `@renderinc/sdk/workflows` is inside the embedded engine (the module
 * resolution hook in hooks.ts points that specifier here): the task API of
 * Render's TypeScript SDK 1.x, so a tasks module written for a Render
 * workflow service runs here unmodified. Only the task-defining part of the
 * SDK is offered: a tasks module needs nothing else (the SDK starts serving
 * its tasks by itself on Render; here the engine does).
 */
export {
  type RegisterTaskOptions,
  type Retry,
  type TaskContext,
  type TaskDefinition,
  type TaskFunction,
  task,
} from "../task.js";
