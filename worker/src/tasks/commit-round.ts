/**
 * The committee's commit → reveal → sign → transmit round for one task, as a pure state machine
 * (DESIGN §4.4–4.6, STYLE §1: raft's "step(event) → actions"). No sockets, timers or clocks: `now` comes in
 * with every event; the I/O layer (task-runner) signs, publishes and sends what the actions say and feeds
 * back what it receives (signatures already verified against the claimed worker).
 *
 * Rules, in the order a round runs:
 * 1. Commit: once its result is computed (before the commit deadline), a worker broadcasts a signed
 *    `Commit(taskId, worker, seal)`, seal = keccak256(abi.encode(taskId, worker, resultHash, salt)). A commit is
 *    accepted from a committee member only if it arrives before the commit deadline; a second, different seal
 *    from the same worker is equivocation (kept as evidence, the worker is excluded).
 * 2. Reveal: when the commit phase closes (deadline, or every slot committed), a worker whose own commit was
 *    accepted reveals `(resultHash, salt)`. A reveal counts only if it opens the worker's accepted seal: a lazy
 *    worker that committed a seal it could not compute (or committed late) cannot enter any participant set.
 * 3. Sign: when every accepted committer revealed (or the reveal deadline passed), a worker signs
 *    `Result(taskId, ownResultHash, participants)` over the slots whose timely commit opened to its own result
 *    hash, itself included. A liar signs its wrong hash over itself (and its accomplices): evidence for
 *    `proveWrongResult` once the honest result is final.
 * 4. Transmit: when some (resultHash, participants) has the signatures of every participant and at least q of
 *    them, the worker of rank r (slot order rotated by taskId mod n) sends the report r × stagger later unless the
 *    task is final by then — so the first ranked worker transmits, the next one only if it did not.
 * 5. After finalization, the participant of lowest rank submits `proveWrongResult` for every committee member
 *    that signed another result, and `proveCommitEquivocation` for every equivocator.
 * Before the report deadline, a worker that has not seen the task final anchors its own commit on-chain so
 * that reallocation does not take it for silent.
 */
import { encodeAbiParameters, keccak256, type Address, type Hex } from "viem";

/** seal = keccak256(abi.encode(uint256 taskId, address worker, bytes32 resultHash, bytes32 salt)). */
export function computeSeal(taskId: bigint, worker: Address, resultHash: Hex, salt: Hex): Hex {
  return keccak256(
    encodeAbiParameters([{ type: "uint256" }, { type: "address" }, { type: "bytes32" }, { type: "bytes32" }], [taskId, worker, resultHash, salt]),
  );
}

/** Rank of `slot` for transmitting: slot order rotated by taskId mod n, so the first transmitter varies per task. */
export function transmitRank(taskId: bigint, slot: number, n: number): number {
  const shift = Number(taskId % BigInt(n));
  return (slot - shift + n) % n;
}

export function bitmapOf(slots: Iterable<number>): bigint {
  let bits = 0n;
  for (const s of slots) bits |= 1n << BigInt(s);
  return bits;
}

export function slotsOf(bitmap: bigint): number[] {
  const slots: number[] = [];
  for (let i = 0; bitmap >> BigInt(i) !== 0n; i++) if (((bitmap >> BigInt(i)) & 1n) === 1n) slots.push(i);
  return slots;
}

export interface RoundParams {
  taskId: bigint;
  /** This node's address. */
  self: Address;
  /** Node addresses by slot (the on-chain `committeeOf`). */
  committee: readonly Address[];
  q: number;
  /** Commits arriving after this (ms since the epoch) are not accepted. */
  commitDeadlineMs: number;
  /** Sign with the reveals received by then even if some committers have not revealed. */
  revealDeadlineMs: number;
  /** The chain stops accepting reports of this round; anchoring happens before. */
  reportDeadlineMs: number;
  /** Delay between successive transmitters (ms). */
  transmitStaggerMs: number;
  /** When to anchor our commit on-chain if the task is not final yet (ms since the epoch). */
  anchorAtMs: number;
}

