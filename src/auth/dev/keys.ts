import { exportJWK, generateKeyPair } from "jose";

/** A fresh signing key per start: tokens from a previous run stop verifying, as they should. */
export async function signingKeys() {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { keys: [{ ...jwk, kid: `dev-${Date.now().toString(36)}`, alg: "ES256", use: "sig" }] };
}
