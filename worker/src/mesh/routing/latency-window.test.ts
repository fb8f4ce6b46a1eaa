import { describe, expect, it } from "vitest";
import { LatencyWindow } from "./latency-window.ts";

describe("LatencyWindow", () => {
  it("is empty before any sample", () => {
    expect(new LatencyWindow().stats(0)).toEqual({ requests: 0, successes: 0, successRate: null, rps: 0, p50Ms: null, p95Ms: null, p99Ms: null, retries: 0 });
  });

  it("computes success rate, RPS and quantiles within 2.5 %", () => {
    const window = new LatencyWindow({ windowMs: 60_000 });
    // 1..1000 ms, one per 10 ms over 10 s; every 10th fails; every 20th was retried once.
    for (let i = 1; i <= 1000; i++) window.record(i * 10, { latencyMs: i, success: i % 10 !== 0, retries: i % 20 === 0 ? 1 : 0 });
    const stats = window.stats(10_000);
    expect(stats.requests).toBe(1000);
    expect(stats.successRate).toBeCloseTo(0.9, 6);
    expect(stats.retries).toBe(50);
    expect(stats.rps).toBeCloseTo(1000 / 9.99, 0);
    for (const [value, expected] of [[stats.p50Ms, 500], [stats.p95Ms, 950], [stats.p99Ms, 990]] as const) {
      expect(Math.abs(value! - expected) / expected).toBeLessThan(0.025);
    }
  });

  it.each([
    // [record at, read at, requests still counted]
    [0, 54_999, 1],
    [0, 60_000, 0],
    [4_999, 64_999, 0],
    [5_000, 64_999, 1],
  ])("a sample at %i ms read at %i ms counts %i", (at, readAt, requests) => {
    const window = new LatencyWindow({ windowMs: 60_000 });
    window.record(at, { latencyMs: 1, success: true, retries: 0 });
    expect(window.stats(readAt).requests).toBe(requests);
  });
});