interface CommitRecord {
  seal: Hex;
  signature: Hex;
}

/** Why an incoming message was dropped (counted in {@link RoundState.dropped}). */
export type DropReason = "not-committee" | "late-commit" | "duplicate" | "reveal-without-commit" | "reveal-mismatch" | "wrong-task" | "after-finalization";

export interface RoundState {
  readonly params: RoundParams;
  readonly selfSlot: number;
  own?: { resultHash: Hex; salt: Hex; seal: Hex };
  commits: Map<number, CommitRecord>;
  /** Second seals of equivocating workers (slot → the conflicting commit). */
  equivocations: Map<number, CommitRecord>;
  /** Valid reveals (seal opened) by slot. */
  reveals: Map<number, Hex>;
  /** Slots whose reveal did not open their seal. */
  badReveals: Set<number>;
  revealed: boolean;
  signed?: { resultHash: Hex; participants: bigint };
  /** Result signatures: key `${resultHash}:${participants}` → slot → signature. */
  resultSigs: Map<string, Map<number, Hex>>;
  /** When a complete quorum first existed, and which. */
  quorum?: { at: number; resultHash: Hex; participants: bigint };
  transmitted: boolean;
  anchored: boolean;
  finalized?: { resultHash: Hex; participants: bigint };
  /** Slots already proven wrong or equivocating by this node (each proof is sent once). */
  proven: Set<number>;
  dropped: Record<DropReason, number>;
}

export type RoundEvent =
  | { type: "resultComputed"; resultHash: Hex; salt: Hex; now: number }
  | { type: "commitReceived"; worker: Address; seal: Hex; signature: Hex; now: number }
  | { type: "revealReceived"; worker: Address; resultHash: Hex; salt: Hex; now: number }
  | { type: "resultSigReceived"; worker: Address; resultHash: Hex; participants: bigint; signature: Hex; now: number }
  | { type: "finalized"; resultHash: Hex; participants: bigint; now: number }
  | { type: "tick"; now: number };

export type RoundAction =
  | { type: "broadcastCommit"; seal: Hex }
  | { type: "broadcastReveal"; resultHash: Hex; salt: Hex }
  | { type: "signResult"; resultHash: Hex; participants: bigint }
  | { type: "transmitReport"; resultHash: Hex; participants: bigint; signatures: Hex[] }
  | { type: "anchorCommit"; slot: number; seal: Hex; signature: Hex }
  | { type: "proveWrongResult"; worker: Address; resultHash: Hex; participants: bigint; signature: Hex }
  | { type: "proveCommitEquivocation"; worker: Address; sealA: Hex; signatureA: Hex; sealB: Hex; signatureB: Hex }
  | { type: "dropped"; reason: DropReason; worker: Address };

export function initialRoundState(params: RoundParams): RoundState {
  const selfSlot = params.committee.findIndex((a) => a.toLowerCase() === params.self.toLowerCase());
  return {
    params,
    selfSlot,
    commits: new Map(),
    equivocations: new Map(),
    reveals: new Map(),
    badReveals: new Set(),
    revealed: false,
    resultSigs: new Map(),
    transmitted: false,
    anchored: false,
    proven: new Set(),
    dropped: { "not-committee": 0, "late-commit": 0, duplicate: 0, "reveal-without-commit": 0, "reveal-mismatch": 0, "wrong-task": 0, "after-finalization": 0 },
  };
}

function slotOf(state: RoundState, worker: Address): number {
  return state.params.committee.findIndex((a) => a.toLowerCase() === worker.toLowerCase());
}

function drop(state: RoundState, reason: DropReason, worker: Address, actions: RoundAction[]): void {
  state.dropped[reason]++;
  actions.push({ type: "dropped", reason, worker });
}

/**
 * Applies `event` to `state` (mutated in place and returned) and returns the actions to carry out.
 * Deterministic: same state and event → same result.
 */
