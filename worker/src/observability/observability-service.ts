/**
 * Open Observability on one Xnode (DESIGN §7, docs/observability.md): every interval it pings a rotating
 * sample of the other active Xnodes, closes its observation window (those probes and the calls it served),
 * signs it and publishes it on gossipsub. Received reports are judged in a gossipsub topic validator — cheap
 * checks first, the signature last — so gossipsub neither delivers nor forwards what fails
 * (docs/protocol.md §11.3); the accepted ones feed the network view (aggregate-observations.ts) and the fault
 * log. The I/O shell around the pure modules of this directory: timers, libp2p ping and gossipsub live here.
 */
import { TopicValidatorResult, type GossipSub, type Message } from "@libp2p/gossipsub";
import type { PeerId } from "@libp2p/interface";
import type { Address, LocalAccount } from "viem";
import { MetricReportInvalidError, type MetricReportInvalidReason } from "../errors.ts";
import type { Logger } from "../log.ts";
import { aggregateObservations, FaultTracker, type FaultEvent, type NetworkObservation, type NodeObservation } from "./aggregate-observations.ts";
import {
  METRIC_REPORT_MAX_PROOFS,
  observabilityTopic,
  parseMetricReport,
  signMetricReport,
  verifyMetricReport,
  type MetricReport,
  type ObservabilityDomain,
  type ProofFigures,
} from "./metric-report.ts";
import { ObservationWindow } from "./observation-window.ts";
import { ReportBook, type ReportBookOptions } from "./report-book.ts";

/** How often a node probes, reports and recomputes its view (ms). */
export const DEFAULT_REPORT_INTERVAL_MS = 5_000;
/** Bound on one liveness probe (ms). */
export const DEFAULT_PROBE_TIMEOUT_MS = 2_000;
/** Nodes probed per interval; the sample rotates so every node is probed in turn. */
export const DEFAULT_PROBES_PER_INTERVAL = 16;

const NO_PEERS: ReadonlySet<string> = new Set();

/** Refusals that prove the sender misbehaved (gossipsub lowers its score); the others may be honest lag. */
const REJECTED: ReadonlySet<MetricReportInvalidReason> = new Set(["too-large", "malformed", "wrong-chain", "wrong-author", "bad-signature"]);

/** An Xnode as the chain view knows it: the reporters and the probe targets. */
export interface ObservedNode {
  /** Checksummed (viem `getAddress`), as reports name their reporter and probed nodes. */
  address: Address;
  peerId: PeerId;
  /** Its bond: the weight of its reports. */
  weight: bigint;
}

export interface ObservabilityServiceInit {
  /** The chain and deployment (XnodeRegistry) reports are signed for. */
  domain: ObservabilityDomain;
  /** This node's key: signs its reports. */
  account: LocalAccount;
  pubsub: Pick<GossipSub, "subscribe" | "unsubscribe" | "publish" | "topicValidators">;
  /** Round trip to a peer in ms (libp2p ping; dials if needed). */
  ping: (peer: PeerId, options: { signal: AbortSignal }) => Promise<number>;
  /** Active registered Xnodes with a bond (this node included or not). Read at every interval and per report. */
  nodes: () => readonly ObservedNode[];
  /** This node's latest Proof of Resource verdicts on other nodes, carried in each report (absent: none). */
  proofs?: (() => readonly ProofFigures[]) | undefined;
  /** How long a Proof of Resource verdict counts (ms); read at each recompute. @default 15 min */
  proofMaxAgeMs?: (() => number) | undefined;
  /** CPU each node advertises now (millicores): a pass for less does not count as proving it. */
  advertisedOf?: ((node: Address) => number | undefined) | undefined;
  /** Ids of the services that exist (active in the registry); reported figures of other ids are ignored. */
  services?: (() => ReadonlySet<string>) | undefined;
  intervalMs?: number | undefined;
  probeTimeoutMs?: number | undefined;
  probesPerInterval?: number | undefined;
  /** Reporters needed before a node is judged up or down. */
  minReporters?: number | undefined;
  book?: ReportBookOptions | undefined;
  /** Wall clock (unix ms) and monotonic clock (ms); tests inject both. */
  clock?: (() => number) | undefined;
  monotonicClock?: (() => number) | undefined;
  logger: Logger;
  metrics?:
    | {
        received(outcome: "accepted" | MetricReportInvalidReason): void;
        published(outcome: "published" | "no-peers" | "failed"): void;
        probed(ok: boolean): void;
        fault(event: FaultEvent): void;
      }
    | undefined;
}

