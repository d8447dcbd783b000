import { metadataHandler } from "@modelcontextprotocol/sdk/server/auth/handlers/metadata.js";
import { getOAuthProtectedResourceMetadataUrl } from "@modelcontextprotocol/sdk/server/auth/router.js";
import type { OAuthProtectedResourceMetadata } from "@modelcontextprotocol/sdk/shared/auth.js";
import { Router } from "express";

export interface ResourceMetadataOptions {
  resource: string;
  authorizationServer: string;
  scopes: readonly string[];
  resourceName: string;
  documentation?: string;
}

export const resourceMetadataUrl = (resource: string) =>
  getOAuthProtectedResourceMetadataUrl(new URL(resource));

/**
 * RFC 9728 Protected Resource Metadata, at the path-inserted location for
 * `/mcp` and at the root location some clients try first. Public, CORS-readable.
 */
export function resourceMetadataRouter(options: ResourceMetadataOptions): Router {
  const metadata: OAuthProtectedResourceMetadata = {
    resource: options.resource,
    authorization_servers: [options.authorizationServer],
    scopes_supported: [...options.scopes],
    bearer_methods_supported: ["header"],
    resource_name: options.resourceName,
    ...(options.documentation ? { resource_documentation: options.documentation } : {}),
  };
  const handler = metadataHandler(metadata);
  const router = Router();
  router.use(new URL(resourceMetadataUrl(options.resource)).pathname, handler);
  router.use("/.well-known/oauth-protected-resource", handler);
  return router;
}
