import { hash } from "node:crypto";

/**
 * The key a token is cached under: its SHA-256, base64url. The token itself
 * is never a key (nor a value): a heap dump or a debugger listing the cache
 * shows digests, which cannot be replayed as bearer tokens.
 */
export const tokenDigest = (token: string): string => hash("sha256", token, "base64url");

export interface TokenCacheOptions {
  /** Most entries held; the least recently used is dropped to make room. */
  maxEntries: number;
  /** No entry outlives this, whatever expiry it was given. */
  maxTtlMs: number;
  /** Milliseconds since the epoch; injectable so tests need not wait. */
  clock?: () => number;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
}

/**
 * A bounded LRU map from tokens (by digest) to what was decided about them,
 * each entry expiring at the earlier of the time it was given and
 * `maxTtlMs` from insertion. Expired entries are dropped when met.
 *
 * Collisions: two different tokens share an entry only if their SHA-256
 * digests collide, which is not a practical concern (a second preimage of
 * SHA-256 is needed to borrow another token's entry).
 */
export class TokenCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #maxEntries: number;
  readonly #maxTtlMs: number;
  readonly #clock: () => number;

  constructor(options: TokenCacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new TypeError("maxEntries must be a positive integer");
    }
    if (!(options.maxTtlMs > 0)) throw new TypeError("maxTtlMs must be positive");
    this.#maxEntries = options.maxEntries;
    this.#maxTtlMs = options.maxTtlMs;
    this.#clock = options.clock ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value cached for this token, if any and not expired; marks it most recently used. */
  get(token: string): V | undefined {
    const key = tokenDigest(token);
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAt <= this.#clock()) return undefined;
    this.#entries.set(key, entry);
    return entry.value;
  }

  /**
   * Caches `value` for `token` until `notAfterMs` (epoch milliseconds) at the
   * latest; nothing is stored when that time has already passed.
   */
  set(token: string, value: V, notAfterMs: number): void {
    const now = this.#clock();
    const expiresAt = Math.min(notAfterMs, now + this.#maxTtlMs);
    const key = tokenDigest(token);
    this.#entries.delete(key);
    if (!(expiresAt > now)) return;
    while (this.#entries.size >= this.#maxEntries) {
      // Map iteration order is insertion order, and `get` re-inserts: the first key is the LRU.
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresAt });
  }

  delete(token: string): void {
    this.#entries.delete(tokenDigest(token));
  }

  clear(): void {
    this.#entries.clear();
  }
}