export function step(state: RoundState, event: RoundEvent): { state: RoundState; actions: RoundAction[] } {
  const actions: RoundAction[] = [];
  const p = state.params;
  switch (event.type) {
    case "resultComputed": {
      if (state.own !== undefined || state.selfSlot < 0) break;
      const seal = computeSeal(p.taskId, p.self, event.resultHash, event.salt);
      state.own = { resultHash: event.resultHash, salt: event.salt, seal };
      // Too late to commit: we would not be accepted; we still follow the round (transmit, prove).
      if (event.now <= p.commitDeadlineMs) actions.push({ type: "broadcastCommit", seal });
      break;
    }
    case "commitReceived": {
      const slot = slotOf(state, event.worker);
      if (slot < 0) return { state, actions: (drop(state, "not-committee", event.worker, actions), actions) };
      const known = state.commits.get(slot);
      if (known !== undefined) {
        if (known.seal === event.seal) drop(state, "duplicate", event.worker, actions);
        else if (!state.equivocations.has(slot)) state.equivocations.set(slot, { seal: event.seal, signature: event.signature });
        break;
      }
      if (event.now > p.commitDeadlineMs) {
        drop(state, "late-commit", event.worker, actions);
        break;
      }
      state.commits.set(slot, { seal: event.seal, signature: event.signature });
      break;
    }
    case "revealReceived": {
      const slot = slotOf(state, event.worker);
      if (slot < 0) return { state, actions: (drop(state, "not-committee", event.worker, actions), actions) };
      const commit = state.commits.get(slot);
      if (commit === undefined) {
        drop(state, "reveal-without-commit", event.worker, actions);
        break;
      }
      if (state.reveals.has(slot) || state.badReveals.has(slot)) {
        drop(state, "duplicate", event.worker, actions);
        break;
      }
      if (computeSeal(p.taskId, p.committee[slot]!, event.resultHash, event.salt) !== commit.seal) {
        state.badReveals.add(slot);
        drop(state, "reveal-mismatch", event.worker, actions);
        break;
      }
      state.reveals.set(slot, event.resultHash);
      break;
    }
    case "resultSigReceived": {
      const slot = slotOf(state, event.worker);
      if (slot < 0) return { state, actions: (drop(state, "not-committee", event.worker, actions), actions) };
      const key = `${event.resultHash}:${event.participants}`;
      const sigs = state.resultSigs.get(key) ?? new Map<number, Hex>();
      if (sigs.has(slot)) {
        drop(state, "duplicate", event.worker, actions);
        break;
      }
      sigs.set(slot, event.signature);
      state.resultSigs.set(key, sigs);
      break;
    }
    case "finalized": {
      state.finalized ??= { resultHash: event.resultHash, participants: event.participants };
      break;
    }
    case "tick":
      break;
  }
  advance(state, event.now, actions);
  return { state, actions };
}

