/**
 * What an Xnode needs to know about the chain, folded from the DSMP contracts' events (a `Reducer` for the
 * chain view indexer): registered Xnodes and their PeerIds, operators' stake, services with their pricing and
 * allow-lists, and subscriptions' expiry. Pure: queries take `now` as a value.
 */
import type { Address, Hex } from "viem";
import type { IndexedEvent, Reducer } from "./event-journal.ts";

export type NodeStatus = "active" | "jailed" | "retired";

export interface NodeResources {
  cpuMillicores: number;
  memoryMiB: number;
  storageGiB: number;
  gpus: number;
}

export interface NodeView {
  node: Address;
  operator: Address;
  status: NodeStatus;
  /** libp2p PeerId bytes (identity multihash of the secp256k1 key). */
  peerId: Hex;
  resources: NodeResources;
  slots: number;
  bond: bigint;
  metadataURI: string;
  jailedUntil: bigint;
}

export interface StakeView {
  bonded: bigint;
  locked: bigint;
  unbonding: bigint;
  unbondingReleaseAt: bigint;
  slashed: bigint;
}

export interface ServicePricing {
  perCall: bigint;
  perPeriod: bigint;
  periodSeconds: bigint;
  oneTime: bigint;
  oneTimeDuration: bigint;
}

export interface ServiceView {
  id: bigint;
  owner: Address;
  name: string;
  kind: "http" | "task";
  visibility: "public" | "private";
  status: "active" | "retired";
  pricing: ServicePricing;
  manifestHash: Hex;
  minReplicas: number;
  maxReplicas: number;
  minProviderStake: bigint;
  metadataURI: string;
  allowlistRoot: Hex;
  granted: Set<Address>;
  subscriberCount: bigint;
}

export interface SubscriptionView {
  paidUntil: bigint;
  oneTimeUntil: bigint;
}

/** A consumer's per-call escrow for one service (UsageEscrow.Account), folded from its events. */
export interface EscrowView {
  /** Tokens claims can draw from (a pending withdrawal included until withdrawn). */
  balance: bigint;
  /** Price per call the consumer agreed to at its last deposit (0 = never deposited). */
  pricePerCall: bigint;
  /** Amount requested for withdrawal (0 = none). */
  pendingWithdrawal: bigint;
  /** Unix seconds from which the pending withdrawal can be taken. */
  withdrawableAt: bigint;
}

export type TaskStatus = "pending" | "active" | "finalized" | "refunded";

/** A compute task (TaskManager), folded from its events. */
export interface TaskView {
  id: bigint;
  submitter: Address;
  moduleHash: Hex;
  inputHash: Hex;
  /** Empty: the input is fetched from the submitter's node by hash. */
  inputURI: string;
  resources: NodeResources;
  n: number;
  q: number;
  reward: bigint;
  fee: bigint;
  commitWindow: number;
  revealWindow: number;
  finalDeadline: bigint;
  status: TaskStatus;
  round: number;
  /** Block whose hash seeds the pending draw. */
  drawBlock: bigint;
  /** Node in each slot (lower-case); the zero address while a slot is vacant. */
  committee: Address[];
  /** Current round's deadlines (0 before the first draw). */
  commitDeadline: bigint;
  reportDeadline: bigint;
  /** Slots whose commit was anchored on-chain this round. */
  anchored: Set<number>;
  resultHash: Hex | undefined;
  participants: bigint;
  slashes: { node: Address; reason: number; amount: bigint }[];
}

export interface DsmpState {
  tasks: Map<bigint, TaskView>;
  nodes: Map<Address, NodeView>;
  nodeByPeerId: Map<Hex, Address>;
  stakes: Map<Address, StakeView>;
  services: Map<bigint, ServiceView>;
  subscriptions: Map<string, SubscriptionView>;
  /** Per-call escrows by `serviceId:consumer` (UsageEscrow; empty when the deployment has none). */
  escrows: Map<string, EscrowView>;
  minNodeStake: bigint;
}

const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000" as Address;
const subKey = (serviceId: bigint, consumer: Address) => `${serviceId}:${consumer.toLowerCase()}`;
const lower = (a: Address) => a.toLowerCase() as Address;

function escrowAt(s: DsmpState, serviceId: bigint, consumer: Address): EscrowView {
  const key = subKey(serviceId, consumer);
  let v = s.escrows.get(key);
  if (!v) {
    v = { balance: 0n, pricePerCall: 0n, pendingWithdrawal: 0n, withdrawableAt: 0n };
    s.escrows.set(key, v);
  }
  return v;
}

