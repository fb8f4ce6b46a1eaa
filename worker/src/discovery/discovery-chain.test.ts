/**
 * Discovery filtered by the real chain view: nodes registered on Hardhat's in-process chain (XnodeRegistry +
 * Staking) with the same keys their libp2p nodes use, the chain view indexer folding the events, and the
 * resolver asking `chainViewEligibility(indexer)` — on real sockets.
 */
import { network } from "hardhat";
import { afterEach, describe, expect, it } from "vitest";
import { abis } from "@dsmp/contracts";
import { deployStakingFixture, registerNode } from "../../../contracts/test/staking.fixture.ts";
import { dsmpStateReducer } from "../chain/dsmp-state.ts";
import { ChainIndexer } from "../chain/indexer.ts";
import { createServiceAnnouncer } from "./announcer.ts";
import { ChainNetwork, createTestClock, TEST_CHAIN_ID, TEST_REGISTRY, TEST_WAIT_MS, testNodeKey } from "./discovery-network.fixture.ts";
import { createManualTimers } from "./manual-timers.fixture.ts";
import { chainViewEligibility } from "./provider-eligibility.ts";
import { createServiceResolver } from "./resolver.ts";

const LABEL = "discovery chain view";
const SERVICE = { serviceId: 11n, version: "0.3.0", pricePerCall: 1n };

let stopAll: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stopAll?.();
  stopAll = undefined;
});

describe("discovery with the chain view as the eligibility predicate", () => {
  it("returns only providers registered, active and staked on chain, following the chain as it changes", async () => {
    const connection = await network.create();
    const fx = await deployStakingFixture(connection);
    const [operatorA, operatorB] = fx.accounts.operators;
    const nodeKey = (i: number) => testNodeKey(ChainNetwork.nodeLabel(LABEL, i));

    // Node 0 registered; node 1 registered then jailed; node 2 not registered (yet); node 3 resolves.
    const n0 = await registerNode(fx, { operator: operatorA, nodeKey: nodeKey(0) });
    const n1 = await registerNode(fx, { operator: operatorB, nodeKey: nodeKey(1) });
    const now = (await fx.publicClient.getBlock()).timestamp;
    await fx.registry.write.jail([n1.node, now + 3_600n, `0x${"01".repeat(32)}`], { account: fx.accounts.jailer.account });

    const indexer = new ChainIndexer({
      client: fx.publicClient,
      contracts: [
        { name: "Staking", address: fx.staking.address, abi: abis.Staking },
        { name: "XnodeRegistry", address: fx.registry.address, abi: abis.XnodeRegistry },
      ],
      reducer: dsmpStateReducer,
    });
    await indexer.sync();

    const nodes = await ChainNetwork.start({ count: 4, clock: createTestClock(), label: LABEL });
    const deployment = { chainId: TEST_CHAIN_ID, registry: TEST_REGISTRY };
    const announcers = [0, 1, 2].map((i) =>
      createServiceAnnouncer({ ...deployment, clock: nodes.clock.now, timers: createManualTimers().timers })({
        dht: nodes.nodes[i]!.services.dht,
        identity: nodes.identities[i]!,
        getMultiaddrs: () => nodes.nodes[i]!.getMultiaddrs(),
      }),
    );
    const resolver = createServiceResolver({ ...deployment, eligibility: chainViewEligibility(indexer), clock: nodes.clock.now })({
      dht: nodes.nodes[3]!.services.dht,
      peerId: nodes.nodes[3]!.peerId,
    });
    stopAll = async () => {
      await resolver.stop();
      await Promise.allSettled(announcers.map((announcer) => announcer.stop({ signal: AbortSignal.timeout(5_000) })));
      await nodes.stop();
    };
    expect(nodes.identities.slice(0, 2).map((identity) => identity.address)).toEqual([n0.node, n1.node]);
    await Promise.all(announcers.map((announcer) => announcer.announce(SERVICE)));

    const first = await resolver.resolveProviders(SERVICE.serviceId, AbortSignal.timeout(TEST_WAIT_MS));
    expect(first.providers.map((p) => p.node)).toEqual([n0.node.toLowerCase()]);
    expect(first.stats.providersFound).toBe(3);
    expect(first.stats.rejected.ineligible).toBe(2);

    // The chain moves: node 0 is jailed, node 2 registers.
    const later = (await fx.publicClient.getBlock()).timestamp;
    await fx.registry.write.jail([n0.node, later + 3_600n, `0x${"02".repeat(32)}`], { account: fx.accounts.jailer.account });
    const n2 = await registerNode(fx, { operator: operatorA, nodeKey: nodeKey(2) });
    await indexer.sync();

    const second = await resolver.refresh(SERVICE.serviceId, AbortSignal.timeout(TEST_WAIT_MS));
    expect(second.providers.map((p) => p.node)).toEqual([n2.node.toLowerCase()]);
    expect(second.providers[0]!.multiaddrs).toEqual(nodes.nodes[2]!.getMultiaddrs().map(String));
  });
});
