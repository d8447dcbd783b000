import type { AuthInfo } from "@modelcontextprotocol/server";

declare module "express-serve-static-core" {
  interface Request {
    /** Set by requireBearer once the access token is verified; forwarded to the MCP handler. */
    auth?: AuthInfo;
  }
}
