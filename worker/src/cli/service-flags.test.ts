import { describe, expect, it } from "vitest";
import { CliUsageError } from "../errors.ts";
import { applyServiceFlags } from "./service.ts";

const DAY = 86_400n;
const base = {
  name: "weather",
  kind: "http" as const,
  visibility: "public" as const,
  pricing: { perCall: 0n, perPeriod: 5n * 10n ** 18n, periodSeconds: 30n * DAY, oneTime: 0n, oneTimeDuration: 0n },
  manifestHash: `0x${"00".repeat(32)}` as const,
  minReplicas: 1,
  maxReplicas: 3,
  minProviderStake: 0n,
  metadataURI: "",
};

describe("applyServiceFlags: prices and their durations", () => {
  it("changes the period of a service that has a per-period price", () => {
    expect(applyServiceFlags(base as never, { period: "60d" } as never, 18).pricing).toMatchObject({ perPeriod: 5n * 10n ** 18n, periodSeconds: 60n * DAY });
  });

  it("clears a per-period price together with its period (duration 0)", () => {
    expect(applyServiceFlags(base as never, { pricePerPeriod: "0", period: "0" } as never, 18).pricing).toMatchObject({ perPeriod: 0n, periodSeconds: 0n });
  });

  it("refuses a duration for a price of zero (a free service that looks priced), and a price without its duration", () => {
    const free = { ...base, pricing: { ...base.pricing, perPeriod: 0n, periodSeconds: 0n } };
    expect(() => applyServiceFlags(free as never, { period: "30d" } as never, 18)).toThrow(CliUsageError);
    expect(() => applyServiceFlags(free as never, { oneTimeDuration: "7d" } as never, 18)).toThrow(/--one-time-price/);
    expect(() => applyServiceFlags(free as never, { pricePerPeriod: "5" } as never, 18)).toThrow(/needs --period/);
  });
});
