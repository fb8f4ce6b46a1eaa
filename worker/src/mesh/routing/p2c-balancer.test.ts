import { describe, expect, it } from "vitest";
import { pickP2c, type BalancerCandidate } from "./p2c-balancer.ts";
import { RoutingTable } from "./routing-table.ts";

/** A seeded PRNG (mulberry32): reproducible draws in [0, 1). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const c = (id: string, cost: number, available = true): BalancerCandidate => ({ id, cost, available });

describe("pickP2c", () => {
  it.each<[string, BalancerCandidate[], string | undefined, object]>([
    ["nothing to pick", [], undefined, { refused: "no-candidates" }],
    ["every breaker open", [c("a", 1, false), c("b", 1, false)], undefined, { refused: "all-unavailable" }],
    ["only the excluded one is left", [c("a", 1), c("b", 1, false)], "a", { refused: "only-excluded" }],
    ["one open provider", [c("a", 9), c("b", 1, false)], undefined, { id: "a" }],
    ["the other one after a failure", [c("a", 1), c("b", 9)], "a", { id: "b" }],
    ["the cheaper of two", [c("a", 9), c("b", 1)], undefined, { id: "b" }],
  ])("%s", (_name, candidates, exclude, expected) => {
    expect(pickP2c(candidates, { exclude, random: seeded(1) })).toEqual(expected);
  });

  it("never picks the most expensive of three or more, and picks each other one", () => {
    const random = seeded(7);
    const counts = new Map<string, number>();
    const candidates = [c("a", 1), c("b", 2), c("c", 3), c("d", 4)];
    for (let i = 0; i < 10_000; i++) {
      const pick = pickP2c(candidates, { random });
      if ("id" in pick) counts.set(pick.id, (counts.get(pick.id) ?? 0) + 1);
    }
    expect(counts.get("d")).toBeUndefined();
    // With 4 candidates, the cheapest wins whenever drawn: P = 1 - C(3,2)/C(4,2) = 1/2; b: 1/3; c: 1/6.
    expect(counts.get("a")! / 10_000).toBeCloseTo(0.5, 1);
    expect(counts.get("b")! / 10_000).toBeCloseTo(1 / 3, 1);
    expect(counts.get("c")! / 10_000).toBeCloseTo(1 / 6, 1);
  });
});

describe("P2C over peak EWMA (tick-driven)", () => {
  /**
   * Closed loop of `concurrency` callers against providers with fixed latencies, time advanced by hand:
   * each tick of 1 ms, callers whose request finished pick again. Returns each provider's share.
   */
  function simulate(latencies: Record<string, number>, options: { concurrency: number; durationMs: number; load?: Record<string, number> }) {
    const table = new RoutingTable();
    const random = seeded(42);
    const served = new Map<string, number>();
    const inFlight: Array<{ id: string; startedAt: number; doneAt: number }> = [];
    const candidates = Object.keys(latencies).map((id) => ({ id, load: options.load?.[id] }));
    for (let now = 0; now < options.durationMs; now++) {
      for (let index = inFlight.length - 1; index >= 0; index--) {
        const call = inFlight[index]!;
        if (call.doneAt > now) continue;
        table.provider("1", call.id, now).ewma.finish(now, now - call.startedAt, true);
        inFlight.splice(index, 1);
      }
      while (inFlight.length < options.concurrency) {
        const pick = table.choose("1", candidates, { now, random });
        if (!("id" in pick)) throw new Error("nothing picked");
        table.provider("1", pick.id, now).ewma.start();
        inFlight.push({ id: pick.id, startedAt: now, doneAt: now + latencies[pick.id]! });
        served.set(pick.id, (served.get(pick.id) ?? 0) + 1);
      }
    }
    const total = [...served.values()].reduce((a, b) => a + b, 0);
    return Object.fromEntries(Object.keys(latencies).map((id) => [id, (served.get(id) ?? 0) / total]));
  }

  it.each([
    // [latencies, concurrency, max share of the slow one]
    [{ fast: 1, slow: 30 }, 4, 0.1],
    [{ fast: 2, slow: 10 }, 8, 0.3],
    [{ fast: 1, mid: 5, slow: 30 }, 6, 0.1],
  ])("%j at concurrency %i: the slow provider's share stays below %d", (latencies, concurrency, maxShare) => {
    const share = simulate(latencies, { concurrency, durationMs: 20_000 });
    expect(share.slow).toBeLessThan(maxShare);
    expect(share.slow).toBeGreaterThan(0); // still probed: its estimate decays and outstanding counts load
  });

  it("splits evenly between equal providers", () => {
    const share = simulate({ a: 5, b: 5 }, { concurrency: 4, durationMs: 20_000 });
    expect(share.a).toBeGreaterThan(0.4);
    expect(share.b).toBeGreaterThan(0.4);
  });

  it("takes the advertised load as a prior between equally fast providers", () => {
    const share = simulate({ idle: 5, busy: 5 }, { concurrency: 1, durationMs: 20_000, load: { idle: 0, busy: 9_000 } });
    expect(share.idle).toBeGreaterThan(0.9);
  });
});
