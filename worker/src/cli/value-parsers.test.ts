import { describe, expect, it } from "vitest";
import { CliUsageError } from "../errors.ts";
import { parseAddress, parseBytes32, parseDuration, parseInteger, parseNodeAddress, parseTokenAmount } from "./value-parsers.ts";

describe("value parsers", () => {
  it.each([
    ["30d", 2_592_000n],
    ["12h", 43_200n],
    ["1d12h", 129_600n],
    ["90m", 5_400n],
    ["45s", 45n],
    ["2w", 1_209_600n],
    ["3600", 3_600n],
    ["1D", 86_400n],
  ])("parseDuration(%s) = %s", (text, seconds) => {
    expect(parseDuration(text, "--period")).toBe(seconds);
  });

  it.each(["", "30 days", "d", "1.5h", "-1d", "1y"])("parseDuration refuses %j", (text) => {
    expect(() => parseDuration(text, "--period")).toThrow(CliUsageError);
  });

  it.each([
    ["100", 18, 100n * 10n ** 18n],
    ["2.5", 18, 25n * 10n ** 17n],
    ["0.000001", 6, 1n],
    ["0", 18, 0n],
  ])("parseTokenAmount(%s, %s decimals)", (text, decimals, value) => {
    expect(parseTokenAmount(text, "<amount>", decimals)).toBe(value);
  });

  it.each([
    ["1e18", 18],
    ["-1", 18],
    [".5", 18],
    ["1,5", 18],
    ["0.0000001", 6],
  ])("parseTokenAmount refuses %s (%s decimals)", (text, decimals) => {
    expect(() => parseTokenAmount(text, "<amount>", decimals)).toThrow(CliUsageError);
  });

  it("checks integers, addresses and hashes", () => {
    expect(parseInteger("4", "--slots", { min: 1 })).toBe(4);
    expect(() => parseInteger("0", "--slots", { min: 1 })).toThrow("--slots: must be between 1 and");
    expect(() => parseInteger("4.5", "--slots")).toThrow("expected a whole number");
    expect(parseAddress("0x70997970c51812dc3a010c7d01b50e0d17dc79c8", "<address>")).toBe("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
    expect(() => parseAddress("0x70997970C51812dc3A010C7d01b50e0d17dc79c8", "<address>")).toThrow(CliUsageError); // bad checksum
    expect(parseBytes32("ab".repeat(32), "--manifest-hash")).toBe(`0x${"ab".repeat(32)}`);
    expect(() => parseBytes32("0xabcd", "--manifest-hash")).toThrow("expected 32 bytes of hex");
  });

  it("takes a node as its address or its secp256k1 PeerId (docs/protocol.md §1 vectors)", () => {
    const node = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
    expect(parseNodeAddress("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "--provider")).toBe(node);
    expect(parseNodeAddress("16Uiu2HAmMUjGmiUhJeiZgu6ZZnLRkE2VViR2JgjqtW9aTZnHQqgg", "--provider")).toBe(node);
    expect(() => parseNodeAddress("not-a-peer", "--provider")).toThrow("--provider must be a node address");
    expect(() => parseNodeAddress("0x1234", "--provider")).toThrow(CliUsageError);
  });
});
