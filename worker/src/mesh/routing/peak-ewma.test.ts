import { describe, expect, it } from "vitest";
import { COLD_BUSY_PENALTY, PeakEwma } from "./peak-ewma.ts";

describe("PeakEwma", () => {
  it("costs the cold RTT before any sample, and the penalty once a cold provider is busy", () => {
    const ewma = new PeakEwma({ coldRttMs: 30 });
    expect(ewma.cost(0)).toBe(30);
    ewma.start();
    expect(ewma.cost(0)).toBeGreaterThanOrEqual(COLD_BUSY_PENALTY);
    ewma.finish(5, 5, true);
    expect(ewma.cost(5)).toBe(5);
  });

  it.each([
    // [samples (at ms, rtt ms)], read at, expected estimate
    [[[0, 10]], 0, 10],
    [[[0, 10], [0, 50]], 0, 50], // a peak replaces the estimate at once
    [[[0, 50], [10_000, 10]], 10_000, 50 * Math.exp(-1) + 10 * (1 - Math.exp(-1))], // a lower sample is averaged in by e^(-Δt/τ)
    [[[0, 50]], 10_000, 50 * Math.exp(-1)], // decays toward 0 while idle
    [[[0, 50], [0, 10]], 0, 50], // no time passed: the lower sample has no weight
  ] as Array<[Array<[number, number]>, number, number]>)("samples %j read at %i → %d", (samples, at, expected) => {
    const ewma = new PeakEwma({ decayMs: 10_000 });
    for (const [now, rtt] of samples) ewma.observe(now, rtt);
    expect(ewma.estimateMs(at)).toBeCloseTo(expected, 6);
  });

  it.each([
    [0, 1, 10, 10],
    [2, 1, 10, 30],
    [0, 10_000, 10, 20],
    [1, 5_000, 10, 30],
  ])("outstanding %i, load %i bp, estimate %i → cost %i", (outstanding, load, estimate, cost) => {
    const ewma = new PeakEwma();
    ewma.observe(0, estimate);
    for (let i = 0; i < outstanding; i++) ewma.start();
    ewma.load = load === 1 ? 0 : load;
    expect(ewma.cost(0)).toBeCloseTo(cost, 6);
  });

  it("counts a fast failure as the failure penalty, and a cancel only as one less in flight", () => {
    const ewma = new PeakEwma({ failurePenaltyMs: 500 });
    ewma.start();
    ewma.finish(0, 2, false);
    expect(ewma.estimateMs(0)).toBe(500);
    ewma.start();
    ewma.cancel();
    expect([ewma.outstanding, ewma.estimateMs(0)]).toEqual([0, 500]);
  });
});
