/**
 * What each reporter said, and the stateful checks of a report (docs/protocol.md §11.3): the reporter must be
 * eligible (an active registered Xnode with a bond, from the chain view), the window fresh and not from the
 * future, and newer than the last one accepted from that reporter (replay).
 *
 * A reporter probes a rotating sample of the network each window, so its latest report alone covers only part
 * of it: the book keeps, per reporter, its latest probe of each node (as long as it is fresh) and its latest
 * service figures. Pure: time comes in as `now` (unix ms), eligibility as a function.
 */
import type { Address } from "viem";
import { MetricReportInvalidError } from "../errors.ts";
import type { MetricReport, ProbeFigures } from "./metric-report.ts";

/** Reports (and probes) whose window ended longer ago than this are not accepted nor aggregated (ms). */
export const DEFAULT_REPORT_MAX_AGE_MS = 60_000;
/** How far ahead of this node's clock a window may end (ms): clocks of honest nodes drift a little. */
export const DEFAULT_REPORT_MAX_SKEW_MS = 30_000;

export interface ReportBookOptions {
  maxAgeMs?: number | undefined;
  maxSkewMs?: number | undefined;
}

interface ReporterEntry {
  latest: MetricReport;
  /** Latest probe of each node and the end of the window it came from. */
  probes: Map<Address, { probe: ProbeFigures; windowEnd: number }>;
}

export class ReportBook {
  readonly #reporters = new Map<Address, ReporterEntry>();
  readonly #maxAgeMs: number;
  readonly #maxSkewMs: number;

  constructor(options: ReportBookOptions = {}) {
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_REPORT_MAX_AGE_MS;
    this.#maxSkewMs = options.maxSkewMs ?? DEFAULT_REPORT_MAX_SKEW_MS;
  }

  /**
   * Throws {@link MetricReportInvalidError} (`unknown-reporter`, `stale`, `from-future`, `replayed`) if `report`
   * would be refused; changes nothing. Cheap: run it before verifying the signature.
   */
  check(report: MetricReport, eligible: (reporter: Address) => boolean, now: number): void {
    if (!eligible(report.reporter)) throw new MetricReportInvalidError("unknown-reporter", `${report.reporter} is not an active bonded Xnode in this node's chain view`);
    if (report.windowEnd < now - this.#maxAgeMs) throw new MetricReportInvalidError("stale", `window ended ${now - report.windowEnd} ms ago, at most ${this.#maxAgeMs}`);
    if (report.windowEnd > now + this.#maxSkewMs) throw new MetricReportInvalidError("from-future", `window ends ${report.windowEnd - now} ms ahead of this node's clock, at most ${this.#maxSkewMs}`);
    const last = this.#reporters.get(report.reporter)?.latest;
    if (last !== undefined && report.windowEnd <= last.windowEnd) {
      throw new MetricReportInvalidError("replayed", `window end ${report.windowEnd} is not after the last accepted ${last.windowEnd}`);
    }
  }

  /** {@link check}, then records `report` as its reporter's latest (its probes update that reporter's per-node probes). */
  accept(report: MetricReport, eligible: (reporter: Address) => boolean, now: number): void {
    this.check(report, eligible, now);
    let entry = this.#reporters.get(report.reporter);
    if (entry === undefined) {
      entry = { latest: report, probes: new Map() };
      this.#reporters.set(report.reporter, entry);
    }
    entry.latest = report;
    for (const probe of report.probes) entry.probes.set(probe.node, { probe, windowEnd: report.windowEnd });
  }

  /**
   * Each reporter's view as one report: its latest window's services, and the latest fresh probe of every node
   * it probed within max-age (from whichever of its windows). Stale probes and reporters are dropped.
   */
  current(now: number): MetricReport[] {
    const fresh: MetricReport[] = [];
    const oldest = now - this.#maxAgeMs;
    for (const [reporter, entry] of this.#reporters) {
      for (const [node, p] of entry.probes) if (p.windowEnd < oldest) entry.probes.delete(node);
      if (entry.latest.windowEnd < oldest) {
        this.#reporters.delete(reporter);
        continue;
      }
      fresh.push({ ...entry.latest, probes: [...entry.probes.values()].map((p) => p.probe) });
    }
    return fresh;
  }

  /** Drops what `reporter` said (e.g. it left the registry). */
  forget(reporter: Address): void {
    this.#reporters.delete(reporter);
  }

  /** Reporters with a fresh report (as of the last {@link current}). */
  get size(): number {
    return this.#reporters.size;
  }
}
