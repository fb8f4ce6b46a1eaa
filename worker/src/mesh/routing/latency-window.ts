/**
 * Rolling golden-signal window of one route (a service, or one provider of it), what `linkerd viz stat`
 * shows: success rate, requests per second and latency quantiles over the last `windowMs`. Samples land in a
 * log-scale histogram (buckets 5 % apart, so a quantile is off by at most ~2.5 %) per time slot; slots older
 * than the window are dropped, so memory is bounded whatever the traffic. Pure: `now` (ms) comes in.
 */

/** Window of `dsmp service stat` (ms): 1 minute, `linkerd viz stat`'s default. */
export const DEFAULT_STATS_WINDOW_MS = 60_000;
/** Slots per window: the window slides in steps of 5 s. */
const SLOTS = 12;
/** Histogram buckets grow by this factor. */
const GROWTH = 1.05;
const LOG_GROWTH = Math.log(GROWTH);
/** Smallest latency told apart (ms); anything below shares bucket 0. */
const FLOOR_MS = 0.01;

/** One finished call. */
export interface CallSample {
  latencyMs: number;
  /** Linkerd's definition: anything but a 5xx (or no response at all) is a success. */
  success: boolean;
  /** Attempts beyond the first. */
  retries: number;
}

/** What the window says at one moment; quantiles are `null` without samples. */
export interface WindowStats {
  requests: number;
  successes: number;
  /** successes / requests, `null` without requests. */
  successRate: number | null;
  /** Requests per second over the part of the window that saw traffic (at least 1 s). */
  rps: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  retries: number;
}

interface Slot {
  index: number;
  requests: number;
  successes: number;
  retries: number;
  buckets: Map<number, number>;
}

/** The log-scale histogram bucket of a latency (buckets 5 % apart). */
export function latencyBucket(latencyMs: number): number {
  return latencyMs <= FLOOR_MS ? 0 : Math.floor(Math.log(latencyMs / FLOOR_MS) / LOG_GROWTH) + 1;
}

/** A representative latency of bucket `b`: the geometric middle of its bounds. */
function valueOf(bucket: number): number {
  return bucket === 0 ? FLOOR_MS : FLOOR_MS * GROWTH ** (bucket - 0.5);
}

/** The q-quantile (ms) of a histogram of {@link latencyBucket} counts; `null` when it is empty. */
export function bucketQuantile(buckets: ReadonlyMap<number, number>, q: number): number | null {
  let total = 0;
  for (const count of buckets.values()) total += count;
  if (total === 0) return null;
  const sorted = [...buckets].sort(([a], [b]) => a - b);
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [bucket, count] of sorted) {
    seen += count;
    if (seen >= rank) return valueOf(bucket);
  }
  return valueOf(sorted.at(-1)![0]);
}

export class LatencyWindow {
  readonly #slotMs: number;
  readonly #slots: Slot[] = [];
  #firstAt: number | undefined;

  constructor(options: { windowMs?: number } = {}) {
    this.#slotMs = (options.windowMs ?? DEFAULT_STATS_WINDOW_MS) / SLOTS;
  }

  record(now: number, sample: CallSample): void {
    this.#firstAt ??= now;
    const index = Math.floor(now / this.#slotMs);
    let slot = this.#slots.at(-1);
    if (slot === undefined || slot.index < index) {
      slot = { index, requests: 0, successes: 0, retries: 0, buckets: new Map() };
      this.#slots.push(slot);
      this.#expire(index);
    }
    slot.requests += 1;
    if (sample.success) slot.successes += 1;
    slot.retries += sample.retries;
    const bucket = latencyBucket(sample.latencyMs);
    slot.buckets.set(bucket, (slot.buckets.get(bucket) ?? 0) + 1);
  }

  stats(now: number): WindowStats {
    const index = Math.floor(now / this.#slotMs);
    this.#expire(index);
    let requests = 0;
    let successes = 0;
    let retries = 0;
    const buckets = new Map<number, number>();
    for (const slot of this.#slots) {
      requests += slot.requests;
      successes += slot.successes;
      retries += slot.retries;
      for (const [bucket, count] of slot.buckets) buckets.set(bucket, (buckets.get(bucket) ?? 0) + count);
    }
    const windowStart = (index - SLOTS + 1) * this.#slotMs;
    const spanMs = Math.max(1000, now - Math.max(windowStart, this.#firstAt ?? now));
    const quantile = (q: number): number | null => bucketQuantile(buckets, q);
    return {
      requests,
      successes,
      successRate: requests === 0 ? null : successes / requests,
      rps: requests / (spanMs / 1000),
      p50Ms: quantile(0.5),
      p95Ms: quantile(0.95),
      p99Ms: quantile(0.99),
      retries,
    };
  }

  /** Drop slots that fell out of a window ending in slot `index`. */
  #expire(index: number): void {
    while (this.#slots.length > 0 && this.#slots[0]!.index <= index - SLOTS) this.#slots.shift();
  }
}
