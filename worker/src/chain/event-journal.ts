/**
 * The chain view's memory: every decoded contract event since the start block, grouped by block, the hash of
 * each block that had events (plus the newest block seen), and the state folded from those events by a
 * reducer. Pure: no clients, no timers. The indexer (indexer.ts) feeds it blocks and rewinds it on reorgs.
 *
 * Rewinding refolds the state from the retained events; that is O(events), and happens only on a reorg.
 */
import type { Address, Hex } from "viem";

/** One decoded contract event, in chain order. */
export interface IndexedEvent {
  blockNumber: bigint;
  blockHash: Hex;
  logIndex: number;
  transactionHash: Hex;
  address: Address;
  /** Contract name as configured in the indexer (e.g. "XnodeRegistry"). */
  contract: string;
  eventName: string;
  args: Record<string, unknown>;
}

/** Folds events into a state. `apply` mutates `state`; `initial` returns a fresh one. */
export interface Reducer<S> {
  initial(): S;
  apply(state: S, event: IndexedEvent): void;
}

/** A block the journal has seen: every block with events, and the newest block ingested. */
export interface Checkpoint {
  number: bigint;
  hash: Hex;
}

export interface JournalSnapshot {
  version: 1;
  startBlock: string;
  checkpoints: { number: string; hash: Hex }[];
  events: unknown[];
}

export class JournalOrderError extends Error {
  override name = "JournalOrderError" as const;
}

export class EventJournal<S> {
  readonly startBlock: bigint;
  private readonly reducer: Reducer<S>;
  private events: IndexedEvent[] = [];
  private checkpoints: Checkpoint[] = [];
  private current: S;

  constructor(reducer: Reducer<S>, startBlock: bigint) {
    this.reducer = reducer;
    this.startBlock = startBlock;
    this.current = reducer.initial();
  }

  get state(): S {
    return this.current;
  }

  /** Newest block ingested, or undefined before the first. */
  get tip(): Checkpoint | undefined {
    return this.checkpoints.at(-1);
  }

  /** Next block to ingest. */
  get nextBlock(): bigint {
    const tip = this.tip;
    return tip ? tip.number + 1n : this.startBlock;
  }

  get eventCount(): number {
    return this.events.length;
  }

  /** Known blocks, newest first: where to look for the fork point after a reorg. */
  knownBlocks(): readonly Checkpoint[] {
    return [...this.checkpoints].reverse();
  }

  /**
   * Ingests the events of blocks (nextBlock ..= upTo), whose newest block has hash `upToHash`.
   * `events` must be in chain order and inside that range.
   */
  ingest(events: readonly IndexedEvent[], upTo: bigint, upToHash: Hex): void {
    if (upTo < this.nextBlock) throw new JournalOrderError(`block ${upTo} is not after the tip ${this.tip?.number}`);
    let last: IndexedEvent | undefined;
    for (const e of events) {
      if (e.blockNumber < this.nextBlock || e.blockNumber > upTo) {
        throw new JournalOrderError(`event in block ${e.blockNumber} is outside ${this.nextBlock}..${upTo}`);
      }
      if (last && (e.blockNumber < last.blockNumber || (e.blockNumber === last.blockNumber && e.logIndex <= last.logIndex))) {
        throw new JournalOrderError(`events out of order at block ${e.blockNumber} log ${e.logIndex}`);
      }
      last = e;
    }
    for (const e of events) {
      const tip = this.checkpoints.at(-1);
      if (!tip || tip.number !== e.blockNumber) this.checkpoints.push({ number: e.blockNumber, hash: e.blockHash });
      this.events.push(e);
      this.reducer.apply(this.current, e);
    }
    const tip = this.checkpoints.at(-1);
    if (!tip || tip.number !== upTo) this.checkpoints.push({ number: upTo, hash: upToHash });
    this.compactCheckpoints();
  }

  /** Forgets every block after `blockNumber` and refolds the state. */
  rewindTo(blockNumber: bigint): void {
    this.events = this.events.filter((e) => e.blockNumber <= blockNumber);
    this.checkpoints = this.checkpoints.filter((c) => c.number <= blockNumber);
    this.current = this.reducer.initial();
    for (const e of this.events) this.reducer.apply(this.current, e);
  }

  /** Drops checkpoints of event-less blocks that are no longer the tip (keeps memory proportional to events). */
  private compactCheckpoints(): void {
    if (this.checkpoints.length < 3) return;
    const withEvents = new Set(this.events.map((e) => e.blockNumber));
    const tip = this.checkpoints.at(-1)!;
    this.checkpoints = this.checkpoints.filter((c) => c === tip || withEvents.has(c.number));
  }

  toJSON(): JournalSnapshot {
    return {
      version: 1,
      startBlock: this.startBlock.toString(),
      checkpoints: this.checkpoints.map((c) => ({ number: c.number.toString(), hash: c.hash })),
      events: this.events.map((e) => encodeBigints(e)),
    };
  }

  static fromJSON<S>(reducer: Reducer<S>, snapshot: JournalSnapshot): EventJournal<S> {
    if (snapshot.version !== 1) throw new Error(`unsupported chain view journal version ${snapshot.version}`);
    const j = new EventJournal(reducer, BigInt(snapshot.startBlock));
    j.checkpoints = snapshot.checkpoints.map((c) => ({ number: BigInt(c.number), hash: c.hash }));
    j.events = snapshot.events.map((e) => decodeBigints(e) as IndexedEvent);
    for (const e of j.events) reducer.apply(j.current, e);
    return j;
  }
}

/** JSON has no bigint: tag them as {"$n": "123"}. */
function encodeBigints(value: unknown): unknown {
  if (typeof value === "bigint") return { $n: value.toString() };
  if (Array.isArray(value)) return value.map(encodeBigints);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeBigints(v)]));
  }
  return value;
}

function decodeBigints(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decodeBigints);
  if (value && typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 1 && entries[0]![0] === "$n" && typeof entries[0]![1] === "string") return BigInt(entries[0]![1]);
    return Object.fromEntries(entries.map(([k, v]) => [k, decodeBigints(v)]));
  }
  return value;
}
