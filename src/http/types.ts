import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";

declare module "express-serve-static-core" {
  interface Request {
    /** Set by requireBearer once the access token is verified. */
    auth?: AuthInfo;
  }
}
