/**
 * Why a request to the issuer failed, naming the cause: Node's fetch says
 * `fetch failed` for a refused connection, a DNS failure and a TLS error
 * alike, and keeps the cause (with its system or TLS code) underneath.
 */
export function fetchFailure(error: unknown): string {
  const outer = error as { message?: unknown; cause?: unknown } | null;
  const cause = (outer?.cause ?? error) as { code?: unknown; message?: unknown } | null;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  const detail = typeof cause?.message === "string" ? cause.message : String(cause);
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused: nothing listens at that address and port";
    case "ENOTFOUND":
      return "DNS lookup failed: no such host name";
    case "EAI_AGAIN":
      return "DNS lookup failed: no DNS server answered (try again, or check the host name)";
    case "ETIMEDOUT":
    case "UND_ERR_CONNECT_TIMEOUT":
      return "connection timed out";
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "the connection was closed before an answer came";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "the host cannot be reached from this network";
  }
  if (
    code !== undefined &&
    /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/.test(code)
  ) {
    // OpenSSL's own text is a dump (`…:SSL routines:ssl3_get_record:wrong version number:…`).
    const reason = /SSL routines:[^:]*:([^:]+)/.exec(detail)?.[1] ?? detail.trim();
    const hint =
      code === "ERR_SSL_WRONG_VERSION_NUMBER"
        ? ": the server does not speak TLS there (http://?)"
        : "";
    return `TLS error: ${reason} (${code})${hint}`;
  }
  const message = typeof outer?.message === "string" ? outer.message : String(error);
  return code === undefined && cause === outer ? message : `${message}: ${detail}`;
}
