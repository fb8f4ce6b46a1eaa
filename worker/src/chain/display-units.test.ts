import { parseEther } from "viem";
import { describe, expect, it } from "vitest";
import { formatDuration, formatTimeBetween, formatTokenAmount, formatTokenNumber, formatUtcTime } from "./display-units.ts";

describe("display units", () => {
  it.each([
    [parseEther("90"), "90 OPEN"],
    [parseEther("0.1"), "0.1 OPEN"],
    [1n, "0.000000000000000001 OPEN"],
    [0n, "0 OPEN"],
  ])("formatTokenAmount(%s) = %s", (value, text) => {
    expect(formatTokenAmount(value)).toBe(text);
  });

  it("formats with other units", () => {
    expect(formatTokenNumber(1_500_000n, { symbol: "USDC", decimals: 6 })).toBe("1.5");
  });

  it.each([
    [BigInt(Date.UTC(2026, 11, 1, 10, 0, 0) / 1000), "2026-12-01 10:00 UTC"],
    [BigInt(Date.UTC(2026, 11, 1, 10, 0, 5) / 1000), "2026-12-01 10:00:05 UTC"],
    [0n, "1970-01-01 00:00 UTC"],
    [-1n, "unix time -1"],
  ])("formatUtcTime(%s) = %s", (seconds, text) => {
    expect(formatUtcTime(seconds)).toBe(text);
  });

  it.each([
    [0, "0s"],
    [45, "45s"],
    [5_400, "1h30m"],
    [2_592_000, "30d"],
    [90_061, "1d1h1m1s"],
  ])("formatDuration(%s) = %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it.each([
    [0n, 604_799n, "6d 23h"],
    [0n, 86_400n, "1d"],
    [0n, 90_000n, "1d 1h"],
    [0n, 3_659n, "1h"],
    [10n, 5n, "0s"],
    [0n, 59n, "59s"],
  ])("formatTimeBetween(%s, %s) = %s", (now, until, text) => {
    expect(formatTimeBetween(now, until)).toBe(text);
  });
});
