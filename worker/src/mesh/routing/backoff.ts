/**
 * Delay before retry number `retry` (1 for the first retry): "full jitter" exponential backoff (AWS
 * Architecture Blog, "Exponential Backoff and Jitter"), a uniform draw in [0, min(max, base × 2^(retry-1))).
 * Jitter spreads the retries of many callers that failed together. Pure: the random draw comes in.
 */

/** First retry's ceiling (ms): 5 ms. A retry goes to another provider, so it need not wait for this one. */
export const DEFAULT_RETRY_BACKOFF_BASE_MS = 5;
/** Ceiling of any retry's delay (ms): 100 ms, small against the 30 s request deadline. */
export const DEFAULT_RETRY_BACKOFF_MAX_MS = 100;

export interface BackoffOptions {
  /** @default {@link DEFAULT_RETRY_BACKOFF_BASE_MS} */
  baseMs?: number;
  /** @default {@link DEFAULT_RETRY_BACKOFF_MAX_MS} */
  maxMs?: number;
}

/** @param random a draw in [0, 1), e.g. `Math.random()` */
export function retryBackoffMs(retry: number, random: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? DEFAULT_RETRY_BACKOFF_BASE_MS;
  const max = options.maxMs ?? DEFAULT_RETRY_BACKOFF_MAX_MS;
  const ceiling = Math.min(max, base * 2 ** Math.max(0, retry - 1));
  return Math.min(Math.max(random, 0), 1) * ceiling;
}
