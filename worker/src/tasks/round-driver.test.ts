import { keccak256, toHex, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterEach, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log.ts";
import { TestNodes } from "../p2p/p2p-test-harness.ts";
import { slotsOf } from "./commit-round.ts";
import { createRoundDriver, type RoundChain, type RoundDriver } from "./round-driver.ts";
import { encodeRoundMessage, resultSigner, roundTopic, signCommit, taskManagerDomain } from "./round-messages.ts";

const nodes = new TestNodes();
const drivers: RoundDriver[] = [];
afterEach(async () => {
  for (const d of drivers.splice(0)) d.stop();
  await nodes.stopAll();
});

const TASK = 21n;
const domain = taskManagerDomain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3");
const GOOD = keccak256(toHex("the right output"));
const BAD = keccak256(toHex("a liar's output"));

/**
 * An in-memory TaskManager with the contract's acceptance rules for the calls a round makes: a report
 * finalizes if every participant bit has a valid Result signature from that slot's node and there are ≥ q;
 * proveWrongResult slashes a committee member that signed another hash than the final one, once.
 */
class MemoryTaskManager implements RoundChain {
  final: { resultHash: Hex; participants: bigint } | undefined;
  readonly reports: { from: number; ok: boolean }[] = [];
  readonly slashed: Address[] = [];
  readonly anchored: number[] = [];
  onFinal: (resultHash: Hex, participants: bigint) => void = () => {};
  #tx = 0;
  readonly committee: Address[];
  readonly q: number;
  constructor(committee: Address[], q: number) {
    this.committee = committee;
    this.q = q;
  }
  #hash(): Hex {
    return keccak256(toHex(`tx-${this.#tx++}`));
  }
  async reportResult(taskId: bigint, resultHash: Hex, participants: bigint, signatures: Hex[]): Promise<Hex> {
    const slots = slotsOf(participants);
    if (this.final !== undefined) throw new Error("TaskManagerInvalidStatus");
    if (slots.length < this.q || slots.length !== signatures.length) throw new Error("TaskManagerQuorumNotMet");
    for (const [i, slot] of slots.entries()) {
      if ((await resultSigner(domain, taskId, resultHash, participants, signatures[i]!)) !== this.committee[slot]) throw new Error("TaskManagerInvalidSignature");
    }
    this.final = { resultHash, participants };
    queueMicrotask(() => this.onFinal(resultHash, participants));
    return this.#hash();
  }
  async anchorCommit(_taskId: bigint, slot: number): Promise<Hex> {
    this.anchored.push(slot);
    return this.#hash();
  }
  async proveWrongResult(taskId: bigint, resultHash: Hex, participants: bigint, signature: Hex): Promise<Hex> {
    const signer = await resultSigner(domain, taskId, resultHash, participants, signature);
    if (this.final === undefined || resultHash === this.final.resultHash || !this.committee.includes(signer) || this.slashed.includes(signer)) throw new Error("TaskManagerNoConflict");
    this.slashed.push(signer);
    return this.#hash();
  }
  async proveCommitEquivocation(): Promise<Hex> {
    return this.#hash();
  }
}

async function until(cond: () => boolean, ms = 20_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("committee round over gossipsub (4 real libp2p nodes)", () => {
  it("a liar's result is outvoted, the honest quorum is reported once, the liar is proven wrong; junk is dropped", async () => {
    const accounts = [0, 1, 2, 3].map(() => privateKeyToAccount(generatePrivateKey()));
    const committee = accounts.map((a) => a.address);
    const p2p = [];
    for (let i = 0; i < 5; i++) p2p.push(await nodes.start());
    // A full mesh among the 4 members plus an outsider connected to member 0.
    for (let i = 0; i < 5; i++) for (let j = i + 1; j < 5; j++) await p2p[i]!.libp2p.dial(p2p[j]!.libp2p.getMultiaddrs()[0]!);
    const chain = new MemoryTaskManager(committee, 3);
    const start = Date.now();
    for (let i = 0; i < 4; i++) {
      drivers.push(
        createRoundDriver({
          params: {
            taskId: TASK,
            self: committee[i]!,
            committee,
            q: 3,
            commitDeadlineMs: start + 8_000,
            revealDeadlineMs: start + 12_000,
            reportDeadlineMs: start + 30_000,
            transmitStaggerMs: 1_000,
            anchorAtMs: start + 25_000,
          },
          account: accounts[i]!,
          domain,
          pubsub: p2p[i]!.libp2p.services.pubsub,
          chain,
          logger: createSilentLogger(),
          tickMs: 50,
          republishMs: 300,
        }),
      );
    }
    chain.onFinal = (hash, participants) => drivers.forEach((d) => d.finalized(hash, participants));
    drivers.forEach((d) => d.start());
    // The outsider publishes junk and a well-signed commit from a non-member.
    const outsider = p2p[4]!.libp2p.services.pubsub;
    outsider.subscribe(roundTopic(TASK));
    const stranger = privateKeyToAccount(generatePrivateKey());
    const strangerSeal = keccak256(toHex("made up"));
    const junk = [
      new TextEncoder().encode("{not json"),
      encodeRoundMessage({ v: 1, kind: "commit", taskId: TASK, worker: stranger.address, seal: strangerSeal, signature: await signCommit(stranger, domain, TASK, strangerSeal) }),
      encodeRoundMessage({ v: 1, kind: "commit", taskId: TASK, worker: committee[1]!, seal: strangerSeal, signature: await signCommit(stranger, domain, TASK, strangerSeal) }),
    ];
    await until(() => outsider.getSubscribers(roundTopic(TASK)).length >= 1, 10_000, "outsider meshed");
    for (const j of junk) await outsider.publish(roundTopic(TASK), j).catch(() => undefined);

    // Members compute: slot 2 lies.
    drivers.forEach((d, i) => d.computed(i === 2 ? BAD : GOOD, keccak256(toHex(`salt-${i}`))));
    await until(() => chain.final !== undefined, 20_000, "finalization");
    expect(chain.final).toEqual({ resultHash: GOOD, participants: 0b1011n });
    await until(() => chain.slashed.length === 1, 10_000, "proof against the liar");
    expect(chain.slashed).toEqual([committee[2]]);
    // Exactly one report was sent (the first ranked transmitter: taskId 21 mod 4 = 1 → slot 1).
    const reports = drivers.flatMap((d, i) => d.transactions.filter((t) => t.action === "transmitReport").map(() => i));
    expect(reports).toEqual([1]);
    // The member next to the outsider dropped its junk: malformed, bad signature, non-member.
    await until(() => drivers[0]!.drops.malformed >= 1 && drivers[0]!.drops.badSignature >= 1 && drivers[0]!.state.dropped["not-committee"] >= 1, 10_000, "drops counted");
    expect(drivers[0]!.summary().signed).toEqual({ resultHash: GOOD, participants: [0, 1, 3] });
    expect(drivers[2]!.summary().signed).toEqual({ resultHash: BAD, participants: [2] });
  });
});
