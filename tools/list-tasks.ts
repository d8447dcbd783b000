import { z } from "zod";
import { defineTool, READ_ONLY } from "../src/mcp/tool.js";
import { TaskInfo } from "../src/workflows/run.js";

export default defineTool({
  name: "list_tasks",
  title: "List tasks",
  description:
    "Lists the workflow tasks that can be run, with their descriptions and, where known, the shape of their input: an array of positional arguments for TypeScript tasks, an object of named parameters for Python tasks on Render.",
  requires: { scopes: ["workflows:read"] },
  annotations: READ_ONLY,
  input: {},
  output: { tasks: z.array(TaskInfo) },
  async handler(_input, { backend }) {
    const tasks = await backend.listTasks();
    return {
      structuredContent: { tasks },
      text: `${plural(tasks.length, "task")}: ${tasks.map((t) => t.name).join(", ")}`,
    };
  },
});

export const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? "" : "s"}`;
