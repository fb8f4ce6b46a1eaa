import { keccak256, toHex, type Address, type Hex } from "viem";
import { describe, expect, it } from "vitest";
import { bitmapOf, computeSeal, initialRoundState, roundSummary, slotsOf, step, transmitRank, type RoundAction, type RoundEvent, type RoundParams, type RoundState } from "./commit-round.ts";

const COMMITTEE: Address[] = [
  "0x1111111111111111111111111111111111111111",
  "0x2222222222222222222222222222222222222222",
  "0x3333333333333333333333333333333333333333",
  "0x4444444444444444444444444444444444444444",
];
const OUTSIDER: Address = "0x9999999999999999999999999999999999999999";
const GOOD = keccak256(toHex("good output"));
const BAD = keccak256(toHex("wrong output"));
const salt = (i: number) => keccak256(toHex(`salt-${i}`));
/** A stand-in for the signature the I/O layer makes and verifies; the core only stores and forwards it. */
const sig = (what: string, slot: number) => keccak256(toHex(`${what}-${slot}`));

const T0 = 1_000_000;
const params = (self: number, taskId = 8n): RoundParams => ({
  taskId,
  self: COMMITTEE[self]!,
  committee: COMMITTEE,
  q: 3,
  commitDeadlineMs: T0 + 10_000,
  revealDeadlineMs: T0 + 20_000,
  reportDeadlineMs: T0 + 40_000,
  transmitStaggerMs: 2_000,
  anchorAtMs: T0 + 30_000,
});

/** Behaviour of one simulated member. */
interface Member {
  /** Result it computes (undefined: silent, computes nothing). */
  result?: Hex;
  /** A lazy copier: commits a made-up seal in time and reveals whatever result it saw revealed first. */
  lazy?: "garbage-seal" | "late-commit";
  /** Does not carry out transmitReport (crashed after signing). */
  noTransmit?: boolean;
}

/** Four round state machines with an in-memory broadcast between them and a hand-driven clock. */
class Sim {
  readonly states: RoundState[];
  readonly log: { slot: number; action: RoundAction; at: number }[] = [];
  now = T0;
  readonly queue: { to: number; event: RoundEvent }[] = [];
  readonly members: Member[];
  constructor(members: Member[], taskId = 8n) {
    this.members = members;
    this.states = members.map((_, i) => initialRoundState(params(i, taskId)));
  }
  broadcast(event: RoundEvent): void {
    for (let to = 0; to < this.states.length; to++) this.queue.push({ to, event });
  }
  deliver(): void {
    while (this.queue.length > 0) {
      const { to, event } = this.queue.shift()!;
      this.apply(to, { ...event, now: this.now } as RoundEvent);
    }
  }
  apply(slot: number, event: RoundEvent): void {
    const { actions } = step(this.states[slot]!, event);
    for (const action of actions) this.carryOut(slot, action);
  }
  carryOut(slot: number, action: RoundAction): void {
    this.log.push({ slot, action, at: this.now });
    const worker = COMMITTEE[slot]!;
    const m = this.members[slot]!;
    switch (action.type) {
      case "broadcastCommit":
        this.broadcast({ type: "commitReceived", worker, seal: action.seal, signature: sig("commit", slot), now: this.now });
        break;
      case "broadcastReveal":
        this.broadcast({ type: "revealReceived", worker, resultHash: action.resultHash, salt: action.salt, now: this.now });
        break;
      case "signResult":
        this.broadcast({ type: "resultSigReceived", worker, resultHash: action.resultHash, participants: action.participants, signature: sig(`result-${action.resultHash}`, slot), now: this.now });
        break;
      case "transmitReport":
        if (m.noTransmit === true) break;
        // The chain accepts the first complete report; every node's view sees it final.
        for (let to = 0; to < this.states.length; to++) this.queue.push({ to, event: { type: "finalized", resultHash: action.resultHash, participants: action.participants, now: this.now } });
        break;
      default:
        break;
    }
  }
  /** Every honest member computes at T0; lazy members act as configured. */
  computeAll(): void {
    this.members.forEach((m, i) => {
      if (m.result !== undefined) this.apply(i, { type: "resultComputed", resultHash: m.result, salt: salt(i), now: this.now });
      if (m.lazy === "garbage-seal") this.broadcast({ type: "commitReceived", worker: COMMITTEE[i]!, seal: keccak256(toHex(`guess-${i}`)), signature: sig("commit", i), now: this.now });
    });
    this.deliver();
  }
  /** The lazy copier reveals the first revealed result it saw, with its own salt (it cannot open its seal). */
  lazyReveal(): void {
    this.members.forEach((m, i) => {
      if (m.lazy === undefined) return;
      if (m.lazy === "late-commit") {
        const copied = GOOD;
        this.broadcast({ type: "commitReceived", worker: COMMITTEE[i]!, seal: computeSeal(8n, COMMITTEE[i]!, copied, salt(i)), signature: sig("commit", i), now: this.now });
        this.broadcast({ type: "revealReceived", worker: COMMITTEE[i]!, resultHash: copied, salt: salt(i), now: this.now });
      } else {
        this.broadcast({ type: "revealReceived", worker: COMMITTEE[i]!, resultHash: GOOD, salt: salt(i), now: this.now });
      }
    });
    this.deliver();
  }
  tick(to: number): void {
    this.now = to;
    for (let i = 0; i < this.states.length; i++) this.apply(i, { type: "tick", now: to });
    this.deliver();
  }
  actions(type: RoundAction["type"]) {
    return this.log.filter((l) => l.action.type === type);
  }
}

