/**
 * Per-provider circuit breaker with consecutive-failure accrual (Linkerd's `failureAccrual: consecutive`,
 * Finagle's `FailureAccrualFactory`): after `failureThreshold` failures in a row the breaker opens and the
 * provider gets no traffic; after a backoff it turns half-open and lets up to `halfOpenProbes` requests
 * through; a probe's success closes it, a probe's failure opens it again for a longer backoff (doubling up to
 * `maxOpenMs`). Pure: `now` (ms) comes in with every call, nothing is scheduled.
 */

/** Failures in a row that open the breaker: 5, Linkerd's default; one flaky answer does not drain a provider. */
export const DEFAULT_BREAKER_FAILURE_THRESHOLD = 5;
/** First open period (ms): 1 s, long enough for a restart to begin, short enough to notice a recovery soon. */
export const DEFAULT_BREAKER_OPEN_MS = 1_000;
/** Longest open period (ms): 30 s; a dead provider costs one probe per 30 s until its DHT record ages out. */
export const DEFAULT_BREAKER_MAX_OPEN_MS = 30_000;
/** Requests let through at once while half-open: 1, so a provider still down costs one request, not a burst. */
export const DEFAULT_BREAKER_HALF_OPEN_PROBES = 1;

export type BreakerState = "closed" | "open" | "half-open";

/** Numeric value of each state for the `dsmp_mesh_breaker_state` gauge. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, "half-open": 1, open: 2 };

export interface CircuitBreakerOptions {
  /** @default {@link DEFAULT_BREAKER_FAILURE_THRESHOLD} */
  failureThreshold?: number;
  /** @default {@link DEFAULT_BREAKER_OPEN_MS} */
  openMs?: number;
  /** @default {@link DEFAULT_BREAKER_MAX_OPEN_MS} */
  maxOpenMs?: number;
  /** @default {@link DEFAULT_BREAKER_HALF_OPEN_PROBES} */
  halfOpenProbes?: number;
}

/** What a request holds while it runs: whether it is a half-open probe (its outcome decides the state). */
export interface BreakerPermit {
  readonly probe: boolean;
}

export class CircuitBreaker {
  readonly #failureThreshold: number;
  readonly #openMs: number;
  readonly #maxOpenMs: number;
  readonly #halfOpenProbes: number;
  #state: BreakerState = "closed";
  #consecutiveFailures = 0;
  /** Times opened since last closed: the backoff doubles with each. */
  #trips = 0;
  #openUntil = 0;
  #probesInFlight = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    this.#failureThreshold = Math.max(1, options.failureThreshold ?? DEFAULT_BREAKER_FAILURE_THRESHOLD);
    this.#openMs = options.openMs ?? DEFAULT_BREAKER_OPEN_MS;
    this.#maxOpenMs = Math.max(this.#openMs, options.maxOpenMs ?? DEFAULT_BREAKER_MAX_OPEN_MS);
    this.#halfOpenProbes = Math.max(1, options.halfOpenProbes ?? DEFAULT_BREAKER_HALF_OPEN_PROBES);
  }

  /** The state at `now` (an open breaker whose backoff has passed reads half-open). */
  state(now: number): BreakerState {
    if (this.#state === "open" && now >= this.#openUntil) {
      this.#state = "half-open";
      this.#probesInFlight = 0;
    }
    return this.#state;
  }

  /** When an open breaker turns half-open (ms), `undefined` unless open. */
  get openUntil(): number | undefined {
    return this.#state === "open" ? this.#openUntil : undefined;
  }

  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /** Would a request be let through at `now` (without taking a probe slot). */
  allows(now: number): boolean {
    const state = this.state(now);
    return state === "closed" || (state === "half-open" && this.#probesInFlight < this.#halfOpenProbes);
  }

  /** Take a slot for a request at `now`; `undefined` when the breaker refuses it. */
  acquire(now: number): BreakerPermit | undefined {
    const state = this.state(now);
    if (state === "closed") return { probe: false };
    if (state === "half-open" && this.#probesInFlight < this.#halfOpenProbes) {
      this.#probesInFlight += 1;
      return { probe: true };
    }
    return undefined;
  }

  /** The request succeeded: a probe's success closes the breaker; any success resets the failure count. */
  onSuccess(now: number, permit: BreakerPermit): void {
    this.#release(permit);
    this.#consecutiveFailures = 0;
    if (permit.probe || this.state(now) === "half-open") {
      this.#state = "closed";
      this.#trips = 0;
    }
  }

  /** The request failed: a probe's failure reopens; the threshold-th failure in a row opens. */
  onFailure(now: number, permit: BreakerPermit): void {
    this.#release(permit);
    this.#consecutiveFailures += 1;
    const state = this.state(now);
    if (permit.probe && state === "half-open") return this.#open(now);
    if (state === "closed" && this.#consecutiveFailures >= this.#failureThreshold) this.#open(now);
  }

  /** The request ended without an outcome that says anything about the provider (the client left). */
  onCancel(permit: BreakerPermit): void {
    this.#release(permit);
  }

  #release(permit: BreakerPermit): void {
    if (permit.probe && this.#state === "half-open") this.#probesInFlight = Math.max(0, this.#probesInFlight - 1);
  }

  #open(now: number): void {
    this.#state = "open";
    this.#openUntil = now + Math.min(this.#maxOpenMs, this.#openMs * 2 ** this.#trips);
    this.#trips += 1;
    this.#probesInFlight = 0;
  }
}
