/** True for a URL on this machine: the only place plain http may carry a credential. */
export const isLoopbackUrl = (url: string): boolean =>
  ["localhost", "127.0.0.1", "[::1]"].includes(new URL(url).hostname);