function stakeOf(s: DsmpState, operator: Address): StakeView {
  const key = lower(operator);
  let v = s.stakes.get(key);
  if (!v) {
    v = { bonded: 0n, locked: 0n, unbonding: 0n, unbondingReleaseAt: 0n, slashed: 0n };
    s.stakes.set(key, v);
  }
  return v;
}

interface RawParams {
  name: string;
  kind: number;
  visibility: number;
  pricing: { perCall: bigint; perPeriod: bigint; periodSeconds: bigint; oneTime: bigint; oneTimeDuration: bigint };
  manifestHash: Hex;
  minReplicas: number;
  maxReplicas: number;
  minProviderStake: bigint;
  metadataURI: string;
}

function applyParams(v: ServiceView, p: RawParams): void {
  v.name = p.name;
  v.kind = p.kind === 0 ? "http" : "task";
  v.visibility = p.visibility === 0 ? "public" : "private";
  v.pricing = {
    perCall: BigInt(p.pricing.perCall),
    perPeriod: BigInt(p.pricing.perPeriod),
    periodSeconds: BigInt(p.pricing.periodSeconds),
    oneTime: BigInt(p.pricing.oneTime),
    oneTimeDuration: BigInt(p.pricing.oneTimeDuration),
  };
  v.manifestHash = p.manifestHash;
  v.minReplicas = Number(p.minReplicas);
  v.maxReplicas = Number(p.maxReplicas);
  v.minProviderStake = BigInt(p.minProviderStake);
  v.metadataURI = p.metadataURI;
}

type Handler = (s: DsmpState, a: Record<string, any>) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

