/**
 * Retry budget (Finagle's `RetryBudget`, Linkerd's `retryBudget`): over a sliding window of `ttlMs`, retries
 * may be at most `ratio` × requests + `minPerSecond` × the window in seconds. The ratio keeps retries from
 * multiplying load when a whole service is failing (a retry storm); the minimum lets a quiet gateway retry at
 * all. Think of it as a token bucket where every request deposits `ratio` tokens, `minPerSecond` tokens come
 * in per second regardless, each retry withdraws one, and deposits expire after `ttlMs`. Pure: `now` (ms)
 * comes in with every call.
 */

/** Retries per request allowed: 20 %, Linkerd's default; a failing service sees at most 1.2× its load. */
export const DEFAULT_RETRY_BUDGET_RATIO = 0.2;
/** Retries per second allowed whatever the traffic: 10, Linkerd's default; low-traffic services still retry. */
export const DEFAULT_RETRY_BUDGET_MIN_PER_SECOND = 10;
/** Window over which requests and retries are counted (ms): 10 s, Linkerd's default. */
export const DEFAULT_RETRY_BUDGET_TTL_MS = 10_000;
/** Slots the window is cut into: the window slides in steps of `ttlMs / slots`. */
const SLOTS = 10;

export interface RetryBudgetOptions {
  /** @default {@link DEFAULT_RETRY_BUDGET_RATIO} */
  ratio?: number;
  /** @default {@link DEFAULT_RETRY_BUDGET_MIN_PER_SECOND} */
  minPerSecond?: number;
  /** @default {@link DEFAULT_RETRY_BUDGET_TTL_MS} */
  ttlMs?: number;
}

export class RetryBudget {
  readonly #ratio: number;
  readonly #reserve: number;
  readonly #slotMs: number;
  readonly #requests = new Array<number>(SLOTS).fill(0);
  readonly #retries = new Array<number>(SLOTS).fill(0);
  /** Index (time / slotMs) of the newest slot written. */
  #head = -Infinity;

  constructor(options: RetryBudgetOptions = {}) {
    const ttlMs = options.ttlMs ?? DEFAULT_RETRY_BUDGET_TTL_MS;
    this.#ratio = options.ratio ?? DEFAULT_RETRY_BUDGET_RATIO;
    this.#reserve = (options.minPerSecond ?? DEFAULT_RETRY_BUDGET_MIN_PER_SECOND) * (ttlMs / 1000);
    this.#slotMs = ttlMs / SLOTS;
  }

  /** A request (first attempt) was made: deposit `ratio`. */
  deposit(now: number): void {
    this.#requests[this.#slot(now)]! += 1;
  }

  /** Retries still allowed at `now` (may be fractional). */
  balance(now: number): number {
    this.#slot(now);
    const requests = this.#requests.reduce((a, b) => a + b, 0);
    const retries = this.#retries.reduce((a, b) => a + b, 0);
    return requests * this.#ratio + this.#reserve - retries;
  }

  /** Take one retry if the budget has it; `false` means: do not retry. */
  tryWithdraw(now: number): boolean {
    if (this.balance(now) < 1) return false;
    this.#retries[this.#slot(now)]! += 1;
    return true;
  }

  /** Advance the window to `now`, clearing slots that fell out of it; the slot of `now`. */
  #slot(now: number): number {
    const index = Math.floor(now / this.#slotMs);
    if (index > this.#head) {
      const clear = Math.min(SLOTS, index - this.#head);
      for (let step = 0; step < clear; step++) {
        const slot = (((index - step) % SLOTS) + SLOTS) % SLOTS;
        this.#requests[slot] = 0;
        this.#retries[slot] = 0;
      }
      this.#head = index;
    }
    return ((Math.min(index, this.#head) % SLOTS) + SLOTS) % SLOTS;
  }
}