export interface ObservedNodeView extends NodeObservation {
  uptime: number | undefined;
  /** Unix ms since when this node has judged it. */
  uptimeSince: number | undefined;
}

export interface ObservabilityView extends Omit<NetworkObservation, "nodes"> {
  /** This node's own address: it never probes itself; it is listed with what the others say of it. */
  observer: Address;
  intervalMs: number;
  nodes: ObservedNodeView[];
  faults: FaultEvent[];
}

export class ObservabilityService {
  readonly #init: ObservabilityServiceInit;
  readonly #topic: string;
  readonly #clock: () => number;
  readonly #monotonic: () => number;
  readonly #intervalMs: number;
  readonly #book: ReportBook;
  readonly #faults = new FaultTracker();
  readonly #window: ObservationWindow;
  #view: NetworkObservation;
  #timer: ReturnType<typeof setInterval> | undefined;
  #tick: Promise<void> | undefined;
  #stop = new AbortController();
  #rotation: number;
  #downPeers: ReadonlySet<string> = new Set();

  constructor(init: ObservabilityServiceInit) {
    this.#init = init;
    this.#topic = observabilityTopic(init.domain.chainId);
    this.#clock = init.clock ?? Date.now;
    this.#monotonic = init.monotonicClock ?? (() => performance.now());
    this.#intervalMs = init.intervalMs ?? DEFAULT_REPORT_INTERVAL_MS;
    this.#book = new ReportBook(init.book);
    this.#window = new ObservationWindow(this.#monotonic());
    this.#view = { at: this.#clock(), reporters: 0, nodes: [], services: [] };
    // Start the rotation at a place of our own: nodes that all started at 0 would probe the same slice at once.
    this.#rotation = Number.parseInt(init.account.address.slice(-8), 16);
  }

