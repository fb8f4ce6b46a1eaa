/**
 * The resolver's cache of lookups, one entry per service: a small state machine over an injected `now`
 * (unix ms), no timers. An entry is
 * - `fresh` from when it is stored until `refreshAt`: served without a network query;
 * - `stale` from `refreshAt` until `expiresAt`: still served, and the caller starts one background refresh;
 * - gone (`miss`) from `expiresAt` on: the caller must look up and wait.
 *
 * `expiresAt` is the TTL after the lookup, or earlier when the caller says the value goes bad sooner (a
 * provider record expiring before the TTL ends).
 */

/** Largest share of an entry's life spent `stale`. */
export const MAX_REFRESH_AHEAD_SHARE = 0.25;

export interface CacheEntry<T> {
  value: T;
  /** When the value was stored (unix ms). */
  storedAt: number;
  /** From here on a read reports `stale` and a refresh is due (unix ms). */
  refreshAt: number;
  /** From here on the entry is gone (unix ms). */
  expiresAt: number;
}

export type CacheRead<T> = { state: "miss" } | { state: "fresh" | "stale"; entry: CacheEntry<T> };

export interface ProviderCacheOptions {
  /** How long a lookup is served (ms). */
  ttlMs: number;
  /**
   * How long before expiry a read turns `stale` and triggers a refresh (ms); at most a quarter of the
   * entry's life, so a short-lived entry (an empty answer, a record about to expire) is not stale from
   * the start, which would turn every read into a lookup.
   */
  refreshAheadMs: number;
  /** Most entries kept; the entry stored longest ago goes first. */
  maxEntries: number;
}

export class ProviderCache<T> {
  private readonly entries = new Map<string, CacheEntry<T>>();
  private readonly options: ProviderCacheOptions;

  constructor(options: ProviderCacheOptions) {
    if (!(options.ttlMs >= 0) || !(options.refreshAheadMs >= 0) || !(options.maxEntries >= 1)) {
      throw new RangeError(`invalid cache options: ${JSON.stringify(options)}`);
    }
    this.options = options;
  }

  get size(): number {
    return this.entries.size;
  }

  read(key: string, now: number): CacheRead<T> {
    const entry = this.entries.get(key);
    if (entry === undefined) return { state: "miss" };
    if (now >= entry.expiresAt) {
      this.entries.delete(key);
      return { state: "miss" };
    }
    return { state: now >= entry.refreshAt ? "stale" : "fresh", entry };
  }

  /**
   * Store `value` looked up at `now`. `notAfter` (unix ms) ends the entry early; an entry that would
   * already be expired is not stored.
   */
  write(key: string, value: T, now: number, notAfter = Number.POSITIVE_INFINITY): CacheEntry<T> {
    const expiresAt = Math.min(now + this.options.ttlMs, notAfter);
    const ahead = Math.min(this.options.refreshAheadMs, (expiresAt - now) * MAX_REFRESH_AHEAD_SHARE);
    const entry: CacheEntry<T> = { value, storedAt: now, refreshAt: expiresAt - ahead, expiresAt };
    this.entries.delete(key); // re-insert: Map order is store order, oldest first
    if (expiresAt <= now) return entry;
    this.entries.set(key, entry);
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return entry;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
