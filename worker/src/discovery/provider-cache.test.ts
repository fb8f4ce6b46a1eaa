import { describe, expect, it } from "vitest";
import { ProviderCache } from "./provider-cache.ts";

describe("provider cache", () => {
  const options = { ttlMs: 60_000, refreshAheadMs: 15_000, maxEntries: 3 };

  it.each<[number, "miss" | "fresh" | "stale"]>([
    [0, "fresh"],
    [44_999, "fresh"],
    [45_000, "stale"],
    [59_999, "stale"],
    [60_000, "miss"],
  ])("an entry stored at 0 reads %i ms later as %s", (at, state) => {
    const cache = new ProviderCache<string>(options);
    cache.write("s", "v", 0);
    expect(cache.read("s", at).state).toBe(state);
  });

  it("ends an entry at notAfter when that comes before the TTL, refreshing ahead of it", () => {
    const cache = new ProviderCache<string>(options);
    const entry = cache.write("s", "v", 1_000, 21_000);
    expect(entry).toMatchObject({ storedAt: 1_000, refreshAt: 16_000, expiresAt: 21_000 });
    expect(cache.read("s", 15_999).state).toBe("fresh");
    expect(cache.read("s", 20_999).state).toBe("stale");
    expect(cache.read("s", 21_000).state).toBe("miss");
    expect(cache.size).toBe(0);
  });

  it("does not store an entry that is already over", () => {
    const cache = new ProviderCache<string>(options);
    cache.write("s", "v", 5_000, 5_000);
    expect(cache.read("s", 5_000).state).toBe("miss");
  });

  it("spends at most a quarter of a short entry's life stale", () => {
    const cache = new ProviderCache<string>(options);
    expect(cache.write("s", "v", 100, 2_100)).toMatchObject({ refreshAt: 1_600, expiresAt: 2_100 });
  });

  it("overwrites, deletes, and evicts the entry stored longest ago", () => {
    const cache = new ProviderCache<string>(options);
    cache.write("a", "1", 0);
    cache.write("b", "1", 1);
    cache.write("a", "2", 2); // a is now the newest
    cache.write("c", "1", 3);
    cache.write("d", "1", 4); // evicts b
    expect(cache.read("b", 5).state).toBe("miss");
    expect(cache.read("a", 5)).toMatchObject({ state: "fresh", entry: { value: "2" } });
    cache.delete("a");
    expect(cache.read("a", 5).state).toBe("miss");
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it("refuses nonsense options", () => {
    expect(() => new ProviderCache({ ...options, maxEntries: 0 })).toThrow(RangeError);
    expect(() => new ProviderCache({ ...options, ttlMs: Number.NaN })).toThrow(RangeError);
  });
});
