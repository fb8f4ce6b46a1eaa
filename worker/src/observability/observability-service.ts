/**
 * Open Observability on one Xnode (DESIGN §7, docs/observability.md): every interval it pings a rotating
 * sample of the other active Xnodes, closes its observation window (those probes and the calls it served),
 * signs it and publishes it on gossipsub; it verifies every report it receives (report-book.ts), and
 * recomputes the network view (aggregate-observations.ts) and the fault log. The I/O shell around the pure
 * modules of this directory: timers, libp2p ping and gossipsub live here, nothing else does.
 */
import type { GossipSub, Message } from "@libp2p/gossipsub";
import type { PeerId } from "@libp2p/interface";
import type { Address, LocalAccount } from "viem";
import { MetricReportInvalidError, type MetricReportInvalidReason } from "../errors.ts";
import type { Logger } from "../log.ts";
import { aggregateObservations, FaultTracker, type FaultEvent, type NetworkObservation, type NodeObservation } from "./aggregate-observations.ts";
import { observabilityTopic, openMetricReport, signMetricReport } from "./metric-report.ts";
import { ObservationWindow } from "./observation-window.ts";
import { ReportBook, type ReportBookOptions } from "./report-book.ts";

/** How often a node probes, reports and recomputes its view (ms). */
export const DEFAULT_REPORT_INTERVAL_MS = 5_000;
/** Bound on one liveness probe (ms). */
export const DEFAULT_PROBE_TIMEOUT_MS = 2_000;
/** Nodes probed per interval; the sample rotates so every node is probed in turn. */
export const DEFAULT_PROBES_PER_INTERVAL = 16;

/** An Xnode as the chain view knows it: the reporters and the probe targets. */
export interface ObservedNode {
  /** Checksummed (viem `getAddress`), as reports name their reporter and probed nodes. */
  address: Address;
  peerId: PeerId;
  /** Its bond: the weight of its reports. */
  weight: bigint;
}

export interface ObservabilityServiceInit {
  chainId: number;
  /** This node's key: signs its reports. */
  account: LocalAccount;
  pubsub: Pick<GossipSub, "subscribe" | "unsubscribe" | "publish" | "addEventListener" | "removeEventListener">;
  /** Round trip to a peer in ms (libp2p ping; dials if needed). */
  ping: (peer: PeerId, options: { signal: AbortSignal }) => Promise<number>;
  /** Active registered Xnodes with a bond (this node included or not). Read at every interval. */
  nodes: () => readonly ObservedNode[];
  intervalMs?: number | undefined;
  probeTimeoutMs?: number | undefined;
  probesPerInterval?: number | undefined;
  /** Reporters needed before a node is judged up or down. */
  minReporters?: number | undefined;
  book?: ReportBookOptions | undefined;
  clock?: (() => number) | undefined;
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
  /** This node's own address: it never probes itself; it is listed when other nodes probed it. */
  observer: Address;
  intervalMs: number;
  nodes: ObservedNodeView[];
  faults: readonly FaultEvent[];
}

export class ObservabilityService {
  readonly #init: ObservabilityServiceInit;
  readonly #topic: string;
  readonly #clock: () => number;
  readonly #intervalMs: number;
  readonly #book: ReportBook;
  readonly #faults = new FaultTracker();
  readonly #window: ObservationWindow;
  #view: NetworkObservation;
  #timer: ReturnType<typeof setInterval> | undefined;
  #tick: Promise<void> | undefined;
  readonly #stop = new AbortController();
  #rotation = 0;
  readonly #onMessage = (evt: CustomEvent<Message>): void => {
    if (evt.detail.topic !== this.#topic) return;
    void this.#receive(evt.detail.data);
  };

  constructor(init: ObservabilityServiceInit) {
    this.#init = init;
    this.#topic = observabilityTopic(init.chainId);
    this.#clock = init.clock ?? Date.now;
    this.#intervalMs = init.intervalMs ?? DEFAULT_REPORT_INTERVAL_MS;
    this.#book = new ReportBook(init.book);
    this.#window = new ObservationWindow(this.#clock());
    this.#view = { at: this.#clock(), reporters: 0, nodes: [], services: [] };
  }

