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
  /** Stake-weighted median over reporters of (successful probes / probes sent), from each one's latest probe of it. */
  availability: number | undefined;
  /**
   * Stake-weighted median over reporters of their median round trip (ms), a reporter without an answer
   * counting as infinite; undefined when that median is infinite.
   */
  rttMs: number | undefined;
  /** Reporters with a fresh probe of this node. */
  reporters: number;
  /**
   * `up` / `down` when reporters holding more than half of the reporting stake say so (availability ≥ or <
   * `downBelow`), and those reporters hold more than half of the stake of every eligible node but this one, and
   * they are at least `minReporters`; `unknown` otherwise (too few reports, or a split).
   */
  state: "up" | "down" | "unknown";
  /** Proof of Resource as the other nodes checked it (their latest verdicts carried in their reports). */
  proof: NodeProofObservation;
}

/**
 * The other nodes' latest fresh Proof of Resource verdicts on one Xnode, weighted by their stake: `proven` when
 * checkers holding more than half of the checking stake passed it (for at least the CPU it advertises now),
 * `failed` when more than half failed it, `disputed` on a split — and only when the checkers hold more than
 * two thirds of the stake of every eligible node but this one (then liars holding less than a third cannot
 * outvote the honest checkers) and number at least `minReporters`; `unchecked` otherwise. A pass for less CPU
 * than the node advertises now counts as no verdict.
 */
export interface NodeProofObservation {
  state: "proven" | "failed" | "disputed" | "unchecked";
  /** Nodes whose fresh verdict counted. */
  checkers: number;
  /** Stake-weighted median of the reference millicores the right answers showed. */
  shownMillicores: number | undefined;
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
  /** Sum over providers of requests / window length: what the providers claim (self-reported). */
  requestsPerSecond: number;
  /** Stake-weighted median of the providers' error ratios (providers with calls); undefined without calls. */
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
  /**
   * The eligible (active, bonded) Xnodes. When given: every one is listed, even without reports; probes of any
   * other address are ignored; and a node is judged only when its reporters hold more than half of the stake
   * of the others. Without it (tests of the medians alone) every probed address counts and no stake quorum applies.
   */
  nodes?: readonly Address[] | undefined;
  /** Service ids that exist (active in the registry); figures for other ids are ignored. Absent: all count. */
  services?: ReadonlySet<string> | undefined;
  downBelow?: number | undefined;
  minReporters?: number | undefined;
  /** CPU each node advertises now (millicores): a verdict on less does not prove it. Absent: every pass counts. */
  advertisedOf?: ((node: Address) => number | undefined) | undefined;
  /**
   * Verdicts older than this do not count (ms). @default {@link DEFAULT_PROOF_MAX_AGE_MS}; a node sets it to
   * cover two rounds of every checker's rotation (2 × nodes × interval) so a quorum of checkers can be fresh.
   */
  proofMaxAgeMs?: number | undefined;
}

/** A Proof of Resource verdict counts for this long (15 min: several rounds of every node's rotation). */
export const DEFAULT_PROOF_MAX_AGE_MS = 15 * 60_000;

function judgeProofs(
  verdicts: ReadonlyArray<{ passed: boolean; provenMillicores: number | undefined; weight: bigint }>,
  minReporters: number,
  /** Stake of every eligible node but the judged one; undefined: no quorum applies. */
  othersWeight: bigint | undefined,
): NodeProofObservation {
  const shownMillicores = weightedMedian(verdicts.filter((v) => v.provenMillicores !== undefined).map((v) => ({ value: v.provenMillicores!, weight: v.weight })));
  const total = verdicts.reduce((sum, v) => sum + v.weight, 0n);
  const passed = verdicts.reduce((sum, v) => sum + (v.passed ? v.weight : 0n), 0n);
  const quorum = othersWeight === undefined || 3n * total > 2n * othersWeight;
  let state: NodeProofObservation["state"] = "unchecked";
  if (verdicts.length >= minReporters && total > 0n && quorum) state = 2n * passed > total ? "proven" : 2n * (total - passed) > total ? "failed" : "disputed";
  return { state, checkers: verdicts.length, shownMillicores };
}

