/**
 * `WWW-Authenticate: Bearer …` challenges (RFC 6750 §3, RFC 9728 §5.1).
 * A request without credentials gets no `error` (RFC 6750 §3.1).
 */
export interface Challenge {
  resourceMetadata: string;
  scope: readonly string[];
  error?: "invalid_token" | "insufficient_scope" | "invalid_request";
  description?: string;
}

export function bearerChallenge({
  resourceMetadata,
  scope,
  error,
  description,
}: Challenge): string {
  const params: [string, string | undefined][] = [
    ["error", error],
    ["error_description", description],
    ["scope", scope.length > 0 ? scope.join(" ") : undefined],
    ["resource_metadata", resourceMetadata],
  ];
  const rendered = params
    .filter((param): param is [string, string] => param[1] !== undefined)
    .map(([name, value]) => `${name}="${quote(value)}"`);
  return `Bearer ${rendered.join(", ")}`;
}

// RFC 7235 quoted-string: escape backslash and quote; drop what a header cannot carry.
const quote = (value: string) => value.replace(/[\\"]/g, "\\$&").replace(/[^\x20-\x7e]/g, "");