const handlers: Record<string, Record<string, Handler>> = {
  Staking: {
    Staked: (s, a) => void (stakeOf(s, a.operator).bonded = a.bonded),
    UnbondRequested: (s, a) => {
      const v = stakeOf(s, a.operator);
      v.bonded -= a.amount;
      v.unbonding = a.unbonding;
      v.unbondingReleaseAt = BigInt(a.releaseAt);
    },
    Withdrawn: (s, a) => {
      const v = stakeOf(s, a.operator);
      v.unbonding = 0n;
      v.unbondingReleaseAt = 0n;
    },
    StakeLocked: (s, a) => void (stakeOf(s, a.operator).locked += a.amount),
    StakeUnlocked: (s, a) => void (stakeOf(s, a.operator).locked -= a.amount),
    // Staking takes a slash from bonded stake first, then from unbonding stake.
    Slashed: (s, a) => {
      const v = stakeOf(s, a.operator);
      const amount = a.amount as bigint;
      const fromBonded = amount < v.bonded ? amount : v.bonded;
      v.bonded -= fromBonded;
      v.unbonding -= amount - fromBonded;
      if (v.unbonding === 0n) v.unbondingReleaseAt = 0n;
      v.slashed += amount;
    },
  },
  XnodeRegistry: {
    NodeRegistered: (s, a) => {
      const node = lower(a.node);
      const old = s.nodes.get(node);
      if (old) s.nodeByPeerId.delete(old.peerId);
      s.nodes.set(node, {
        node,
        operator: lower(a.operator),
        status: "active",
        peerId: a.peerId,
        resources: {
          cpuMillicores: Number(a.resources.cpuMillicores),
          memoryMiB: Number(a.resources.memoryMiB),
          storageGiB: Number(a.resources.storageGiB),
          gpus: Number(a.resources.gpus),
        },
        slots: Number(a.slots),
        bond: a.bond,
        metadataURI: a.metadataURI,
        jailedUntil: 0n,
      });
      s.nodeByPeerId.set(a.peerId, node);
    },
    NodeResourcesUpdated: (s, a) => {
      const n = s.nodes.get(lower(a.node));
      if (!n) return;
      n.resources = {
        cpuMillicores: Number(a.resources.cpuMillicores),
        memoryMiB: Number(a.resources.memoryMiB),
        storageGiB: Number(a.resources.storageGiB),
        gpus: Number(a.resources.gpus),
      };
      n.slots = Number(a.slots);
    },
    NodeMetadataUpdated: (s, a) => {
      const n = s.nodes.get(lower(a.node));
      if (n) n.metadataURI = a.metadataURI;
    },
    NodeJailed: (s, a) => {
      const n = s.nodes.get(lower(a.node));
      if (n) Object.assign(n, { status: "jailed", jailedUntil: BigInt(a.until) });
    },
    NodeUnjailed: (s, a) => {
      const n = s.nodes.get(lower(a.node));
      if (n) Object.assign(n, { status: "active", jailedUntil: 0n });
    },
    NodeRetired: (s, a) => {
      const n = s.nodes.get(lower(a.node));
      if (n) Object.assign(n, { status: "retired", bond: 0n, jailedUntil: 0n });
    },
    MinNodeStakeSet: (s, a) => void (s.minNodeStake = a.minNodeStake),
  },
  ServiceRegistry: {
    ServicePublished: (s, a) => {
      const v = {
        id: a.serviceId,
        owner: lower(a.owner),
        status: "active",
        allowlistRoot: `0x${"00".repeat(32)}`,
        granted: new Set<Address>(),
        subscriberCount: 0n,
      } as ServiceView;
      applyParams(v, a.params);
      s.services.set(a.serviceId, v);
    },
    ServiceUpdated: (s, a) => {
      const v = s.services.get(a.serviceId);
      if (v) applyParams(v, a.params);
    },
    ServiceRetired: (s, a) => {
      const v = s.services.get(a.serviceId);
      if (v) v.status = "retired";
    },
    ServiceOwnershipTransferred: (s, a) => {
      const v = s.services.get(a.serviceId);
      if (v) v.owner = lower(a.newOwner);
    },
    AllowlistGranted: (s, a) => void s.services.get(a.serviceId)?.granted.add(lower(a.consumer)),
    AllowlistRevoked: (s, a) => void s.services.get(a.serviceId)?.granted.delete(lower(a.consumer)),
    AllowlistRootSet: (s, a) => {
      const v = s.services.get(a.serviceId);
      if (v) v.allowlistRoot = a.root;
    },
  },
  TaskManager: {
    TaskCreated: (s, a) => {
      const spec = a.spec;
      s.tasks.set(a.taskId, {
        id: a.taskId,
        submitter: lower(a.submitter),
        moduleHash: a.moduleHash,
        inputHash: a.inputHash,
        inputURI: spec.inputURI,
        resources: {
          cpuMillicores: Number(spec.resources.cpuMillicores),
          memoryMiB: Number(spec.resources.memoryMiB),
          storageGiB: Number(spec.resources.storageGiB),
          gpus: Number(spec.resources.gpus),
        },
        n: Number(a.n),
        q: Number(a.q),
        reward: a.reward,
        fee: a.fee,
        commitWindow: Number(spec.commitWindow),
        revealWindow: Number(spec.revealWindow),
        finalDeadline: BigInt(spec.finalDeadline),
        status: "pending",
        round: 0,
        drawBlock: a.drawBlock,
        committee: Array.from({ length: Number(a.n) }, () => ZERO_ADDRESS),
        commitDeadline: 0n,
        reportDeadline: 0n,
        anchored: new Set(),
        resultHash: undefined,
        participants: 0n,
        slashes: [],
      });
    },
    DrawScheduled: (s, a) => {
      const t = s.tasks.get(a.taskId);
      if (!t) return;
      t.drawBlock = a.drawBlock;
      t.round = Number(a.round);
    },
    TaskAssigned: (s, a) => {
      const t = s.tasks.get(a.taskId);
      if (t) t.committee[Number(a.slot)] = lower(a.node);
    },
    RoundStarted: (s, a) => {
      const t = s.tasks.get(a.taskId);
      if (!t) return;
      Object.assign(t, { status: "active", round: Number(a.round), commitDeadline: BigInt(a.commitDeadline), reportDeadline: BigInt(a.reportDeadline) });
      t.anchored.clear();
    },
    CommitAnchored: (s, a) => void s.tasks.get(a.taskId)?.anchored.add(Number(a.slot)),
    SlotVacated: (s, a) => {
      const t = s.tasks.get(a.taskId);
      if (!t) return;
      t.committee[Number(a.slot)] = ZERO_ADDRESS;
      t.status = "pending";
    },
    TaskFinalized: (s, a) => {
      const t = s.tasks.get(a.taskId);
      if (t) Object.assign(t, { status: "finalized", resultHash: a.resultHash, participants: a.participants });
    },
    TaskRefunded: (s, a) => {
      const t = s.tasks.get(a.taskId);
      if (t) t.status = "refunded";
    },
    WorkerSlashed: (s, a) =>
      void s.tasks.get(a.taskId)?.slashes.push({ node: lower(a.node), reason: Number(a.reason), amount: a.amount }),
  },
  Subscriptions: {
    Subscribed: (s, a) => {
      const key = subKey(a.serviceId, a.consumer);
      const v = s.subscriptions.get(key) ?? { paidUntil: 0n, oneTimeUntil: 0n };
      v.paidUntil = BigInt(a.paidUntil);
      s.subscriptions.set(key, v);
    },
    SubscribedOnce: (s, a) => {
      const key = subKey(a.serviceId, a.consumer);
      const v = s.subscriptions.get(key) ?? { paidUntil: 0n, oneTimeUntil: 0n };
      v.oneTimeUntil = BigInt(a.oneTimeUntil);
      s.subscriptions.set(key, v);
    },
    Cancelled: (s, a) => {
      const v = s.subscriptions.get(subKey(a.serviceId, a.consumer));
      if (v) v.paidUntil = BigInt(a.endedAt);
    },
    SubscriberAdded: (s, a) => {
      const v = s.services.get(a.serviceId);
      if (v) v.subscriberCount = a.subscriberCount;
    },
    SubscriberRemoved: (s, a) => {
      const v = s.services.get(a.serviceId);
      if (v) v.subscriberCount = a.subscriberCount;
    },
  },
  UsageEscrow: {
    Deposited: (s, a) => void Object.assign(escrowAt(s, a.serviceId, a.consumer), { balance: a.balance, pricePerCall: a.pricePerCall }),
    WithdrawalRequested: (s, a) =>
      void Object.assign(escrowAt(s, a.serviceId, a.consumer), { pendingWithdrawal: a.amount, withdrawableAt: BigInt(a.withdrawableAt) }),
    WithdrawalCancelled: (s, a) => void Object.assign(escrowAt(s, a.serviceId, a.consumer), { pendingWithdrawal: 0n, withdrawableAt: 0n }),
    Withdrawn: (s, a) => void Object.assign(escrowAt(s, a.serviceId, a.consumer), { balance: a.balance, pendingWithdrawal: 0n, withdrawableAt: 0n }),
    CallPaid: (s, a) => void (escrowAt(s, a.serviceId, a.consumer).balance = a.balance),
  },
};

