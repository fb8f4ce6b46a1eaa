/**
 * What this node measures between two reports: calls served per service (count, failures, latency histogram)
 * and probe results per probed node. {@link ObservationWindow.take} closes the window into the figures of a
 * {@link MetricReport} and starts the next one. Pure: time comes in as values; memory is bounded (a fixed
 * histogram per service, a bounded sample of round trips per node). A window's length comes from a monotonic
 * clock, so a step of the wall clock cannot shrink or stretch it; the wall clock only dates its end.
 */
import type { Address } from "viem";
import { METRIC_REPORT_MAX_PROBES, METRIC_REPORT_MAX_SERVICES, METRIC_REPORT_MAX_WINDOW_MS, type ProbeFigures, type ServedFigures } from "./metric-report.ts";

/** Upper bounds (ms) of the latency buckets; the last bucket is unbounded. */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000, 30_000, 60_000];
const MAX_RTT_SAMPLES = 64;

/**
 * The q-quantile of a bucketed histogram, interpolated linearly inside its bucket (as Prometheus's
 * histogram_quantile does); the unbounded bucket answers its lower bound. Undefined for an empty histogram.
 */
export function histogramQuantile(counts: readonly number[], q: number, bounds: readonly number[] = LATENCY_BUCKETS_MS): number | undefined {
  const total = counts.reduce((sum, c) => sum + c, 0);
  if (total === 0) return undefined;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c > 0 && below + c >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      if (i >= bounds.length) return lower;
      const upper = bounds[i]!;
      return lower + ((upper - lower) * (rank - below)) / c;
    }
    below += c;
  }
  return bounds[bounds.length - 1];
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

export interface ClosedWindow {
  windowStart: number;
  windowEnd: number;
  services: ServedFigures[];
  probes: ProbeFigures[];
}

export class ObservationWindow {
  /** Monotonic ms (performance.now()) at the window's start. */
  #start: number;
  readonly #served = new Map<string, { requests: number; errors: number; buckets: number[] }>();
  readonly #probes = new Map<Address, { sent: number; ok: number; rtts: number[] }>();

  constructor(monotonicStart: number) {
    this.#start = monotonicStart;
  }

  /** A call this node served for `serviceId` ended; `failed` for 5xx answers and mesh errors. */
  served(serviceId: string, failed: boolean, durationMs: number): void {
    let entry = this.#served.get(serviceId);
    if (entry === undefined) {
      if (this.#served.size >= METRIC_REPORT_MAX_SERVICES) return;
      entry = { requests: 0, errors: 0, buckets: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0) };
      this.#served.set(serviceId, entry);
    }
    entry.requests += 1;
    if (failed) entry.errors += 1;
    let bucket = LATENCY_BUCKETS_MS.findIndex((bound) => durationMs <= bound);
    if (bucket === -1) bucket = LATENCY_BUCKETS_MS.length;
    entry.buckets[bucket]! += 1;
  }

  /** A probe of `node` ended: `rttMs` when it answered, undefined when it failed or timed out. */
  probed(node: Address, rttMs: number | undefined): void {
    let entry = this.#probes.get(node);
    if (entry === undefined) {
      if (this.#probes.size >= METRIC_REPORT_MAX_PROBES) return;
      entry = { sent: 0, ok: 0, rtts: [] };
      this.#probes.set(node, entry);
    }
    entry.sent += 1;
    if (rttMs !== undefined) {
      entry.ok += 1;
      if (entry.rtts.length < MAX_RTT_SAMPLES) entry.rtts.push(rttMs);
    }
  }

  /**
   * Closes the window at wall-clock `now` (unix ms) and monotonic `monotonicNow`, and opens the next one there.
   * The window is dated [now − length, now], its length between 1 ms and the longest a report may cover.
   */
  take(now: number, monotonicNow: number): ClosedWindow {
    const length = Math.min(METRIC_REPORT_MAX_WINDOW_MS, Math.max(1, Math.round(monotonicNow - this.#start)));
    const windowEnd = Math.round(now);
    const windowStart = windowEnd - length;
    const round = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 1000) / 1000);
    const services: ServedFigures[] = [...this.#served].map(([serviceId, s]) => ({
      serviceId,
      requests: s.requests,
      errors: s.errors,
      ...(s.requests === 0 ? {} : { p50Ms: round(histogramQuantile(s.buckets, 0.5)), p99Ms: round(histogramQuantile(s.buckets, 0.99)) }),
    }));
    const probes: ProbeFigures[] = [...this.#probes].map(([node, p]) => ({ node, sent: p.sent, ok: p.ok, ...(p.ok === 0 ? {} : { rttMs: round(median(p.rtts)) }) }));
    this.#served.clear();
    this.#probes.clear();
    this.#start = monotonicNow;
    return { windowStart, windowEnd, services, probes };
  }
}
