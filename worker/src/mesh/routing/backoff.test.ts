import { describe, expect, it } from "vitest";
import { retryBackoffMs } from "./backoff.ts";

describe("retryBackoffMs", () => {
  it.each([
    [1, 0, 0],
    [1, 0.5, 5],
    [2, 0.5, 10],
    [3, 0.999, 39.96],
    [10, 0.5, 50],
    [10, 1, 100],
  ])("retry %i, draw %d → %d ms", (retry, draw, ms) => {
    expect(retryBackoffMs(retry, draw, { baseMs: 10, maxMs: 100 })).toBeCloseTo(ms, 6);
  });
});
