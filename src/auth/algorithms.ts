/**
 * The JWS algorithms a token may be signed with: asymmetric ones only. With a
 * symmetric one (`HS256`…) anyone holding the key the server verifies with
 * could sign, and with `none` anyone at all. AUTH_ALGORITHMS is checked
 * against this list at start, and the verifier refuses to be built with
 * anything else.
 */
export const ASYMMETRIC_ALGORITHMS: ReadonlySet<string> = new Set([
  ...["RS", "PS"].flatMap((p) => ["256", "384", "512"].map((n) => `${p}${n}`)),
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
]);

export const isAsymmetricAlgorithm = (alg: string): boolean => ASYMMETRIC_ALGORITHMS.has(alg);
