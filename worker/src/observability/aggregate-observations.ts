/**
 * The network view every Xnode computes from the reports it accepted (DESIGN §7, docs/protocol.md §10.4): per
 * Xnode, availability and round trip as the stake-weighted median over the *other* nodes' probes, so that
 * f liars holding less than half of the reporters' stake cannot move them; per service, the traffic its
 * providers reported serving. Pure: reports, weights and time come in as values.
 */
import type { Address } from "viem";
import type { MetricReport } from "./metric-report.ts";
import { weightedMedian } from "./weighted-median.ts";

/** A node is "down" when the median of its probers' success ratios is below this. */
export const DEFAULT_DOWN_BELOW = 0.5;
/** Reporters needed before a node's availability is judged at all. */
export const DEFAULT_MIN_REPORTERS = 1;

const NO_ANSWER = Number.MAX_VALUE;

export interface NodeObservation {
  node: Address;
  /** Stake-weighted median over reporters of (successful probes / probes sent) in their latest window. */
  availability: number | undefined;
  /**
   * Stake-weighted median over reporters of their median round trip (ms), a reporter without an answer
   * counting as infinite; undefined when that median is infinite.
   */
  rttMs: number | undefined;
  /** Reporters whose latest window probed this node. */
  reporters: number;
  /** up / down when at least `minReporters` reporters probed it; unknown otherwise. */
  state: "up" | "down" | "unknown";
}

export interface ProviderFigures {
  node: Address;
  requests: number;
  errors: number;
  windowSeconds: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
}

export interface ServiceObservation {
  serviceId: string;
  /** Sum over providers of requests / window length (self-reported by each provider). */
  requestsPerSecond: number;
  /** Failed / all calls over every provider's window; undefined without calls. */
  errorRate: number | undefined;
  /** Stake-weighted median of the providers' window quantiles (providers with calls only). */
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  providers: ProviderFigures[];
}

export interface NetworkObservation {
  /** Unix ms of the computation. */
  at: number;
  reporters: number;
  nodes: NodeObservation[];
  services: ServiceObservation[];
}

export interface AggregateOptions {
  /** Stake of each reporter (its node bond); a reporter without weight counts for nothing. */
  weightOf: (node: Address) => bigint;
  /** Nodes to list even when nobody reported on them (e.g. every active registered Xnode). */
  nodes?: readonly Address[] | undefined;
  downBelow?: number | undefined;
  minReporters?: number | undefined;
}

export function aggregateObservations(reports: readonly MetricReport[], now: number, options: AggregateOptions): NetworkObservation {
  const downBelow = options.downBelow ?? DEFAULT_DOWN_BELOW;
  const minReporters = options.minReporters ?? DEFAULT_MIN_REPORTERS;
  const probesOf = new Map<Address, Array<{ reporter: Address; sent: number; ok: number; rttMs: number | undefined }>>();
  for (const node of options.nodes ?? []) probesOf.set(node, []);
  const servedOf = new Map<string, Array<ProviderFigures & { weight: bigint }>>();
  for (const report of reports) {
    const weight = options.weightOf(report.reporter);
    if (weight <= 0n) continue;
    for (const probe of report.probes) {
      // What a node says of itself is not evidence of its availability.
      if (probe.node === report.reporter || probe.sent === 0) continue;
      const list = probesOf.get(probe.node) ?? [];
      list.push({ reporter: report.reporter, sent: probe.sent, ok: probe.ok, rttMs: probe.rttMs });
      probesOf.set(probe.node, list);
    }
    const windowSeconds = (report.windowEnd - report.windowStart) / 1000;
    for (const s of report.services) {
      const list = servedOf.get(s.serviceId) ?? [];
      list.push({ node: report.reporter, requests: s.requests, errors: s.errors, windowSeconds, p50Ms: s.p50Ms, p99Ms: s.p99Ms, weight });
      servedOf.set(s.serviceId, list);
    }
  }

  const nodes: NodeObservation[] = [...probesOf].map(([node, probes]) => {
    const availability = weightedMedian(probes.map((p) => ({ value: p.ok / p.sent, weight: options.weightOf(p.reporter) })));
    // A reporter that got no answer counts as an infinite round trip, so liars alone cannot give a dead node one.
    const rtt = weightedMedian(probes.map((p) => ({ value: p.ok > 0 && p.rttMs !== undefined ? p.rttMs : NO_ANSWER, weight: options.weightOf(p.reporter) })));
    const rttMs = rtt === NO_ANSWER ? undefined : rtt;
    const state = probes.length < minReporters || availability === undefined ? "unknown" : availability < downBelow ? "down" : "up";
    return { node, availability, rttMs, reporters: probes.length, state };
  });
  nodes.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));

  const services: ServiceObservation[] = [...servedOf].map(([serviceId, providers]) => {
    const requests = providers.reduce((sum, p) => sum + p.requests, 0);
    const errors = providers.reduce((sum, p) => sum + p.errors, 0);
    const withCalls = providers.filter((p) => p.requests > 0);
    return {
      serviceId,
      requestsPerSecond: providers.reduce((sum, p) => sum + (p.windowSeconds > 0 ? p.requests / p.windowSeconds : 0), 0),
      errorRate: requests === 0 ? undefined : errors / requests,
      p50Ms: weightedMedian(withCalls.filter((p) => p.p50Ms !== undefined).map((p) => ({ value: p.p50Ms!, weight: p.weight }))),
      p99Ms: weightedMedian(withCalls.filter((p) => p.p99Ms !== undefined).map((p) => ({ value: p.p99Ms!, weight: p.weight }))),
      providers: providers.map(({ weight: _weight, ...figures }) => figures).sort((a, b) => (a.node < b.node ? -1 : 1)),
    };
  });
  services.sort((a, b) => (BigInt(a.serviceId) < BigInt(b.serviceId) ? -1 : 1));
  return { at: now, reporters: reports.filter((r) => options.weightOf(r.reporter) > 0n).length, nodes, services };
}