  get topic(): string {
    return this.#topic;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#stop = new AbortController();
    this.#init.pubsub.topicValidators.set(this.#topic, (peer, message) => this.validate(peer, message));
    this.#init.pubsub.subscribe(this.#topic);
    this.#timer = setInterval(() => {
      // One interval at a time: a slow probe round delays the next report instead of overlapping it.
      this.#tick ??= this.runInterval()
        .catch((err: unknown) => this.#init.logger.error({ err }, "observability interval failed; the next one tries again"))
        .finally(() => (this.#tick = undefined));
    }, this.#intervalMs);
  }

  /** Stops the timer, aborts running probes and leaves the topic. Idempotent; {@link start} may follow. */
  async stop(): Promise<void> {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#stop.abort();
    await this.#tick?.catch(() => undefined);
    this.#init.pubsub.unsubscribe(this.#topic);
    if (this.#init.pubsub.topicValidators.get(this.#topic) !== undefined) this.#init.pubsub.topicValidators.delete(this.#topic);
  }

  /** A call this node served ended (provider side): feeds the current window. */
  served(serviceId: string, failed: boolean, durationMs: number): void {
    this.#window.served(serviceId, failed, durationMs);
  }

  /** One interval: probe, close the window, sign and publish it, recompute the view. Exposed for tests. */
  async runInterval(): Promise<void> {
    const signal = this.#stop.signal;
    const self = this.#init.account.address;
    const nodes = this.#init.nodes();
    await this.#probe(nodes.filter((n) => n.address !== self), signal);
    if (signal.aborted) return;
    const closed = this.#window.take(this.#clock(), this.#monotonic());
    const proofs = this.#init.proofs?.() ?? [];
    const report: MetricReport = { chainId: this.#init.domain.chainId, reporter: self, ...closed, ...(proofs.length > 0 ? { proofs: proofs.slice(0, METRIC_REPORT_MAX_PROOFS) } : {}) };
    // Gossipsub does not deliver a node's own messages to it: its own report enters its book here (if it has a
    // bond, like anyone else's).
    if (nodes.some((n) => n.address === self && n.weight > 0n)) {
      try {
        this.#book.accept(report, () => true, this.#clock());
      } catch (err) {
        this.#init.logger.warn({ err }, "own observability report not recorded (did the wall clock step back?)");
      }
    }
    try {
      const bytes = await signMetricReport(this.#init.account, this.#init.domain.registry, report);
      await this.#init.pubsub.publish(this.#topic, bytes);
      this.#init.metrics?.published("published");
    } catch (err) {
      // Gossipsub refuses to publish before any peer joined the topic; the next interval tries again.
      const noPeers = err instanceof Error && /NoPeersSubscribedToTopic|no peers/i.test(`${err.name} ${err.message}`);
      this.#init.metrics?.published(noPeers ? "no-peers" : "failed");
      if (!noPeers) this.#init.logger.warn({ err }, "publishing the observability report failed; the next interval tries again");
    }
    this.#recompute(nodes);
  }

  /**
   * The gossipsub topic validator (exposed for tests): judges one received report, cheapest checks first and
   * the signature recovery last, and records it when it passes. Never throws.
   */
  async validate(_peer: PeerId, message: Message): Promise<TopicValidatorResult> {
    try {
      const parsed = parseMetricReport(message.data, this.#init.domain.chainId);
      const nodes = this.#init.nodes();
      const reporter = nodes.find((n) => n.address === parsed.report.reporter && n.weight > 0n);
      this.#book.check(parsed.report, () => reporter !== undefined, this.#clock());
      // Under StrictSign the message's author is a node key: it must be the reporter's own (no relayed copies).
      if (message.type !== "signed" || !message.from.equals(reporter!.peerId)) {
        throw new MetricReportInvalidError("wrong-author", `published by ${message.type === "signed" ? message.from.toString() : "nobody (unsigned)"}, not by ${parsed.report.reporter}`);
      }
      const report = await verifyMetricReport(parsed, this.#init.domain);
      this.#book.accept(report, () => true, this.#clock());
      this.#init.metrics?.received("accepted");
      return TopicValidatorResult.Accept;
    } catch (err) {
      if (!(err instanceof MetricReportInvalidError)) {
        this.#init.logger.error({ err }, "judging an observability report failed");
        return TopicValidatorResult.Ignore;
      }
      this.#init.metrics?.received(err.reason);
      this.#init.logger.debug({ reason: err.reason, details: err.details }, "observability report dropped");
      return REJECTED.has(err.reason) ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore;
    }
  }

  /**
   * PeerIds (as strings) of the Xnodes the current view judges `down`: a gateway routes around them while
   * another provider remains (node.ts), before its own breakers have seen a failure.
   */
  downPeers(): ReadonlySet<string> {
    // A view that stopped being recomputed (stopped, or intervals stalled) says nothing about now.
    if (this.#timer === undefined || this.#clock() - this.#view.at > 3 * this.#intervalMs) return NO_PEERS;
    return this.#downPeers;
  }

  /** The current network view: nodes (with uptime), services, the fault log. */
  view(): ObservabilityView {
    return {
      ...this.#view,
      observer: this.#init.account.address,
      intervalMs: this.#intervalMs,
      nodes: this.#view.nodes.map((n) => {
        const u = this.#faults.uptimeOf(n.node);
        return { ...n, uptime: u.uptime, uptimeSince: u.since };
      }),
      faults: this.#faults.log,
    };
  }

  async #probe(others: readonly ObservedNode[], stop: AbortSignal): Promise<void> {
    if (others.length === 0) return;
    const count = Math.min(others.length, this.#init.probesPerInterval ?? DEFAULT_PROBES_PER_INTERVAL);
    const targets = Array.from({ length: count }, (_, i) => others[(this.#rotation + i) % others.length]!);
    this.#rotation = (this.#rotation + count) % others.length;
    const timeoutMs = this.#init.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    await Promise.all(
      targets.map(async (target) => {
        const signal = AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]);
        let rtt: number | undefined;
        try {
          rtt = await this.#init.ping(target.peerId, { signal });
        } catch {
          rtt = undefined;
        }
        if (stop.aborted) return;
        this.#window.probed(target.address, rtt);
        this.#init.metrics?.probed(rtt !== undefined);
      }),
    );
  }

  #recompute(nodes: readonly ObservedNode[]): void {
    const weights = new Map(nodes.map((n) => [n.address, n.weight]));
    this.#view = aggregateObservations(this.#book.current(this.#clock()), this.#clock(), {
      weightOf: (address) => weights.get(address) ?? 0n,
      nodes: nodes.filter((n) => n.weight > 0n).map((n) => n.address),
      services: this.#init.services?.(),
      minReporters: this.#init.minReporters,
      advertisedOf: this.#init.advertisedOf,
      proofMaxAgeMs: this.#init.proofMaxAgeMs?.(),
    });
    const peerOf = new Map(nodes.map((n) => [n.address, n.peerId]));
    this.#downPeers = new Set(this.#view.nodes.flatMap((n) => (n.state === "down" && peerOf.has(n.node) ? [peerOf.get(n.node)!.toString()] : [])));
    for (const event of this.#faults.observe(this.#view)) {
      this.#init.metrics?.fault(event);
      this.#init.logger.info({ node: event.node, kind: event.kind, availability: event.availability, reporters: event.reporters }, `observed node ${event.kind}`);
    }
  }
}
