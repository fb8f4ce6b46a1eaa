import { describe, expect, it } from "vitest";
import type { Address } from "viem";
import { ObservationWindow } from "./observation-window.ts";

const A = "0x00000000000000000000000000000000000000aA" as Address;

describe("ObservationWindow", () => {
  it("closes a window into report figures and starts the next one empty", () => {
    const window = new ObservationWindow(1000);
    for (let i = 0; i < 98; i++) window.served("1", false, 1.5);
    window.served("1", true, 40);
    window.served("1", true, 40);
    window.probed(A, 2);
    window.probed(A, undefined);
    window.probed(A, 4);
    const closed = window.take(1_700_000_006_000, 6000);
    expect(closed.windowStart).toBe(1_700_000_001_000);
    expect(closed.windowEnd).toBe(1_700_000_006_000);
    expect(closed.services).toHaveLength(1);
    expect(closed.services[0]).toMatchObject({ serviceId: "1", requests: 100, errors: 2 });
    expect(closed.services[0]!.p50Ms).toBeGreaterThan(1);
    expect(closed.services[0]!.p50Ms).toBeLessThanOrEqual(2);
    expect(closed.services[0]!.p99Ms).toBeGreaterThan(30);
    expect(closed.services[0]!.p99Ms).toBeLessThanOrEqual(50);
    expect(closed.probes).toEqual([{ node: A, sent: 3, ok: 2, rttMs: 2 }]);
    expect(window.take(1_700_000_011_000, 11_000)).toEqual({ windowStart: 1_700_000_006_000, windowEnd: 1_700_000_011_000, services: [], probes: [] });
  });

  it("takes the length from the monotonic clock: wall-clock steps move the window, not its length", () => {
    const window = new ObservationWindow(0);
    expect(window.take(2_000_000_005_000, 5000)).toMatchObject({ windowStart: 2_000_000_000_000, windowEnd: 2_000_000_005_000 }); // wall clock jumped ahead
    expect(window.take(1_000_000_010_000, 10_000)).toMatchObject({ windowStart: 1_000_000_005_000, windowEnd: 1_000_000_010_000 }); // and back
  });

  it.each<[string, number, number]>([
    ["no time passed: 1 ms", 0, 1],
    ["a suspended laptop: capped at the longest window a report may cover", 3_600_000, 600_000],
  ])("window length when %s", (_name, elapsed, length) => {
    const closed = new ObservationWindow(100).take(1_700_000_000_000, 100 + elapsed);
    expect(closed.windowEnd - closed.windowStart).toBe(length);
  });
});