/** Timed and threshold transitions, checked after every event. */
function advance(state: RoundState, now: number, actions: RoundAction[]): void {
  const p = state.params;
  const n = p.committee.length;
  const ownCommit = state.selfSlot >= 0 ? state.commits.get(state.selfSlot) : undefined;
  const excluded = (slot: number) => state.equivocations.has(slot);

  // 2. Reveal once the commit phase is closed.
  if (!state.revealed && state.own !== undefined && ownCommit !== undefined && ownCommit.seal === state.own.seal) {
    if (now > p.commitDeadlineMs || state.commits.size === n) {
      state.revealed = true;
      actions.push({ type: "broadcastReveal", resultHash: state.own.resultHash, salt: state.own.salt });
    }
  }

  // 3. Sign once every committer revealed, or at the reveal deadline.
  if (state.signed === undefined && state.revealed && state.reveals.has(state.selfSlot) && !excluded(state.selfSlot)) {
    const pending = [...state.commits.keys()].filter((s) => !state.reveals.has(s) && !state.badReveals.has(s) && !excluded(s));
    if (pending.length === 0 || now > p.revealDeadlineMs) {
      const own = state.own!.resultHash;
      const agreeing = [...state.reveals.entries()].filter(([s, h]) => h === own && !excluded(s)).map(([s]) => s);
      const participants = bitmapOf(agreeing);
      state.signed = { resultHash: own, participants };
      actions.push({ type: "signResult", resultHash: own, participants });
    }
  }

  // 4. Transmit a complete quorum, staggered by rank.
  if (state.quorum === undefined) {
    for (const [key, sigs] of state.resultSigs) {
      const [resultHash, bits] = key.split(":") as [Hex, string];
      const participants = BigInt(bits);
      const slots = slotsOf(participants);
      if (slots.length >= p.q && slots.every((s) => sigs.has(s))) {
        state.quorum = { at: now, resultHash, participants };
        break;
      }
    }
  }
  if (state.quorum !== undefined && !state.transmitted && state.finalized === undefined && state.selfSlot >= 0) {
    const due = state.quorum.at + transmitRank(p.taskId, state.selfSlot, n) * p.transmitStaggerMs;
    if (now >= due && now <= p.reportDeadlineMs) {
      state.transmitted = true;
      const sigs = state.resultSigs.get(`${state.quorum.resultHash}:${state.quorum.participants}`)!;
      actions.push({
        type: "transmitReport",
        resultHash: state.quorum.resultHash,
        participants: state.quorum.participants,
        signatures: slotsOf(state.quorum.participants).map((s) => sigs.get(s)!),
      });
    }
  }

  // Anchor our commit if the task is not final when the anchoring time comes.
  if (!state.anchored && state.finalized === undefined && ownCommit !== undefined && now >= p.anchorAtMs && now <= p.reportDeadlineMs) {
    state.anchored = true;
    actions.push({ type: "anchorCommit", slot: state.selfSlot, seal: ownCommit.seal, signature: ownCommit.signature });
  }

  // 5. Proofs after finalization (also for evidence arriving later), by the participant of lowest rank.
  if (state.finalized !== undefined) {
    const final = state.finalized;
    const prover = slotsOf(final.participants).sort((a, b) => transmitRank(p.taskId, a, n) - transmitRank(p.taskId, b, n))[0];
    if (prover === state.selfSlot) {
      for (const [slot, second] of state.equivocations) {
        if (state.proven.has(slot)) continue;
        state.proven.add(slot);
        const first = state.commits.get(slot)!;
        actions.push({ type: "proveCommitEquivocation", worker: p.committee[slot]!, sealA: first.seal, signatureA: first.signature, sealB: second.seal, signatureB: second.signature });
      }
      for (const [key, sigs] of state.resultSigs) {
        const [resultHash, bits] = key.split(":") as [Hex, string];
        if (resultHash === final.resultHash) continue;
        for (const [slot, signature] of sigs) {
          if (state.proven.has(slot)) continue;
          state.proven.add(slot);
          actions.push({ type: "proveWrongResult", worker: p.committee[slot]!, resultHash, participants: BigInt(bits), signature });
        }
      }
    }
  }
}

/** The round's outcome as far as this node knows, for status output and tests. */
export function roundSummary(state: RoundState): {
  committed: number[];
  revealed: number[];
  badReveals: number[];
  signed: { resultHash: Hex; participants: number[] } | undefined;
  quorum: { resultHash: Hex; participants: number[] } | undefined;
} {
  return {
    committed: [...state.commits.keys()].sort((a, b) => a - b),
    revealed: [...state.reveals.keys()].sort((a, b) => a - b),
    badReveals: [...state.badReveals].sort((a, b) => a - b),
    signed: state.signed && { resultHash: state.signed.resultHash, participants: slotsOf(state.signed.participants) },
    quorum: state.quorum && { resultHash: state.quorum.resultHash, participants: slotsOf(state.quorum.participants) },
  };
}
