import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey, peerIdFromString } from "@libp2p/peer-id";
import type { PeerId } from "@libp2p/interface";
import type { Address } from "viem";
import { describe, expect, it } from "vitest";
import { createSilentLogger } from "../log.ts";
import type { ChallengeOutcome, ChallengePlan, ChallengeSizing } from "./resource-proof-verdict.ts";
import { REFUSALS_BEFORE_FAILURE, ResourceProofService, type ProvableNode } from "./resource-proof-service.ts";

const SIZING: ChallengeSizing = { matrixSize: 512, minWorkPerCoreSecond: 250_000_000, targetSeconds: 0.5, allowanceMs: 250 };
const KEYS = await Promise.all([1, 2, 3].map(() => generateKeyPair("Ed25519")));
const PEERS = KEYS.map((key) => peerIdFromPrivateKey(key).toString());
const SELF = "0x0000000000000000000000000000000000000001" as Address;
const node = (n: number, cpuMillicores = 2_000): ProvableNode => ({
  address: `0x${String(n).padStart(40, "0")}` as Address,
  peerId: peerIdFromString(PEERS[n - 1]!),
  cpuMillicores,
});

/** A protocol whose answers the test scripts, per peer, in order. */
function scripted(answers: Map<string, ChallengeOutcome[]>) {
  const asked: Array<{ peer: string; plan: ChallengePlan }> = [];
  return {
    asked,
    protocol: {
      async challenge(peer: PeerId, plan: ChallengePlan): Promise<ChallengeOutcome> {
        asked.push({ peer: peer.toString(), plan });
        return answers.get(peer.toString())?.shift() ?? { kind: "answered", elapsedMs: 100, productsCorrect: true };
      },
    },
  };
}

/** A clock that moves a minute and a second at each read: every target is due again. */
function ticking(): () => number {
  let now = 1_000;
  return () => (now += 61_000);
}

function service(nodes: () => ProvableNode[], protocol: ReturnType<typeof scripted>["protocol"], clock = ticking()) {
  return new ResourceProofService({ protocol, self: SELF, nodes, sizing: SIZING, intervalMs: 60_000, clock, logger: createSilentLogger() });
}

