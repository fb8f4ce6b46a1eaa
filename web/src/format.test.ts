import { parseEther } from "viem";
import { describe, expect, it } from "vitest";
import { formatDuration, formatOpen, formatUtc, priceModel, shortHex, unbondingCountdown } from "./format.ts";

describe("format", () => {
  it.each([
    [0n, "0 OPEN"],
    [parseEther("10"), "10 OPEN"],
    [parseEther("12.5"), "12.5 OPEN"],
    [parseEther("0.00012"), "0.0001 OPEN".replace("0.0001", "≈0.0001")],
    [1n, "≈0 OPEN"],
  ])("formatOpen(%s) = %s", (amount, text) => expect(formatOpen(amount)).toBe(text));

  it.each([
    [0, "0s"],
    [59, "59s"],
    [61, "1m 1s"],
    [3_600, "1h"],
    [7 * 86_400 + 3_700, "7d 1h"],
    [-5, "0s"],
  ])("formatDuration(%s) = %s", (s, text) => expect(formatDuration(s)).toBe(text));

  it("formats UTC times and short hex", () => {
    expect(formatUtc(0)).toBe("1970-01-01 00:00 UTC");
    expect(shortHex("0x1234567890abcdef1234567890abcdef12345678")).toBe("0x1234…5678");
    expect(shortHex("0x12")).toBe("0x12");
  });

  it("counts the unbonding down against the chain clock it is given", () => {
    const release = 1_000_000n;
    expect(unbondingCountdown(release, 0n, 999_000)).toEqual({ state: "none", text: "nothing unbonding" });
    const waiting = unbondingCountdown(release, parseEther("30"), 1_000_000 - 86_400 - 60);
    expect(waiting.state).toBe("waiting");
    expect(waiting.text).toBe("30 OPEN unbonding, released in 1d 1m (1970-01-12 13:46 UTC)");
    expect(unbondingCountdown(release, parseEther("30"), 1_000_000).state).toBe("released");
  });

  it("describes price models", () => {
    const none = { perCall: 0n, perPeriod: 0n, periodSeconds: 0n, oneTime: 0n, oneTimeDuration: 0n };
    expect(priceModel(none)).toBe("free");
    expect(priceModel({ ...none, perPeriod: parseEther("10"), periodSeconds: 30n * 86_400n })).toBe("10 OPEN / 30d");
    expect(priceModel({ ...none, oneTime: parseEther("5"), oneTimeDuration: 3_600n, perCall: parseEther("0.01") })).toBe("5 OPEN once for 1h · 0.01 OPEN per call");
  });
});