export interface FaultEvent {
  /** Unix ms when this node's view changed. */
  at: number;
  node: Address;
  kind: "down" | "recovered";
  availability: number | undefined;
  reporters: number;
}

export interface UptimeFigures {
  /** Fraction of the judged time the node was up, since `since`; undefined before the first judgement. */
  uptime: number | undefined;
  since: number | undefined;
  /** Unix ms the current state began. */
  stateSince: number | undefined;
}

/**
 * Follows the aggregated node states over time: the fault log (down / recovered transitions, newest last,
 * bounded) and each node's uptime — the share of judged time it was up. Time judged "unknown" counts for
 * neither. Pure: time comes in with each observation.
 */
export class FaultTracker {
  readonly #log: FaultEvent[] = [];
  readonly #maxEvents: number;
  readonly #nodes = new Map<
    Address,
    { state: NodeObservation["state"]; judged: "up" | "down" | undefined; at: number; since: number | undefined; upMs: number; judgedMs: number; stateSince: number }
  >();

  constructor(maxEvents = 200) {
    this.#maxEvents = maxEvents;
  }

  /** Feeds one aggregation; returns the fault events it caused. */
  observe(view: NetworkObservation): FaultEvent[] {
    const events: FaultEvent[] = [];
    for (const n of view.nodes) {
      const prev = this.#nodes.get(n.node);
      if (prev === undefined) {
        const judged = n.state === "unknown" ? undefined : n.state;
        this.#nodes.set(n.node, { state: n.state, judged, at: view.at, since: judged === undefined ? undefined : view.at, upMs: 0, judgedMs: 0, stateSince: view.at });
        if (n.state === "down") events.push({ at: view.at, node: n.node, kind: "down", availability: n.availability, reporters: n.reporters });
        continue;
      }
      const elapsed = Math.max(0, view.at - prev.at);
      if (prev.state !== "unknown") {
        prev.judgedMs += elapsed;
        if (prev.state === "up") prev.upMs += elapsed;
      }
      if (n.state !== prev.state) prev.stateSince = view.at;
      // "unknown" (too few reports) is no evidence either way: the log compares with the last judgement.
      if (n.state === "down" && prev.judged !== "down") events.push({ at: view.at, node: n.node, kind: "down", availability: n.availability, reporters: n.reporters });
      if (n.state === "up" && prev.judged === "down") events.push({ at: view.at, node: n.node, kind: "recovered", availability: n.availability, reporters: n.reporters });
      if (n.state !== "unknown") {
        prev.judged = n.state;
        prev.since ??= view.at;
      }
      prev.state = n.state;
      prev.at = view.at;
    }
    this.#log.push(...events);
    if (this.#log.length > this.#maxEvents) this.#log.splice(0, this.#log.length - this.#maxEvents);
    return events;
  }

  /** The fault log, oldest first. */
  get log(): readonly FaultEvent[] {
    return this.#log;
  }

  uptimeOf(node: Address): UptimeFigures {
    const n = this.#nodes.get(node);
    if (n === undefined) return { uptime: undefined, since: undefined, stateSince: undefined };
    return { uptime: n.judgedMs === 0 ? (n.state === "unknown" ? undefined : n.state === "up" ? 1 : 0) : n.upMs / n.judgedMs, since: n.since, stateSince: n.stateSince };
  }
}