/** The reducer to hand to ChainIndexer; contract names must match the indexer's configuration. */
export const dsmpStateReducer: Reducer<DsmpState> = {
  initial: () => ({
    tasks: new Map(),
    nodes: new Map(),
    nodeByPeerId: new Map(),
    stakes: new Map(),
    services: new Map(),
    subscriptions: new Map(),
    escrows: new Map(),
    minNodeStake: 0n,
  }),
  apply(state: DsmpState, event: IndexedEvent) {
    handlers[event.contract]?.[event.eventName]?.(state, event.args);
  },
};

/** Contracts whose events the state folds. */
export const DSMP_STATE_CONTRACTS = Object.keys(handlers);

// ── Queries ──────────────────────────────────────────────────────────────────────────────────────

/** The registered, non-retired node behind a PeerId (bytes as hex), if any. */
export function nodeOfPeer(s: DsmpState, peerId: Hex): NodeView | undefined {
  const node = s.nodeByPeerId.get(peerId);
  const view = node ? s.nodes.get(node) : undefined;
  return view && view.status !== "retired" ? view : undefined;
}

/** Active (not jailed, not retired) and its operator's bonded stake covers what is locked: may serve traffic. */
export function isServingNode(s: DsmpState, node: Address, minStake = 0n): boolean {
  const n = s.nodes.get(lower(node));
  if (!n || n.status !== "active") return false;
  const stake = s.stakes.get(n.operator);
  return !!stake && stake.bonded >= stake.locked && stake.bonded >= minStake;
}

/** Pending or active tasks in which `node` holds a slot, with the slot index. */
export function tasksAssignedTo(s: DsmpState, node: Address): { task: TaskView; slot: number }[] {
  const me = lower(node);
  const out: { task: TaskView; slot: number }[] = [];
  for (const task of s.tasks.values()) {
    if (task.status !== "pending" && task.status !== "active") continue;
    const slot = task.committee.indexOf(me);
    if (slot >= 0) out.push({ task, slot });
  }
  return out;
}

/** The consumer's per-call escrow for a service, `undefined` when it never deposited. */
export function escrowOf(s: DsmpState, serviceId: bigint, consumer: Address): EscrowView | undefined {
  return s.escrows.get(subKey(serviceId, consumer));
}

/** When the consumer's access ends (unix seconds; 0 = never subscribed). */
export function subscriptionExpiry(s: DsmpState, serviceId: bigint, consumer: Address): bigint {
  const v = s.subscriptions.get(subKey(serviceId, consumer));
  if (!v) return 0n;
  return v.paidUntil > v.oneTimeUntil ? v.paidUntil : v.oneTimeUntil;
}

export function isSubscribed(s: DsmpState, serviceId: bigint, consumer: Address, now: bigint): boolean {
  return now < subscriptionExpiry(s, serviceId, consumer);
}

/** Explicit allow-list grant (Merkle-root membership needs a proof and is checked separately). */
export function isGranted(s: DsmpState, serviceId: bigint, consumer: Address): boolean {
  const v = s.services.get(serviceId);
  if (!v) return false;
  return v.visibility === "public" || v.granted.has(lower(consumer));
}