describe("commit round: table of committee behaviours", () => {
  const cases: {
    name: string;
    members: Member[];
    /** Slots whose signature the transmitted report carries. */
    finalParticipants: number[];
    /** Slots that end up proven wrong after finalization. */
    provenWrong: number[];
  }[] = [
    { name: "four honest workers", members: [{ result: GOOD }, { result: GOOD }, { result: GOOD }, { result: GOOD }], finalParticipants: [0, 1, 2, 3], provenWrong: [] },
    { name: "a liar (different result) is outside the majority set and proven wrong", members: [{ result: GOOD }, { result: GOOD }, { result: BAD }, { result: GOOD }], finalParticipants: [0, 1, 3], provenWrong: [2] },
    { name: "a silent worker is simply absent", members: [{ result: GOOD }, {}, { result: GOOD }, { result: GOOD }], finalParticipants: [0, 2, 3], provenWrong: [] },
    { name: "a lazy copier with a made-up seal cannot open it: excluded", members: [{ result: GOOD }, { result: GOOD }, { result: GOOD }, { lazy: "garbage-seal" }], finalParticipants: [0, 1, 2], provenWrong: [] },
    { name: "a lazy copier that commits after the deadline: excluded", members: [{ result: GOOD }, { lazy: "late-commit" }, { result: GOOD }, { result: GOOD }], finalParticipants: [0, 2, 3], provenWrong: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const sim = new Sim(c.members);
      sim.computeAll();
      sim.tick(T0 + 10_001); // commit phase over
      sim.lazyReveal();
      sim.tick(T0 + 20_001); // reveal deadline
      for (let t = T0 + 20_001; t <= T0 + 40_000 && sim.actions("transmitReport").length === 0; t += 1_000) sim.tick(t);
      const reports = sim.actions("transmitReport");
      expect(reports).toHaveLength(1);
      const report = reports[0]!.action as Extract<RoundAction, { type: "transmitReport" }>;
      expect(report.resultHash).toBe(GOOD);
      expect(slotsOf(report.participants)).toEqual(c.finalParticipants);
      expect(report.signatures).toEqual(c.finalParticipants.map((s) => sig(`result-${GOOD}`, s)));
      // The first transmitter is the rank-0 slot among all (taskId 8 mod 4 = 0 → slot 0).
      expect(reports[0]!.slot).toBe(0);
      const proofs = sim.actions("proveWrongResult").map((l) => l.action as Extract<RoundAction, { type: "proveWrongResult" }>);
      expect(proofs.map((p) => COMMITTEE.indexOf(p.worker))).toEqual(c.provenWrong);
      for (const p of proofs) expect(p.resultHash).toBe(BAD);
      // Every honest member signed the same (result, participants); nobody honest signed anything else.
      for (const [i, m] of c.members.entries()) {
        if (m.result === GOOD) expect(roundSummary(sim.states[i]!).signed).toEqual({ resultHash: GOOD, participants: c.finalParticipants });
      }
    });
  }

  it("counts the lazy copier's mismatched reveal, and its late commit, as dropped", () => {
    const sim = new Sim([{ result: GOOD }, { result: GOOD }, { result: GOOD }, { lazy: "garbage-seal" }]);
    sim.computeAll();
    sim.tick(T0 + 10_001);
    sim.lazyReveal();
    expect(sim.states[0]!.dropped["reveal-mismatch"]).toBe(1);
    expect(roundSummary(sim.states[0]!).badReveals).toEqual([3]);

    const late = new Sim([{ result: GOOD }, { lazy: "late-commit" }, { result: GOOD }, { result: GOOD }]);
    late.computeAll();
    late.tick(T0 + 10_001);
    late.lazyReveal();
    expect(late.states[0]!.dropped["late-commit"]).toBe(1);
    expect(late.states[0]!.dropped["reveal-without-commit"]).toBe(1);
  });

  it("reveals as soon as every slot committed, without waiting for the deadline", () => {
    const sim = new Sim([{ result: GOOD }, { result: GOOD }, { result: GOOD }, { result: GOOD }]);
    sim.computeAll();
    expect(sim.actions("broadcastReveal")).toHaveLength(4);
    expect(sim.actions("signResult")).toHaveLength(4);
    expect(sim.actions("transmitReport").map((l) => l.at)).toEqual([T0]);
  });

  it("does not reveal before the commit deadline while a slot has not committed", () => {
    const sim = new Sim([{ result: GOOD }, { result: GOOD }, { result: GOOD }, {}]);
    sim.computeAll();
    sim.tick(T0 + 9_999);
    expect(sim.actions("broadcastReveal")).toHaveLength(0);
    sim.tick(T0 + 10_001);
    expect(sim.actions("broadcastReveal")).toHaveLength(3);
  });

  it("if the first ranked worker does not transmit, the next one does after the stagger", () => {
    const sim = new Sim([{ result: GOOD, noTransmit: true }, { result: GOOD }, { result: GOOD }, { result: GOOD }]);
    sim.computeAll();
    expect(sim.actions("transmitReport").map((l) => l.slot)).toEqual([0]);
    sim.tick(T0 + 1_999);
    expect(sim.actions("transmitReport")).toHaveLength(1);
    sim.tick(T0 + 2_000);
    expect(sim.actions("transmitReport").map((l) => l.slot)).toEqual([0, 1]);
    // Final now: ranks 2 and 3 stay quiet.
    sim.tick(T0 + 6_000);
    expect(sim.actions("transmitReport")).toHaveLength(2);
  });

  it("rotates the first transmitter with the task id", () => {
    expect([0, 1, 2, 3].map((s) => transmitRank(9n, s, 4))).toEqual([3, 0, 1, 2]);
    const sim = new Sim([{ result: GOOD }, { result: GOOD }, { result: GOOD }, { result: GOOD }], 9n);
    sim.computeAll();
    expect(sim.actions("transmitReport").map((l) => l.slot)).toEqual([1]);
  });

  it("drops messages from non-members and duplicates, and counts them", () => {
    const s = initialRoundState(params(0));
    const out = step(s, { type: "commitReceived", worker: OUTSIDER, seal: GOOD, signature: "0x01", now: T0 });
    expect(out.actions).toEqual([{ type: "dropped", reason: "not-committee", worker: OUTSIDER }]);
    step(s, { type: "revealReceived", worker: OUTSIDER, resultHash: GOOD, salt: salt(0), now: T0 });
    step(s, { type: "resultSigReceived", worker: OUTSIDER, resultHash: GOOD, participants: 1n, signature: "0x01", now: T0 });
    step(s, { type: "commitReceived", worker: COMMITTEE[1]!, seal: GOOD, signature: "0x01", now: T0 });
    step(s, { type: "commitReceived", worker: COMMITTEE[1]!, seal: GOOD, signature: "0x01", now: T0 });
    expect(s.dropped["not-committee"]).toBe(3);
    expect(s.dropped.duplicate).toBe(1);
    expect(s.commits.size).toBe(1);
  });

  it("an equivocating worker (two seals) is excluded and proven after finalization", () => {
    const sim = new Sim([{ result: GOOD }, { result: GOOD }, { result: GOOD }, { result: GOOD }]);
    // Slot 3 first sends a second, conflicting seal to everyone before computing.
    sim.broadcast({ type: "commitReceived", worker: COMMITTEE[3]!, seal: keccak256(toHex("other")), signature: sig("commit-b", 3), now: T0 });
    sim.deliver();
    sim.computeAll();
    sim.tick(T0 + 10_001);
    sim.tick(T0 + 20_001);
    const report = sim.actions("transmitReport")[0]!.action as Extract<RoundAction, { type: "transmitReport" }>;
    expect(slotsOf(report.participants)).toEqual([0, 1, 2]);
    const proofs = sim.actions("proveCommitEquivocation");
    expect(proofs).toHaveLength(1);
    expect(proofs[0]!.action).toMatchObject({ worker: COMMITTEE[3], signatureA: sig("commit-b", 3), signatureB: sig("commit", 3) });
  });

  it("anchors its own commit on-chain when the task is not final by the anchoring time", () => {
    const sim = new Sim([{ result: GOOD }, { result: GOOD }, {}, {}]); // no quorum possible (q = 3)
    sim.computeAll();
    sim.tick(T0 + 29_999);
    expect(sim.actions("anchorCommit")).toHaveLength(0);
    sim.tick(T0 + 30_000);
    expect(sim.actions("anchorCommit").map((l) => l.slot)).toEqual([0, 1]);
    expect(sim.actions("transmitReport")).toHaveLength(0);
  });

  it("a result computed after the commit deadline is not committed", () => {
    const s = initialRoundState(params(0));
    expect(step(s, { type: "resultComputed", resultHash: GOOD, salt: salt(0), now: T0 + 10_001 }).actions).toEqual([]);
  });

  it("bitmaps round-trip", () => {
    expect(bitmapOf([0, 2, 3])).toBe(13n);
    expect(slotsOf(13n)).toEqual([0, 2, 3]);
    expect(slotsOf(0n)).toEqual([]);
  });
});

describe("commit round: evidence after finalization", () => {
  it("proves a wrong result whose signature arrives after the task is final, once", () => {
    const s = initialRoundState(params(0)); // slot 0 is rank 0 for task 8: the prover
    step(s, { type: "finalized", resultHash: GOOD, participants: 0b1011n, now: T0 });
    const late = step(s, { type: "resultSigReceived", worker: COMMITTEE[2]!, resultHash: BAD, participants: 0b0100n, signature: "0xbad1", now: T0 + 1 });
    expect(late.actions).toEqual([{ type: "proveWrongResult", worker: COMMITTEE[2], resultHash: BAD, participants: 0b0100n, signature: "0xbad1" }]);
    expect(step(s, { type: "tick", now: T0 + 2 }).actions).toEqual([]);
  });
});
