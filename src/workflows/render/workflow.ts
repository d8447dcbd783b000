import { BackendForbidden, WorkflowError } from "../errors.js";
import type { RenderHttp } from "./http.js";
import { pages } from "./pages.js";
import { type Workflow, WorkflowList, Workflow as WorkflowSchema } from "./schemas.js";

/** The one workflow this server serves, resolved once at start. */
export type ServedWorkflow =
  | { devServer: false; id: string; slug: string; ownerId: string }
  /** The Render CLI's `render workflows dev` server has no /workflows: only the slug is known. */
  | { devServer: true; slug: string };

const WORKFLOW_ID = /^wfl-[A-Za-z0-9]+$/;

/** A 404 from /workflows itself: the API has no such endpoint. */
class NoWorkflowsEndpoint extends Error {}
class NoSuchWorkflow extends Error {}

/**
 * Finds RENDER_WORKFLOW (an id `wfl-…` or a slug) among the workflows the key
 * can see. Rejects with one line naming the variable to fix.
 */
export async function resolveWorkflow(http: RenderHttp, wanted: string): Promise<ServedWorkflow> {
  try {
    const found = WORKFLOW_ID.test(wanted) ? await byId(http, wanted) : await bySlug(http, wanted);
    return {
      devServer: false,
      id: found.id,
      slug: found.slug ?? found.name,
      ownerId: found.ownerId,
    };
  } catch (error) {
    if (error instanceof NoWorkflowsEndpoint) return devServer(http, wanted);
    if (error instanceof BackendForbidden) {
      throw new Error(`RENDER_API_KEY: ${error.message.replace(/; the server's operator.*$/, "")}`);
    }
    if (error instanceof WorkflowError) {
      throw new Error(
        `RENDER_API_URL: Render's API at ${http.baseUrl} could not be used to look up RENDER_WORKFLOW (${error.message})`,
      );
    }
    throw error;
  }
}

async function byId(http: RenderHttp, id: string): Promise<Workflow> {
  const missing = new Error(
    `RENDER_WORKFLOW: no workflow with id ${id} is visible to RENDER_API_KEY`,
  );
  const workflow = await http
    .request("GET", `/workflows/${encodeURIComponent(id)}`, {
      schema: WorkflowSchema,
      notFound: () => new NoSuchWorkflow(id),
    })
    .catch((error: unknown) =>
      error instanceof NoSuchWorkflow ? undefined : Promise.reject(error),
    );
  if (workflow) return workflow;
  // The id is unknown, unless the whole endpoint is missing (the dev server).
  await workflows(http, () => true);
  throw missing;
}

async function bySlug(http: RenderHttp, slug: string): Promise<Workflow> {
  const seen = await workflows(http, (w) => (w.slug ?? w.name) === slug);
  const match = seen.find((w) => (w.slug ?? w.name) === slug);
  if (match) return match;
  const known = seen.map((w) => w.slug ?? w.name);
  throw new Error(
    `RENDER_WORKFLOW: no workflow with slug ${slug} is visible to RENDER_API_KEY (${known.length > 0 ? `it sees ${known.slice(0, 10).join(", ")}` : "it sees no workflows"})`,
  );
}

/** The workflows the key sees, up to the first one matching `stop`. */
async function workflows(http: RenderHttp, stop: (w: Workflow) => boolean): Promise<Workflow[]> {
  const seen: Workflow[] = [];
  for await (const page of pages(http, "/workflows", {
    query: {},
    schema: WorkflowList,
    limit: 100,
    maxPages: 10,
    notFound: () => new NoWorkflowsEndpoint("/workflows"),
  })) {
    seen.push(...page.items.map((item) => item.workflow));
    if (seen.some(stop)) break;
  }
  return seen;
}

/** Only a loopback API may lack /workflows: that is the CLI's local dev server. */
function devServer(http: RenderHttp, slug: string): ServedWorkflow {
  const host = new URL(http.baseUrl).hostname;
  if (!["localhost", "127.0.0.1", "[::1]"].includes(host)) {
    throw new Error(
      `RENDER_API_URL: ${http.baseUrl} has no /workflows endpoint; it should be Render's API (https://api.render.com/v1)`,
    );
  }
  return { devServer: true, slug };
}
