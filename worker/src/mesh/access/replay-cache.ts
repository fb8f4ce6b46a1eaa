/**
 * Bounded memory of accepted (consumer, nonce) pairs, so a provider accepts each access token once.
 *
 * A nonce only needs remembering until its token can no longer pass the expiry check (expiry + clock skew);
 * after that the expiry check refuses the token on its own. Entries are therefore dropped once their `until`
 * has passed, and the whole set is capped at `capacity`: with tokens living at most 5 min, 65 536 entries
 * carry ~218 accepted calls/s sustained per provider. When the cap is reached and nothing has expired, `add`
 * refuses (the caller answers 503) rather than forgetting a live nonce, which would reopen replay. Pure:
 * `now` is passed in.
 */

/** Entries kept at most: 65 536 (15 MiB of heap when full, measured), ~218 calls/s over a 5 min token lifetime. */
export const DEFAULT_REPLAY_CACHE_CAPACITY = 65_536;

export class ReplayCache {
  readonly capacity: number;
  /** key → unix seconds until which it is remembered. Insertion order ≈ expiry order (lifetimes are short). */
  readonly #until = new Map<string, number>();
  #prunedAt = Number.NEGATIVE_INFINITY;

  constructor(capacity: number = DEFAULT_REPLAY_CACHE_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`replay cache capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
  }

  static key(consumer: string, nonce: string): string {
    return `${consumer.toLowerCase()}:${nonce.toLowerCase()}`;
  }

  get size(): number {
    return this.#until.size;
  }

  /** Whether `key` was accepted and is still remembered at `now`. */
  has(key: string, now: number): boolean {
    const until = this.#until.get(key);
    return until !== undefined && until >= now;
  }

  /**
   * Remember `key` until `until` (unix seconds). `false` when the cache is full of unexpired entries: the
   * key is then not stored and the call must be refused.
   */
  add(key: string, until: number, now: number): boolean {
    if (this.#until.size >= this.capacity && !this.#until.has(key)) this.prune(now);
    if (this.#until.size >= this.capacity && !this.#until.has(key)) return false;
    this.#until.set(key, until);
    return true;
  }

  /** Drop entries whose `until` has passed. Runs at most once per second of `now` (it is O(size)). */
  prune(now: number): void {
    if (Math.floor(now) <= this.#prunedAt) return;
    this.#prunedAt = Math.floor(now);
    for (const [key, until] of this.#until) if (until < now) this.#until.delete(key);
  }
}
