/**
 * What this node measures between two reports: calls served per service (count, failures, latency histogram)
 * and probe results per probed node. {@link ObservationWindow.take} closes the window into the figures of a
 * {@link MetricReport} and starts the next one. Pure: time comes in as values; memory is bounded (a log-scale
 * histogram per service, a bounded sample of round trips per node). A window's length comes from a monotonic
 * clock, so a step of the wall clock cannot shrink or stretch it; the wall clock only dates its end.
 */
import type { Address } from "viem";
import { bucketQuantile, latencyBucket } from "../mesh/routing/latency-window.ts";
import { METRIC_REPORT_MAX_PROBES, METRIC_REPORT_MAX_SERVICES, METRIC_REPORT_MAX_WINDOW_MS, type ProbeFigures, type ServedFigures } from "./metric-report.ts";

/** Round trips kept per probed node and window (their median is reported). */
const MAX_RTT_SAMPLES = 64;
/** The largest latency a report carries (ms; protocol.md §11.2). */
const MAX_REPORTED_MS = 3_600_000;

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
  /** Per service: counts and a log-scale latency histogram (the gateway's, latency-window.ts). */
  readonly #served = new Map<string, { requests: number; errors: number; buckets: Map<number, number> }>();
  readonly #probes = new Map<Address, { sent: number; ok: number; rtts: number[] }>();

  constructor(monotonicStart: number) {
    this.#start = monotonicStart;
  }

  /** A call this node served for `serviceId` ended; `failed` for 5xx answers and mesh errors. */
  served(serviceId: string, failed: boolean, durationMs: number): void {
    let entry = this.#served.get(serviceId);
    if (entry === undefined) {
      if (this.#served.size >= METRIC_REPORT_MAX_SERVICES) return;
      entry = { requests: 0, errors: 0, buckets: new Map() };
      this.#served.set(serviceId, entry);
    }
    entry.requests += 1;
    if (failed) entry.errors += 1;
    const bucket = latencyBucket(durationMs);
    entry.buckets.set(bucket, (entry.buckets.get(bucket) ?? 0) + 1);
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
    // Rounded to µs, and within what a report may carry (a call streaming for over an hour reads as one hour).
    const round = (v: number | null | undefined): number | undefined => (v === undefined || v === null ? undefined : Math.min(MAX_REPORTED_MS, Math.round(v * 1000) / 1000));
    const services: ServedFigures[] = [...this.#served].map(([serviceId, s]) => ({
      serviceId,
      requests: s.requests,
      errors: s.errors,
      ...(s.requests === 0 ? {} : { p50Ms: round(bucketQuantile(s.buckets, 0.5)), p99Ms: round(bucketQuantile(s.buckets, 0.99)) }),
    }));
    const probes: ProbeFigures[] = [...this.#probes].map(([node, p]) => ({ node, sent: p.sent, ok: p.ok, ...(p.ok === 0 ? {} : { rttMs: round(median(p.rtts)) }) }));
    this.#served.clear();
    this.#probes.clear();
    this.#start = monotonicNow;
    return { windowStart, windowEnd, services, probes };
  }
}
