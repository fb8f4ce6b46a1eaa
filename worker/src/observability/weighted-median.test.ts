import { describe, expect, it } from "vitest";
import { weightedMedian, type WeightedValue } from "./weighted-median.ts";

const w = (value: number, weight: bigint | number = 1n): WeightedValue => ({ value, weight: BigInt(weight) });

describe("weightedMedian", () => {
  it.each<[string, WeightedValue[], number | undefined]>([
    ["nothing", [], undefined],
    ["only zero weights", [w(1, 0), w(2, 0)], undefined],
    ["one value", [w(0.7)], 0.7],
    ["odd count, equal weights", [w(3), w(1), w(2)], 2],
    ["even count, equal weights: the lower middle", [w(4), w(1), w(3), w(2)], 2],
    ["heavy value wins", [w(1, 1), w(2, 1), w(9, 10)], 9],
    ["exactly half the weight at the low value", [w(1, 5), w(9, 5)], 1],
    ["zero-weight values are ignored", [w(100, 0), w(1), w(2), w(3)], 2],
    ["NaN and infinities are ignored", [w(Number.NaN), w(Number.POSITIVE_INFINITY), w(5)], 5],
    ["weights beyond 2^53 (wei)", [w(0, 10n ** 24n), w(1, 10n ** 24n + 1n)], 1],
  ])("%s", (_name, values, expected) => {
    expect(weightedMedian(values)).toBe(expected);
  });

  // f liars of 3f + 1 equal-stake reporters: the median stays within the honest values however they lie.
  it.each([1, 2, 3, 5])("f = %i liars of 3f + 1 cannot move it outside the honest range", (f) => {
    const honest = Array.from({ length: 2 * f + 1 }, (_, i) => w(0.9 + i * 0.001));
    for (const lie of [0, 1, -1e9, 1e9]) {
      const liars = Array.from({ length: f }, () => w(lie));
      const median = weightedMedian([...liars, ...honest])!;
      expect(median).toBeGreaterThanOrEqual(0.9);
      expect(median).toBeLessThanOrEqual(0.9 + 2 * f * 0.001);
    }
  });

  it("one reporter with more than half the stake decides (stake, not head count, is what lying costs)", () => {
    expect(weightedMedian([w(0, 51), w(1, 10), w(1, 10), w(1, 29)])).toBe(0);
  });
});
