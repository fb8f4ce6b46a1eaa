import { describe, expect, it } from "vitest";
import type { Address } from "viem";
import { MetricReportInvalidError } from "../errors.ts";
import type { MetricReport } from "./metric-report.ts";
import { ReportBook } from "./report-book.ts";

const A = "0x00000000000000000000000000000000000000aA" as Address;
const B = "0x00000000000000000000000000000000000000bB" as Address;
const NOW = 1_700_000_000_000;
const report = (reporter: Address, windowEnd: number): MetricReport => ({ chainId: 1, reporter, windowStart: windowEnd - 5000, windowEnd, services: [], probes: [] });
const anyone = (): boolean => true;

function reasonOf(run: () => void): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(MetricReportInvalidError);
    return (error as MetricReportInvalidError).reason;
  }
}

describe("ReportBook", () => {
  it.each<[string, number, (a: Address) => boolean, string | undefined]>([
    ["fresh, eligible", NOW - 1000, anyone, undefined],
    ["reporter not eligible", NOW - 1000, () => false, "unknown-reporter"],
    ["window ended 61 s ago", NOW - 61_000, anyone, "stale"],
    ["window ended exactly max age ago", NOW - 60_000, anyone, undefined],
    ["window ends 31 s ahead", NOW + 31_000, anyone, "from-future"],
    ["window ends 29 s ahead (clock skew)", NOW + 29_000, anyone, undefined],
  ])("%s", (_name, windowEnd, eligible, reason) => {
    const book = new ReportBook();
    expect(reasonOf(() => book.accept(report(A, windowEnd), eligible, NOW))).toBe(reason);
    expect(book.size).toBe(reason === undefined ? 1 : 0);
  });

  it("keeps the latest report per reporter and refuses replays and older windows", () => {
    const book = new ReportBook();
    book.accept(report(A, NOW - 2000), anyone, NOW);
    book.accept(report(B, NOW - 2000), anyone, NOW);
    expect(reasonOf(() => book.accept(report(A, NOW - 2000), anyone, NOW))).toBe("replayed");
    expect(reasonOf(() => book.accept(report(A, NOW - 3000), anyone, NOW))).toBe("replayed");
    book.accept(report(A, NOW - 1000), anyone, NOW);
    expect(book.current(NOW).map((r) => [r.reporter, r.windowEnd])).toEqual([
      [A, NOW - 1000],
      [B, NOW - 2000],
    ]);
  });

  it("drops reports that aged out, and forgets a reporter on request", () => {
    const book = new ReportBook({ maxAgeMs: 10_000 });
    book.accept(report(A, NOW), anyone, NOW);
    book.accept(report(B, NOW - 5000), anyone, NOW);
    expect(book.current(NOW + 6000).map((r) => r.reporter)).toEqual([A]);
    book.forget(A);
    expect(book.current(NOW + 6000)).toEqual([]);
  });
});
