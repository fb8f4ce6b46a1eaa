/**
 * Proof of Resource on one Xnode (DESIGN §6, docs/proof-of-resource.md): every interval it challenges the
 * active Xnode it has waited longest to challenge, sized to the CPU that node advertises in the
 * XnodeRegistry, judges the answer (resource-proof-verdict.ts) and keeps the latest verdict per node and a
 * log of failures. The I/O shell around the pure sizing and judging: timers and the libp2p exchange live here.
 *
 * Refusals: a prover that is busy with another verifier's challenge, or that this node challenged less than
 * its per-verifier interval ago, or whose chain view does not (yet) list this node, refuses; that is honest
 * and the node is asked again later. Refusing {@link REFUSALS_BEFORE_FAILURE} challenges in a row fails.
 */
import type { PeerId } from "@libp2p/interface";
import type { Address } from "viem";
import type { Logger } from "../log.ts";
import type { ProofFigures } from "../observability/metric-report.ts";
import { DEFAULT_MIN_INTERVAL_PER_VERIFIER_MS, type ResourceProofProtocol } from "./resource-proof-protocol.ts";
import { judgeChallenge, planChallenge, type ChallengePlan, type ChallengeSizing, type ResourceVerdict, type VerdictReason } from "./resource-proof-verdict.ts";

/** Consecutive refusals after which a node's capacity counts as not proven. */
export const REFUSALS_BEFORE_FAILURE = 3;
/** Failures kept in the log. */
export const FAILURE_LOG_SIZE = 100;

/** An Xnode as the chain view knows it: who to challenge and what it claims. */
export interface ProvableNode {
  address: Address;
  peerId: PeerId;
  /** `resources.cpuMillicores` from the XnodeRegistry. */
  cpuMillicores: number;
}

export type ProofState = "proven" | "failed" | "unproven";

export interface NodeProofView {
  node: Address;
  advertisedMillicores: number;
  state: ProofState;
  /** Unix ms of the latest challenge with an answer or a failure (not a deferral). */
  lastVerdictAt: number | undefined;
  /** Why the latest verdict was what it was. */
  reason: VerdictReason | undefined;
  /** Reference millicores the latest answer showed (for a right answer, late or not). */
  provenMillicores: number | undefined;
  workPerSecond: number | undefined;
  /** The latest challenge: its size and time bound. */
  plan: ChallengePlan | undefined;
  elapsedMs: number | undefined;
  /** Unix ms of the latest passed challenge. */
  provenAt: number | undefined;
  /** Refusals since the latest answer. */
  refusalsInARow: number;
  passed: number;
  failed: number;
}

export interface ProofFailure {
  at: number;
  node: Address;
  reason: VerdictReason;
  detail: string | undefined;
  advertisedMillicores: number;
  provenMillicores: number | undefined;
}

export interface ResourceProofView {
  /** This node's address; it never challenges itself. */
  verifier: Address;
  intervalMs: number;
  sizing: ChallengeSizing;
  nodes: NodeProofView[];
  /** Latest first. */
  failures: ProofFailure[];
}

/** What one challenge came to, as `challengeNow` returns it. */
export interface ChallengeResult {
  node: Address;
  plan: ChallengePlan;
  /** `undefined` when the prover refused and the challenge was deferred (see `refusal`). */
  verdict: ResourceVerdict | undefined;
  refusal: string | undefined;
  elapsedMs: number | undefined;
  detail: string | undefined;
}

export interface ResourceProofServiceInit {
  protocol: Pick<ResourceProofProtocol, "challenge">;
  /** This node's address. */
  self: Address;
  /** Active, bonded Xnodes of the chain view (this node included or not). Read at every interval. */
  nodes: () => readonly ProvableNode[];
  sizing: ChallengeSizing;
  intervalMs: number;
  clock?: (() => number) | undefined;
  logger: Logger;
  metrics?: { verdict(reason: VerdictReason | "deferred"): void } | undefined;
}

