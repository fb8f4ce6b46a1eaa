/**
 * The latest accepted report of each reporter, and the stateful checks of a report (docs/protocol.md §10.3):
 * the reporter must be eligible (an active registered Xnode with a bond, from the chain view), the window must
 * be fresh and not from the future, and newer than the last one accepted from that reporter (replay). Pure:
 * time comes in as `now` (unix ms), eligibility as a function.
 */
import type { Address } from "viem";
import { MetricReportInvalidError } from "../errors.ts";
import type { MetricReport } from "./metric-report.ts";

/** Reports whose window ended longer ago than this are not accepted nor aggregated (ms). */
export const DEFAULT_REPORT_MAX_AGE_MS = 60_000;
/** How far ahead of this node's clock a window may end (ms): clocks of honest nodes drift a little. */
export const DEFAULT_REPORT_MAX_SKEW_MS = 30_000;

export interface ReportBookOptions {
  maxAgeMs?: number | undefined;
  maxSkewMs?: number | undefined;
}

export class ReportBook {
  readonly #latest = new Map<Address, MetricReport>();
  readonly #maxAgeMs: number;
  readonly #maxSkewMs: number;

  constructor(options: ReportBookOptions = {}) {
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_REPORT_MAX_AGE_MS;
    this.#maxSkewMs = options.maxSkewMs ?? DEFAULT_REPORT_MAX_SKEW_MS;
  }

  /**
   * Accepts `report` as its reporter's latest, or throws {@link MetricReportInvalidError} (`unknown-reporter`,
   * `stale`, `from-future`, `replayed`) and changes nothing.
   */
  accept(report: MetricReport, eligible: (reporter: Address) => boolean, now: number): void {
    if (!eligible(report.reporter)) throw new MetricReportInvalidError("unknown-reporter", `${report.reporter} is not an active bonded Xnode in this node's chain view`);
    if (report.windowEnd < now - this.#maxAgeMs) throw new MetricReportInvalidError("stale", `window ended ${now - report.windowEnd} ms ago, at most ${this.#maxAgeMs}`);
    if (report.windowEnd > now + this.#maxSkewMs) throw new MetricReportInvalidError("from-future", `window ends ${report.windowEnd - now} ms ahead of this node's clock, at most ${this.#maxSkewMs}`);
    const last = this.#latest.get(report.reporter);
    if (last !== undefined && report.windowEnd <= last.windowEnd) {
      throw new MetricReportInvalidError("replayed", `window end ${report.windowEnd} is not after the last accepted ${last.windowEnd}`);
    }
    this.#latest.set(report.reporter, report);
  }

  /** Each reporter's latest report whose window ended at most max-age ago; older ones are dropped. */
  current(now: number): MetricReport[] {
    const fresh: MetricReport[] = [];
    for (const [reporter, report] of this.#latest) {
      if (report.windowEnd < now - this.#maxAgeMs) this.#latest.delete(reporter);
      else fresh.push(report);
    }
    return fresh;
  }

  /** Drops a reporter (e.g. deregistered): its reports no longer count. */
  forget(reporter: Address): void {
    this.#latest.delete(reporter);
  }

  get size(): number {
    return this.#latest.size;
  }
}