describe("ResourceProofService", () => {
  it("rotates through the other nodes, never itself, the longest-waiting first", async () => {
    let now = 0;
    const { protocol, asked } = scripted(new Map());
    const proofs = service(() => [node(1), node(2), node(3)], protocol, () => now);
    for (let round = 0; round < 4; round++) {
      now += 61_000;
      await proofs.challengeNext();
    }
    expect(asked.map((a) => a.peer)).toEqual([PEERS[1], PEERS[2], PEERS[1], PEERS[2]]);
  });

  it("never asks a prover again within its per-verifier minute (it would refuse as rate-limited)", async () => {
    let now = 100_000;
    const { protocol, asked } = scripted(new Map());
    const proofs = service(() => [node(2)], protocol, () => now);
    await proofs.challengeNext();
    now += 59_000;
    expect(await proofs.challengeNext()).toBeUndefined();
    now += 1_000;
    expect((await proofs.challengeNext())?.node).toBe(node(2).address);
    expect(asked).toHaveLength(2);
  });

  it("has nothing to do alone", async () => {
    const { protocol } = scripted(new Map());
    expect(await service(() => [node(1)], protocol).challengeNext()).toBeUndefined();
  });

  it("sizes the challenge by what the node advertises", async () => {
    const { protocol, asked } = scripted(new Map());
    await service(() => [node(2, 4_000)], protocol).challengeNext();
    expect(asked[0]!.plan).toMatchObject({ n: 512, count: 4, deadlineMs: 787 });
  });

  it("records a pass with the capacity it showed, and a failure in the log", async () => {
    const { protocol } = scripted(
      new Map([
        [PEERS[1]!, [{ kind: "answered", elapsedMs: 200, productsCorrect: true }]],
        [PEERS[2]!, [{ kind: "answered", elapsedMs: 50, productsCorrect: false }]],
      ]),
    );
    const proofs = service(() => [node(2, 4_000), node(3, 4_000)], protocol);
    await proofs.challengeNext();
    await proofs.challengeNext();
    const view = proofs.view();
    expect(view.nodes.map((n) => [n.node, n.state, n.reason, n.provenMillicores])).toEqual([
      [node(2).address, "proven", "proven", 10_737],
      [node(3).address, "failed", "wrong-product", undefined],
    ]);
    expect(view.failures).toEqual([{ at: expect.any(Number), node: node(3).address, reason: "wrong-product", detail: undefined, advertisedMillicores: 4_000, provenMillicores: undefined }]);
  });

  it(`defers a refusal, and fails a node that refuses ${REFUSALS_BEFORE_FAILURE} in a row`, async () => {
    const refusals: ChallengeOutcome[] = Array.from({ length: REFUSALS_BEFORE_FAILURE }, () => ({ kind: "refused", status: "busy" }));
    const { protocol } = scripted(new Map([[PEERS[1]!, refusals]]));
    const proofs = service(() => [node(2)], protocol);
    for (let i = 1; i < REFUSALS_BEFORE_FAILURE; i++) {
      const result = await proofs.challengeNext();
      expect(result).toMatchObject({ verdict: undefined, refusal: "busy" });
      expect(proofs.view().nodes[0]).toMatchObject({ state: "unproven", refusalsInARow: i });
    }
    const last = await proofs.challengeNext();
    expect(last?.verdict).toMatchObject({ passed: false, reason: "refused" });
    expect(proofs.view().nodes[0]).toMatchObject({ state: "failed", reason: "refused" });
    expect(proofs.view().failures[0]?.detail).toMatch(/refused 3 challenges in a row/);
    // An answer resets the count.
    await proofs.challengeNext();
    expect(proofs.view().nodes[0]).toMatchObject({ state: "proven", refusalsInARow: 0 });
  });

  it("a rate-limited refusal is this node's own haste: deferred, never counted toward failure", async () => {
    const limited: ChallengeOutcome[] = Array.from({ length: 5 }, () => ({ kind: "refused", status: "rate-limited" }));
    const { protocol } = scripted(new Map([[PEERS[1]!, limited]]));
    const proofs = service(() => [node(2)], protocol);
    for (let i = 0; i < 5; i++) expect(await proofs.challengeNext()).toMatchObject({ verdict: undefined, refusal: "rate-limited" });
    expect(proofs.view().nodes[0]).toMatchObject({ state: "unproven", refusalsInARow: 0 });
  });

  it("reports its verdicts newest first, only those younger than the age asked for", async () => {
    let now = 0;
    const { protocol } = scripted(new Map([[PEERS[2]!, [{ kind: "answered", elapsedMs: 50, productsCorrect: false }]]]));
    const proofs = service(() => [node(2), node(3)], protocol, () => now);
    now = 100_000;
    await proofs.challenge(node(2));
    now = 200_000;
    await proofs.challenge(node(3));
    expect(proofs.reportable(1_000_000).map((p) => [p.node, p.at, p.passed])).toEqual([
      [node(3).address, 200_000, false],
      [node(2).address, 100_000, true],
    ]);
    expect(proofs.reportable(50_000).map((p) => p.node)).toEqual([node(3).address]);
  });

  it("no longer counts a node as proven once it advertises more CPU than it proved", async () => {
    let advertised = 2_000;
    const { protocol } = scripted(new Map());
    const proofs = service(() => [node(2, advertised)], protocol);
    await proofs.challengeNext();
    expect(proofs.view().nodes[0]?.state).toBe("proven");
    advertised = 8_000;
    expect(proofs.view().nodes[0]).toMatchObject({ state: "unproven", advertisedMillicores: 8_000 });
    advertised = 1_000;
    expect(proofs.view().nodes[0]?.state).toBe("proven");
  });

  it("lists nodes it has not challenged yet as unproven, and drops nodes that left", async () => {
    const nodes = [node(2), node(3)];
    const { protocol } = scripted(new Map());
    const proofs = service(() => nodes, protocol);
    expect(proofs.view().nodes.map((n) => n.state)).toEqual(["unproven", "unproven"]);
    nodes.pop();
    expect(proofs.view().nodes).toHaveLength(1);
  });
});
