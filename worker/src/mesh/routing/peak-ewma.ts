/**
 * Peak-EWMA load estimate of one provider (Finagle's `PeakEwma`, Linkerd's and tower's `PeakEwma`): a
 * round-trip-time average that jumps up to any slower sample at once ("peak") and decays back down with time
 * constant τ, multiplied by the requests in flight. Cheap to keep, reacts within one request to a provider
 * that turns slow, and forgets within a few τ that it was slow. Pure: `now` (ms) comes in with every call.
 */

/**
 * Decay time constant τ (ms): 1 s, where Linkerd and Finagle use 10 s. A peak is forgotten within a few τ.
 * Measured here (test/mesh-routing.e2e.test.ts (b), a provider 30 ms slower than its peer, on a VM at load
 * 13–16 on 2 cores): τ = 10 s gave the slow provider 0–42 % of the calls from run to run — one early outlier
 * on the fast provider locks the traffic onto the slow one for seconds, and the reverse starves the slow one
 * of probes — τ = 2 s gave 7–24 %, τ = 1 s 8–19 % (5 runs each; 3–33 % over 16 later runs, see docs/mesh.md).
 * The cost of a short τ is more probes of a slow provider in a noisy network; in a calm one its estimate
 * takes τ·ln(slow/fast) to fall below the fast one's, so it is probed about once every few seconds.
 */
export const DEFAULT_EWMA_DECAY_MS = 1_000;
/**
 * RTT assumed for a provider never measured (ms): 30 ms, Linkerd's default. A new provider looks average, not
 * free (it would take every request) and not hopeless (it would never get one).
 */
export const DEFAULT_EWMA_COLD_RTT_MS = 30;
/**
 * A failed attempt counts as a sample of at least this (ms): 500 ms. A provider that fails fast would
 * otherwise look fastest and attract the traffic the breaker has not yet taken away from it.
 */
export const DEFAULT_EWMA_FAILURE_PENALTY_MS = 500;
/**
 * Cost of a provider never measured that already has requests in flight: Finagle's penalty, so that a cold
 * provider gets one request at a time until its first answer tells us what it is worth.
 */
export const COLD_BUSY_PENALTY = 2 ** 40;

export interface PeakEwmaOptions {
  /** @default {@link DEFAULT_EWMA_DECAY_MS} */
  decayMs?: number;
  /** @default {@link DEFAULT_EWMA_COLD_RTT_MS} */
  coldRttMs?: number;
  /** @default {@link DEFAULT_EWMA_FAILURE_PENALTY_MS} */
  failurePenaltyMs?: number;
}

export class PeakEwma {
  readonly #decayMs: number;
  readonly #coldRttMs: number;
  readonly #failurePenaltyMs: number;
  #estimateMs = 0;
  #stampMs = 0;
  #measured = false;
  #outstanding = 0;
  /**
   * Advertised load of the provider in basis points of its capacity (0 … 10 000, from its service record):
   * the prior. The cost is multiplied by `1 + load / 10 000`, so at equal latency a provider that reports
   * itself full costs twice one that reports itself idle; measured latency still dominates.
   */
  load = 0;

  constructor(options: PeakEwmaOptions = {}) {
    this.#decayMs = options.decayMs ?? DEFAULT_EWMA_DECAY_MS;
    this.#coldRttMs = options.coldRttMs ?? DEFAULT_EWMA_COLD_RTT_MS;
    this.#failurePenaltyMs = options.failurePenaltyMs ?? DEFAULT_EWMA_FAILURE_PENALTY_MS;
  }

  /** Requests sent to this provider that have not finished. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Has any sample been recorded. */
  get measured(): boolean {
    return this.#measured;
  }

  /**
   * The latency estimate (ms) at `now`. As in tower, a read is a sample of 0: the estimate decays toward 0
   * with time whether or not the provider is used, so a busy provider and an idle one forget at one rate.
   */
  estimateMs(now: number): number {
    if (!this.#measured) return this.#coldRttMs;
    this.observe(now, 0);
    return this.#estimateMs;
  }

  /** Lower is better: estimate × (outstanding + 1) × load prior. */
  cost(now: number): number {
    if (!this.#measured && this.#outstanding > 0) return COLD_BUSY_PENALTY + this.#outstanding;
    const prior = 1 + Math.min(Math.max(this.load, 0), 10_000) / 10_000;
    return this.estimateMs(now) * (this.#outstanding + 1) * prior;
  }

  /** A request was sent. */
  start(): void {
    this.#outstanding += 1;
  }

  /** A request finished after `rttMs`; a failure counts as at least the failure penalty. */
  finish(now: number, rttMs: number, ok: boolean): void {
    this.#outstanding = Math.max(0, this.#outstanding - 1);
    this.observe(now, ok ? rttMs : Math.max(rttMs, this.#failurePenaltyMs));
  }

  /** A request ended without telling anything about the provider (the client left): only the count changes. */
  cancel(): void {
    this.#outstanding = Math.max(0, this.#outstanding - 1);
  }

  /** Fold one sample in: a sample above the estimate replaces it, one below is averaged in with weight e^(-Δt/τ). */
  observe(now: number, rttMs: number): void {
    const sample = Math.max(0, rttMs);
    if (!this.#measured) {
      this.#estimateMs = sample;
      this.#measured = true;
    } else if (sample > this.#estimateMs) {
      this.#estimateMs = sample;
    } else {
      const weight = this.#weight(now);
      this.#estimateMs = this.#estimateMs * weight + sample * (1 - weight);
    }
    this.#stampMs = Math.max(this.#stampMs, now);
  }

  #weight(now: number): number {
    const elapsed = Math.max(0, now - this.#stampMs);
    return Math.exp(-elapsed / this.#decayMs);
  }
}
