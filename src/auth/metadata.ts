import {
  getOAuthProtectedResourceMetadataUrl,
  type OAuthProtectedResourceMetadata,
} from "@modelcontextprotocol/server";
import { type Request, type Response, Router } from "express";
import type { Logger } from "../logger.js";
import { supportedScopes } from "./scopes.js";

export interface ResourceMetadataOptions {
  resource: string;
  authorizationServer: string;
  resourceName: string;
  /** The tasks whose per-task scopes are advertised (the backend's current catalogue). */
  taskNames(): Promise<string[]>;
  /** Of those, the tasks whose approval scopes are advertised too (APPROVAL_TASKS). */
  approverTasks?(taskNames: string[]): string[];
  logger: Logger;
}

/** A workflow with more tasks than this advertises the first ones only: a bounded document. */
const MAX_ADVERTISED_TASKS = 200;

/** How long the document may be cached (Cache-Control), and how long its task list is kept. */
const MAX_AGE_SECONDS = 60;

export const resourceMetadataUrl = (resource: string) =>
  getOAuthProtectedResourceMetadataUrl(new URL(resource));

/**
 * RFC 9728 Protected Resource Metadata, at the path-inserted location for
 * `/mcp` and at the root location some clients try first. Public and
 * CORS-readable. `scopes_supported` is every fixed scope plus the per-task
 * scopes of the tasks the backend offers now; if the backend cannot say, the
 * fixed scopes alone (discovery must not fail because Render is slow).
 */
export function resourceMetadataRouter(options: ResourceMetadataOptions): Router {
  const taskNames = keptFor(MAX_AGE_SECONDS * 1000, async () => {
    try {
      return (await options.taskNames()).slice(0, MAX_ADVERTISED_TASKS);
    } catch (error) {
      options.logger.warn({ err: error }, "task list unavailable for scopes_supported");
      return [];
    }
  });
  const handler = async (req: Request, res: Response) => {
    res.set("Access-Control-Allow-Origin", "*");
    if (req.method === "OPTIONS") {
      res.set("Access-Control-Allow-Methods", "GET, OPTIONS").status(204).end();
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res
        .set("Allow", "GET, OPTIONS")
        .status(405)
        .json({
          error: "method_not_allowed",
          error_description: `${req.method} is not allowed; use GET`,
        });
      return;
    }
    const tasks = await taskNames();
    const metadata: OAuthProtectedResourceMetadata = {
      // In development, the loopback name the request used (loopback-resource.ts).
      resource: req.loopback?.resource ?? options.resource,
      authorization_servers: [options.authorizationServer],
      scopes_supported: supportedScopes(tasks, options.approverTasks?.(tasks)),
      bearer_methods_supported: ["header"],
      resource_name: options.resourceName,
    };
    res.set("Cache-Control", `public, max-age=${MAX_AGE_SECONDS}`).json(metadata);
  };
  const router = Router();
  router.all(new URL(resourceMetadataUrl(options.resource)).pathname, handler);
  router.all("/.well-known/oauth-protected-resource", handler);
  return router;
}

/**
 * `load`'s answer, fetched at most once per `ttlMs` whatever the traffic
 * (callers meanwhile share the fetch in flight): the document is public and
 * unauthenticated, and on Render listing tasks is API calls under the
 * server's own key, so anonymous traffic must not turn into Render traffic.
 */
function keptFor<T>(ttlMs: number, load: () => Promise<T>): () => Promise<T> {
  let kept: { value: Promise<T>; until: number } | undefined;
  return () => {
    const now = Date.now();
    if (!kept || now >= kept.until) kept = { value: load(), until: now + ttlMs };
    return kept.value;
  };
}
