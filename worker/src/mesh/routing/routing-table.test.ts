import { describe, expect, it } from "vitest";
import { emptyServiceStats, RoutingTable } from "./routing-table.ts";

const candidates = [{ id: "a" }, { id: "b" }];
const first = () => 0;

describe("RoutingTable", () => {
  it("drains a provider whose breaker opened, then lets one probe through after the open period", () => {
    const table = new RoutingTable({ breaker: { failureThreshold: 2, openMs: 1_000 } });
    const a = table.provider("1", "a", 0);
    for (let i = 0; i < 2; i++) a.breaker.onFailure(0, a.breaker.acquire(0)!);
    for (let now = 0; now < 1_000; now += 100) expect(table.choose("1", candidates, { now, random: first })).toEqual({ id: "b" });
    const b = table.provider("1", "b", 0);
    for (let i = 0; i < 2; i++) b.breaker.onFailure(500, b.breaker.acquire(500)!);
    expect(table.choose("1", candidates, { now: 900, random: first })).toEqual({ refused: "all-unavailable" });
    // a turns half-open at 1 000: chosen (b is still open until 1 500).
    expect(table.choose("1", candidates, { now: 1_000, random: first })).toEqual({ id: "a" });
    expect(table.stats("1", 1_000)!.providers.map((p) => [p.provider, p.breaker])).toEqual([
      ["a", "half-open"],
      ["b", "open"],
    ]);
  });

  it("excludes the provider the previous attempt failed on", () => {
    const table = new RoutingTable();
    table.provider("1", "b", 0).ewma.observe(0, 1_000); // b is far more expensive, yet chosen after a failed
    expect(table.choose("1", candidates, { now: 0, exclude: "a", random: first })).toEqual({ id: "b" });
    expect(table.choose("1", [{ id: "a" }], { now: 0, exclude: "a", random: first })).toEqual({ refused: "only-excluded" });
  });

  it("takes the advertised load from the candidates as the prior", () => {
    const table = new RoutingTable();
    expect(table.choose("1", [{ id: "a", load: 10_000 }, { id: "b", load: 0 }], { now: 0, random: first })).toEqual({ id: "b" });
    expect(table.provider("1", "a", 0).ewma.cost(0)).toBe(60);
  });

  it("forgets idle providers and services, never one with requests in flight", () => {
    const table = new RoutingTable({ idleMs: 1_000 });
    table.provider("1", "a", 0).ewma.start();
    table.provider("1", "b", 0);
    table.provider("2", "c", 0);
    table.service("3", 5_000); // prunes
    expect(table.stats("1", 5_000)!.providers.map((p) => p.provider)).toEqual(["a"]);
    expect(table.stats("2", 5_000)).toBeUndefined();
  });

  it("reports zeros for a service never called", () => {
    expect(emptyServiceStats("9")).toEqual({
      serviceId: "9",
      windowMs: 60_000,
      total: { requests: 0, successes: 0, successRate: null, rps: 0, p50Ms: null, p95Ms: null, p99Ms: null, retries: 0 },
      providers: [],
    });
  });
});