export function aggregateObservations(reports: readonly MetricReport[], now: number, options: AggregateOptions): NetworkObservation {
  const downBelow = options.downBelow ?? DEFAULT_DOWN_BELOW;
  const minReporters = options.minReporters ?? DEFAULT_MIN_REPORTERS;
  const registered = options.nodes === undefined ? undefined : new Set(options.nodes);
  const eligibleWeight = (options.nodes ?? []).reduce((sum, n) => sum + options.weightOf(n), 0n);
  const probesOf = new Map<Address, Array<{ reporter: Address; sent: number; ok: number; rttMs: number | undefined }>>();
  for (const node of options.nodes ?? []) probesOf.set(node, []);
  const servedOf = new Map<string, Array<ProviderFigures & { weight: bigint }>>();
  const proofMaxAgeMs = options.proofMaxAgeMs ?? DEFAULT_PROOF_MAX_AGE_MS;
  const verdictsOf = new Map<Address, Array<{ passed: boolean; provenMillicores: number | undefined; weight: bigint }>>();
  let reporters = 0;
  for (const report of reports) {
    const weight = options.weightOf(report.reporter);
    if (weight <= 0n) continue;
    reporters += 1;
    for (const probe of report.probes) {
      // What a node says of itself is not evidence of its availability; addresses outside the registry are noise.
      if (probe.node === report.reporter || probe.sent === 0 || (registered !== undefined && !registered.has(probe.node))) continue;
      const list = probesOf.get(probe.node) ?? [];
      list.push({ reporter: report.reporter, sent: probe.sent, ok: probe.ok, rttMs: probe.rttMs });
      probesOf.set(probe.node, list);
    }
    for (const proof of report.proofs ?? []) {
      // Like probes: not of itself, only of registered nodes, and only fresh verdicts (none from the future).
      if (proof.node === report.reporter || (registered !== undefined && !registered.has(proof.node))) continue;
      if (proof.at < now - proofMaxAgeMs || proof.at > report.windowEnd) continue;
      const advertised = options.advertisedOf?.(proof.node);
      if (proof.passed && advertised !== undefined && proof.advertisedMillicores < advertised) continue;
      const list = verdictsOf.get(proof.node) ?? [];
      list.push({ passed: proof.passed, provenMillicores: proof.provenMillicores, weight });
      verdictsOf.set(proof.node, list);
    }
    const windowSeconds = (report.windowEnd - report.windowStart) / 1000;
    for (const s of report.services) {
      if (options.services !== undefined && !options.services.has(s.serviceId)) continue;
      const list = servedOf.get(s.serviceId) ?? [];
      list.push({ node: report.reporter, requests: s.requests, errors: s.errors, windowSeconds, p50Ms: s.p50Ms, p99Ms: s.p99Ms, weight });
      servedOf.set(s.serviceId, list);
    }
  }

  const nodes: NodeObservation[] = [...probesOf].map(([node, probes]) => {
    const weighted = probes.map((p) => ({ ...p, weight: options.weightOf(p.reporter) }));
    const availability = weightedMedian(weighted.map((p) => ({ value: p.ok / p.sent, weight: p.weight })));
    // A reporter that got no answer counts as an infinite round trip, so liars alone cannot give a dead node one.
    const rtt = weightedMedian(weighted.map((p) => ({ value: p.ok > 0 && p.rttMs !== undefined ? p.rttMs : NO_ANSWER, weight: p.weight })));
    const rttMs = rtt === NO_ANSWER ? undefined : rtt;
    const reporting = weighted.reduce((sum, p) => sum + p.weight, 0n);
    const saysDown = weighted.reduce((sum, p) => sum + (p.ok / p.sent < downBelow ? p.weight : 0n), 0n);
    const quorum = options.nodes === undefined || 2n * reporting > eligibleWeight - options.weightOf(node);
    let state: NodeObservation["state"] = "unknown";
    if (probes.length >= minReporters && reporting > 0n && quorum) {
      if (2n * saysDown > reporting) state = "down";
      else if (2n * (reporting - saysDown) > reporting) state = "up";
    }
    return { node, availability, rttMs, reporters: probes.length, state, proof: judgeProofs(verdictsOf.get(node) ?? [], minReporters, options.nodes === undefined ? undefined : eligibleWeight - options.weightOf(node)) };
  });
  nodes.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));

  const services: ServiceObservation[] = [...servedOf].map(([serviceId, providers]) => {
    const withCalls = providers.filter((p) => p.requests > 0);
    return {
      serviceId,
      requestsPerSecond: providers.reduce((sum, p) => sum + (p.windowSeconds > 0 ? p.requests / p.windowSeconds : 0), 0),
      errorRate: weightedMedian(withCalls.map((p) => ({ value: p.errors / p.requests, weight: p.weight }))),
      p50Ms: weightedMedian(withCalls.filter((p) => p.p50Ms !== undefined).map((p) => ({ value: p.p50Ms!, weight: p.weight }))),
      p99Ms: weightedMedian(withCalls.filter((p) => p.p99Ms !== undefined).map((p) => ({ value: p.p99Ms!, weight: p.weight }))),
      providers: providers.map(({ weight: _weight, ...figures }) => figures).sort((a, b) => (a.node < b.node ? -1 : 1)),
    };
  });
  services.sort((a, b) => (BigInt(a.serviceId) < BigInt(b.serviceId) ? -1 : 1));
  return { at: now, reporters, nodes, services };
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

  /** Feeds one aggregation; returns the fault events it caused. Nodes absent from it are forgotten. */
  observe(view: NetworkObservation): FaultEvent[] {
    const events: FaultEvent[] = [];
    const present = new Set(view.nodes.map((n) => n.node));
    for (const node of this.#nodes.keys()) if (!present.has(node)) this.#nodes.delete(node);
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

  /** The fault log, oldest first (a copy). */
  get log(): FaultEvent[] {
    return [...this.#log];
  }

  uptimeOf(node: Address): UptimeFigures {
    const n = this.#nodes.get(node);
    if (n === undefined) return { uptime: undefined, since: undefined, stateSince: undefined };
    return { uptime: n.judgedMs === 0 ? (n.state === "unknown" ? undefined : n.state === "up" ? 1 : 0) : n.upMs / n.judgedMs, since: n.since, stateSince: n.stateSince };
  }
}
