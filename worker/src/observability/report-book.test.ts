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

  it("check() judges without recording", () => {
    const book = new ReportBook();
    book.check(report(A, NOW - 1000), anyone, NOW);
    expect(book.current(NOW)).toEqual([]);
    book.accept(report(A, NOW - 1000), anyone, NOW);
    expect(reasonOf(() => book.check(report(A, NOW - 1000), anyone, NOW))).toBe("replayed");
  });

  it("keeps each reporter's latest fresh probe of every node across its windows (a rotating sample covers the network)", () => {
    const book = new ReportBook({ maxAgeMs: 10_000 });
    const P = "0x0000000000000000000000000000000000000001" as Address;
    const Q = "0x0000000000000000000000000000000000000002" as Address;
    book.accept({ ...report(A, NOW), probes: [{ node: P, sent: 2, ok: 0 }] }, anyone, NOW);
    book.accept({ ...report(A, NOW + 5000), probes: [{ node: Q, sent: 2, ok: 2, rttMs: 1 }] }, anyone, NOW + 5000);
    expect(book.current(NOW + 5000)[0]!.probes).toEqual([
      { node: P, sent: 2, ok: 0 },
      { node: Q, sent: 2, ok: 2, rttMs: 1 },
    ]);
    book.accept({ ...report(A, NOW + 8000), probes: [{ node: P, sent: 1, ok: 1, rttMs: 3 }] }, anyone, NOW + 8000);
    expect(book.current(NOW + 8000)[0]!.probes).toEqual([
      { node: P, sent: 1, ok: 1, rttMs: 3 },
      { node: Q, sent: 2, ok: 2, rttMs: 1 },
    ]);
    // Q's probe (window ending NOW + 5000) ages out at NOW + 15 001; the reporter stays with P's.
    expect(book.current(NOW + 15_001)[0]!.probes).toEqual([{ node: P, sent: 1, ok: 1, rttMs: 3 }]);
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