interface NodeRecord extends NodeProofView {
  /** Unix ms of the latest challenge sent, answered or not: the rotation's order. */
  lastAttemptAt: number | undefined;
}

function blankRecord(node: ProvableNode): NodeRecord {
  return {
    node: node.address,
    advertisedMillicores: node.cpuMillicores,
    state: "unproven",
    lastVerdictAt: undefined,
    reason: undefined,
    provenMillicores: undefined,
    workPerSecond: undefined,
    plan: undefined,
    elapsedMs: undefined,
    provenAt: undefined,
    refusalsInARow: 0,
    passed: 0,
    failed: 0,
    lastAttemptAt: undefined,
  };
}

export class ResourceProofService {
  readonly #init: ResourceProofServiceInit;
  readonly #clock: () => number;
  readonly #records = new Map<Address, NodeRecord>();
  readonly #failures: ProofFailure[] = [];
  readonly #running = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<unknown> | undefined;

  constructor(init: ResourceProofServiceInit) {
    this.#init = init;
    this.#clock = init.clock ?? Date.now;
  }

  /**
   * Challenges one node per interval until stopped, the first after one interval. Each wait is 1 to 1.5
   * intervals at random, so nodes started together drift apart and rarely make the same prover (or two provers
   * on one machine) compute at once, and never sooner than a prover's per-verifier limit (min(60 s, interval)).
   */
  start(): void {
    if (this.#timer !== undefined || this.#running.signal.aborted) return;
    const loop = (): void => {
      this.#timer = setTimeout(() => {
        this.#inFlight = this.challengeNext()
          .catch((err: unknown) => {
            if (!this.#running.signal.aborted) this.#init.logger.warn({ err }, "resource-proof round failed");
          })
          .finally(() => {
            this.#inFlight = undefined;
            if (!this.#running.signal.aborted) loop();
          });
      }, this.#init.intervalMs * (1 + Math.random() / 2));
      this.#timer.unref();
    };
    loop();
  }

  async stop(): Promise<void> {
    this.#running.abort(new Error("resource-proof service stopped"));
    clearTimeout(this.#timer);
    await this.#inFlight;
  }

  /**
   * The node waited on longest (never challenged first, then by address), skipping nodes challenged less than a
   * prover's per-verifier interval ago (they would refuse as rate-limited); `undefined` when there is none.
   */
  nextTarget(): ProvableNode | undefined {
    let best: ProvableNode | undefined;
    let bestAt = Infinity;
    const now = this.#clock();
    for (const node of this.#init.nodes()) {
      if (node.address === this.#init.self) continue;
      const at = this.#records.get(node.address)?.lastAttemptAt ?? -Infinity;
      if (now - at < DEFAULT_MIN_INTERVAL_PER_VERIFIER_MS) continue;
      if (at < bestAt || (at === bestAt && best !== undefined && node.address < best.address)) {
        best = node;
        bestAt = at;
      }
    }
    return best;
  }

  /** Challenges the next node in the rotation; `undefined` when there is no other active node. */
  async challengeNext(): Promise<ChallengeResult | undefined> {
    const target = this.nextTarget();
    return target === undefined ? undefined : this.challenge(target);
  }

  /** Challenges `node` now (the CLI's `dsmp node prove`), whatever the rotation says. */
  async challenge(node: ProvableNode, signal?: AbortSignal): Promise<ChallengeResult> {
    const plan = planChallenge(node.cpuMillicores, this.#init.sizing);
    const record = this.#record(node);
    record.lastAttemptAt = this.#clock();
    const outcome = await this.#init.protocol.challenge(node.peerId, plan, signal === undefined ? this.#running.signal : AbortSignal.any([signal, this.#running.signal]));
    const now = this.#clock();
    if (outcome.kind === "refused" && outcome.status === "rate-limited") {
      // This node asked too soon (a `challenge` on demand, or the prover's clock): not the prover's fault.
      this.#init.metrics?.verdict("deferred");
      return { node: node.address, plan, verdict: undefined, refusal: outcome.status, elapsedMs: undefined, detail: undefined };
    }
    if (outcome.kind === "refused") {
      record.refusalsInARow += 1;
      if (record.refusalsInARow < REFUSALS_BEFORE_FAILURE) {
        this.#init.metrics?.verdict("deferred");
        this.#init.logger.debug({ node: node.address, status: outcome.status }, "resource-proof challenge refused; asking again later");
        return { node: node.address, plan, verdict: undefined, refusal: outcome.status, elapsedMs: undefined, detail: undefined };
      }
    } else {
      record.refusalsInARow = 0;
    }
    const verdict = judgeChallenge(plan, outcome, this.#init.sizing);
    const elapsedMs = outcome.kind === "answered" ? outcome.elapsedMs : undefined;
    const detail = outcome.kind === "refused" ? `refused ${record.refusalsInARow} challenges in a row (latest: ${outcome.status})` : "error" in outcome ? outcome.error : undefined;
    Object.assign(record, {
      advertisedMillicores: node.cpuMillicores,
      lastVerdictAt: now,
      reason: verdict.reason,
      provenMillicores: verdict.provenMillicores,
      workPerSecond: verdict.workPerSecond,
      plan,
      elapsedMs,
    });
    if (verdict.passed) {
      record.state = "proven";
      record.provenAt = now;
      record.passed += 1;
    } else {
      record.state = "failed";
      record.failed += 1;
      this.#failures.unshift({ at: now, node: node.address, reason: verdict.reason, detail, advertisedMillicores: node.cpuMillicores, provenMillicores: verdict.provenMillicores });
      this.#failures.length = Math.min(this.#failures.length, FAILURE_LOG_SIZE);
      this.#init.logger.warn(
        { node: node.address, reason: verdict.reason, detail, advertisedMillicores: node.cpuMillicores, provenMillicores: verdict.provenMillicores, elapsedMs, deadlineMs: plan.deadlineMs },
        "resource proof failed",
      );
    }
    this.#init.metrics?.verdict(verdict.reason);
    return { node: node.address, plan, verdict, refusal: undefined, elapsedMs, detail };
  }

  #record(node: ProvableNode): NodeRecord {
    let record = this.#records.get(node.address);
    if (record === undefined) {
      record = blankRecord(node);
      this.#records.set(node.address, record);
    }
    return record;
  }

  /**
   * The latest verdict on each node, at most `maxAgeMs` old, as Open Observability reports carry them
   * (docs/protocol.md §11.2): the network aggregates them by stake.
   */
  reportable(maxAgeMs: number): ProofFigures[] {
    const oldest = this.#clock() - maxAgeMs;
    const figures: ProofFigures[] = [];
    for (const record of this.#records.values()) {
      if (record.lastVerdictAt === undefined || record.lastVerdictAt < oldest || record.reason === undefined) continue;
      figures.push({
        node: record.node,
        at: record.lastVerdictAt,
        passed: record.reason === "proven",
        advertisedMillicores: record.advertisedMillicores,
        ...(record.provenMillicores === undefined ? {} : { provenMillicores: record.provenMillicores }),
      });
    }
    // The newest first: a report carries at most 128.
    return figures.sort((a, b) => b.at - a.at);
  }

  /** Every active Xnode but this one, with what this node has proven of it; the failure log. */
  view(): ResourceProofView {
    const nodes: NodeProofView[] = [];
    for (const node of this.#init.nodes()) {
      if (node.address === this.#init.self) continue;
      const { lastAttemptAt: _, ...record } = this.#records.get(node.address) ?? blankRecord(node);
      // A node that raised its advertised CPU since it was proven has not proven the new figure.
      const stale = record.state === "proven" && node.cpuMillicores > record.advertisedMillicores;
      nodes.push({ ...record, advertisedMillicores: node.cpuMillicores, state: stale ? "unproven" : record.state });
    }
    nodes.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    return { verifier: this.#init.self, intervalMs: this.#init.intervalMs, sizing: this.#init.sizing, nodes, failures: [...this.#failures] };
  }
}
