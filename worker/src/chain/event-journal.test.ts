import { describe, expect, it } from "vitest";
import type { Hex } from "viem";
import { EventJournal, JournalOrderError, type IndexedEvent, type Reducer } from "./event-journal.ts";

/** Sums `args.v` per event name: small enough to check by hand. */
const sumReducer: Reducer<Map<string, bigint>> = {
  initial: () => new Map(),
  apply: (s, e) => s.set(e.eventName, (s.get(e.eventName) ?? 0n) + (e.args.v as bigint)),
};

const hash = (n: number, fork = 0): Hex => `0x${(fork * 1_000_000 + n).toString(16).padStart(64, "0")}`;
const ev = (block: number, logIndex: number, name: string, v: bigint, fork = 0): IndexedEvent => ({
  blockNumber: BigInt(block),
  blockHash: hash(block, fork),
  logIndex,
  transactionHash: hash(block * 100 + logIndex),
  address: "0x0000000000000000000000000000000000000001",
  contract: "C",
  eventName: name,
  args: { v },
});

describe("EventJournal", () => {
  it("folds events in order and tracks the tip", () => {
    const j = new EventJournal(sumReducer, 5n);
    expect(j.nextBlock).toBe(5n);
    j.ingest([ev(5, 0, "A", 1n), ev(5, 1, "B", 2n), ev(7, 0, "A", 3n)], 9n, hash(9));
    expect(j.state.get("A")).toBe(4n);
    expect(j.state.get("B")).toBe(2n);
    expect(j.tip).toEqual({ number: 9n, hash: hash(9) });
    expect(j.nextBlock).toBe(10n);
    expect(j.knownBlocks().map((c) => c.number)).toEqual([9n, 7n, 5n]);
  });

  it("keeps only blocks with events plus the tip as checkpoints", () => {
    const j = new EventJournal(sumReducer, 0n);
    j.ingest([], 3n, hash(3));
    j.ingest([ev(4, 0, "A", 1n)], 6n, hash(6));
    j.ingest([], 8n, hash(8));
    expect(j.knownBlocks().map((c) => c.number)).toEqual([8n, 4n]);
  });

  it.each([
    { name: "event before the next block", events: [ev(1, 0, "A", 1n)], upTo: 5n },
    { name: "event after upTo", events: [ev(6, 0, "A", 1n)], upTo: 5n },
    { name: "events out of order", events: [ev(4, 1, "A", 1n), ev(4, 0, "A", 1n)], upTo: 5n },
    { name: "duplicate log index", events: [ev(4, 0, "A", 1n), ev(4, 0, "B", 1n)], upTo: 5n },
    { name: "range not after the tip", events: [], upTo: 2n },
  ])("rejects $name without changing anything", ({ events, upTo }) => {
    const j = new EventJournal(sumReducer, 0n);
    j.ingest([ev(2, 0, "A", 10n)], 3n, hash(3));
    expect(() => j.ingest(events, upTo, hash(Number(upTo)))).toThrow(JournalOrderError);
    expect(j.state.get("A")).toBe(10n);
    expect(j.eventCount).toBe(1);
    expect(j.tip?.number).toBe(3n);
  });

  it("rewinds to a fork point and refolds, then accepts the new branch", () => {
    const j = new EventJournal(sumReducer, 0n);
    j.ingest([ev(1, 0, "A", 1n), ev(2, 0, "A", 10n), ev(3, 0, "A", 100n)], 3n, hash(3));
    j.rewindTo(1n);
    expect(j.state.get("A")).toBe(1n);
    expect(j.nextBlock).toBe(2n);
    j.ingest([ev(2, 0, "A", 5n, 1)], 2n, hash(2, 1));
    expect(j.state.get("A")).toBe(6n);
  });

  it("round-trips through JSON, bigints included", () => {
    const j = new EventJournal(sumReducer, 1n);
    j.ingest([ev(1, 0, "A", 2n ** 200n), ev(2, 3, "B", 7n)], 4n, hash(4));
    const copy = EventJournal.fromJSON(sumReducer, JSON.parse(JSON.stringify(j.toJSON())));
    expect(copy.state).toEqual(j.state);
    expect(copy.tip).toEqual(j.tip);
    expect(copy.knownBlocks()).toEqual(j.knownBlocks());
    expect(copy.startBlock).toBe(1n);
  });
});
