import { describe, expect, it } from "vitest";
import type { Address } from "viem";
import { histogramQuantile, LATENCY_BUCKETS_MS, ObservationWindow } from "./observation-window.ts";

const A = "0x00000000000000000000000000000000000000aA" as Address;

describe("histogramQuantile", () => {
  const counts = (entries: Record<number, number>): number[] => {
    const c = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
    for (const [i, n] of Object.entries(entries)) c[Number(i)] = n;
    return c;
  };
  it.each<[string, number[], number, number | undefined]>([
    ["empty", counts({}), 0.5, undefined],
    ["all in the first bucket (0–0.5 ms), median", counts({ 0: 10 }), 0.5, 0.25],
    ["all in bucket 1–2 ms, p99", counts({ 2: 100 }), 0.99, 1.99],
    ["split 50/50 between 1–2 and 5–7.5 ms, median at the top of the lower", counts({ 2: 50, 5: 50 }), 0.5, 2],
    ["p99 in the unbounded bucket answers its lower bound", counts({ 0: 1, [LATENCY_BUCKETS_MS.length]: 99 }), 0.99, 60_000],
  ])("%s", (_name, c, q, expected) => {
    const value = histogramQuantile(c, q);
    if (expected === undefined) expect(value).toBeUndefined();
    else expect(value).toBeCloseTo(expected, 6);
  });
});

describe("ObservationWindow", () => {
  it("closes a window into report figures and starts the next one empty", () => {
    const window = new ObservationWindow(1000);
    for (let i = 0; i < 98; i++) window.served("1", false, 1.5);
    window.served("1", true, 40);
    window.served("1", true, 40);
    window.probed(A, 2);
    window.probed(A, undefined);
    window.probed(A, 4);
    const closed = window.take(6000);
    expect(closed.windowStart).toBe(1000);
    expect(closed.windowEnd).toBe(6000);
    expect(closed.services).toHaveLength(1);
    expect(closed.services[0]).toMatchObject({ serviceId: "1", requests: 100, errors: 2 });
    expect(closed.services[0]!.p50Ms).toBeGreaterThan(1);
    expect(closed.services[0]!.p50Ms).toBeLessThanOrEqual(2);
    expect(closed.services[0]!.p99Ms).toBeGreaterThan(30);
    expect(closed.services[0]!.p99Ms).toBeLessThanOrEqual(50);
    expect(closed.probes).toEqual([{ node: A, sent: 3, ok: 2, rttMs: 2 }]);
    expect(window.take(11_000)).toEqual({ windowStart: 6000, windowEnd: 11_000, services: [], probes: [] });
  });

  it("never produces an empty window even if the clock did not move", () => {
    const window = new ObservationWindow(5000);
    expect(window.take(5000).windowEnd).toBe(5001);
    expect(window.take(4000).windowStart).toBe(5001);
  });
});