  get topic(): string {
    return this.#topic;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#init.pubsub.subscribe(this.#topic);
    this.#init.pubsub.addEventListener("message", this.#onMessage);
    this.#timer = setInterval(() => {
      // One interval at a time: a slow probe round delays the next report instead of overlapping it.
      this.#tick ??= this.runInterval().finally(() => (this.#tick = undefined));
    }, this.#intervalMs);
  }

  /** Stops the timer, aborts running probes and leaves the topic. Idempotent. */
  async stop(): Promise<void> {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#stop.abort();
    await this.#tick?.catch(() => undefined);
    this.#init.pubsub.removeEventListener("message", this.#onMessage);
    this.#init.pubsub.unsubscribe(this.#topic);
  }

  /** A call this node served ended (provider side): feeds the current window. */
  served(serviceId: string, failed: boolean, durationMs: number): void {
    this.#window.served(serviceId, failed, durationMs);
  }

  /** One interval: probe, close the window, sign and publish it, recompute the view. Exposed for tests. */
  async runInterval(): Promise<void> {
    const self = this.#init.account.address;
    const others = this.#init.nodes().filter((n) => n.address !== self);
    await this.#probe(others);
    if (this.#stop.signal.aborted) return;
    const closed = this.#window.take(this.#clock());
    const report = { chainId: this.#init.chainId, reporter: self, ...closed };
    // Gossipsub does not deliver a node's own messages to it: its own report enters its book here (if it has a
    // bond, like anyone else's).
    if (this.#init.nodes().some((n) => n.address === self && n.weight > 0n)) {
      try {
        this.#book.accept(report, () => true, this.#clock());
      } catch (err) {
        this.#init.logger.warn({ err }, "own observability report not recorded");
      }
    }
    try {
      const bytes = await signMetricReport(this.#init.account, report);
      await this.#init.pubsub.publish(this.#topic, bytes);
      this.#init.metrics?.published("published");
    } catch (err) {
      // Gossipsub refuses to publish before any peer joined the topic; the next interval tries again.
      const noPeers = err instanceof Error && /NoPeersSubscribedToTopic|no peers/i.test(`${err.name} ${err.message}`);
      this.#init.metrics?.published(noPeers ? "no-peers" : "failed");
      if (!noPeers) this.#init.logger.warn({ err }, "publishing the observability report failed; the next interval tries again");
    }
    this.#recompute();
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

  async #probe(others: readonly ObservedNode[]): Promise<void> {
    if (others.length === 0) return;
    const count = Math.min(others.length, this.#init.probesPerInterval ?? DEFAULT_PROBES_PER_INTERVAL);
    const targets = Array.from({ length: count }, (_, i) => others[(this.#rotation + i) % others.length]!);
    this.#rotation = (this.#rotation + count) % others.length;
    const timeoutMs = this.#init.probeTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    await Promise.all(
      targets.map(async (target) => {
        const signal = AbortSignal.any([this.#stop.signal, AbortSignal.timeout(timeoutMs)]);
        let rtt: number | undefined;
        try {
          rtt = await this.#init.ping(target.peerId, { signal });
        } catch {
          rtt = undefined;
        }
        if (this.#stop.signal.aborted) return;
        this.#window.probed(target.address, rtt);
        this.#init.metrics?.probed(rtt !== undefined);
      }),
    );
  }

  async #receive(data: Uint8Array): Promise<void> {
    try {
      const report = await openMetricReport(data, this.#init.chainId);
      const eligible = new Set(this.#init.nodes().filter((n) => n.weight > 0n).map((n) => n.address));
      this.#book.accept(report, (reporter) => eligible.has(reporter), this.#clock());
      this.#init.metrics?.received("accepted");
    } catch (err) {
      if (!(err instanceof MetricReportInvalidError)) throw err;
      this.#init.metrics?.received(err.reason);
      this.#init.logger.debug({ reason: err.reason, details: err.details }, "observability report dropped");
    }
  }

  #recompute(): void {
    const nodes = this.#init.nodes();
    const weights = new Map(nodes.map((n) => [n.address, n.weight]));
    const self = this.#init.account.address;
    this.#view = aggregateObservations(this.#book.current(this.#clock()), this.#clock(), {
      weightOf: (address) => weights.get(address) ?? 0n,
      nodes: nodes.map((n) => n.address).filter((a) => a !== self),
      minReporters: this.#init.minReporters,
    });
    for (const event of this.#faults.observe(this.#view)) {
      this.#init.metrics?.fault(event);
      this.#init.logger.info({ node: event.node, kind: event.kind, availability: event.availability, reporters: event.reporters }, `observed node ${event.kind}`);
    }
  }
}
