/**
 * The chain view's DSMP state, folded from real contract events on Hardhat's chain, must equal what the
 * contracts' own views say: stakes, nodes, services, allow-lists and subscription expiry.
 */
import { network } from "hardhat";
import { describe, expect, it } from "vitest";
import { bytesToHex, type Address } from "viem";
import { abis } from "@dsmp/contracts";
import { deployStakingFixture, registerNode, SlashReason } from "../../../contracts/test/staking.fixture.ts";
import { deployServicesFixture, publishService, Visibility, DAY } from "../../../contracts/test/services.fixture.ts";
import { ChainIndexer } from "./indexer.ts";
import {
  DSMP_STATE_CONTRACTS,
  dsmpStateReducer,
  isGranted,
  isServingNode,
  isSubscribed,
  nodeOfPeer,
  subscriptionExpiry,
} from "./dsmp-state.ts";

const STATUS = ["none", "active", "jailed", "retired"] as const;

describe("dsmpStateReducer against the contracts", () => {
  it("matches the contracts' views after a mixed history", async () => {
    const connection = await network.create();
    const { networkHelpers } = connection;
    const st = await deployStakingFixture(connection);
    const sv = await deployServicesFixture(connection);
    const [opA, opB, opC] = st.accounts.operators;
    const { slasher, jailer } = st.accounts;

    // Staking + nodes: A runs two nodes (one later jailed), B one node (later retired), C stakes and unbonds.
    const a1 = await registerNode(st, { operator: opA });
    const a2 = await registerNode(st, { operator: opA, slots: 9 });
    const b1 = await registerNode(st, { operator: opB });
    await st.staking.write.stake([5_000n * 10n ** 18n], { account: opC.account });
    await st.staking.write.stake([500n * 10n ** 18n], { account: opA.account }); // spare stake: survives the slash below
    await st.staking.write.requestUnbond([2_000n * 10n ** 18n], { account: opC.account });
    await st.staking.write.slash([opA.account.address, 100n * 10n ** 18n, SlashReason.WRONG_RESULT, `0x${"ab".repeat(32)}`, jailer.account.address], {
      account: slasher.account,
    });
    await st.staking.write.slash([opC.account.address, 10_000n * 10n ** 18n, SlashReason.EQUIVOCATION, `0x${"cd".repeat(32)}`, jailer.account.address], {
      account: slasher.account,
    });
    const now = BigInt((await st.publicClient.getBlock()).timestamp);
    await st.registry.write.jail([a2.node, now + 3_600n, `0x${"01".repeat(32)}`], { account: jailer.account });
    await st.registry.write.updateResources([a1.node, { cpuMillicores: 8_000, memoryMiB: 16_384, storageGiB: 500, gpus: 1 }, 12], {
      account: opA.account,
    });
    await st.registry.write.retire([b1.node], { account: opB.account });

    // Services: a public and a private one; consumers subscribe, one cancels, one is granted.
    const { owner } = sv.accounts;
    const [c0, c1, c2] = sv.accounts.consumers;
    const pub = await publishService(sv, { name: "echo", pricing: { oneTime: 3n, oneTimeDuration: 7n * DAY } });
    const priv = await publishService(sv, { name: "secret", visibility: Visibility.Private });
    await sv.registry.write.grant([priv, c1.account.address], { account: owner.account });
    await sv.registry.write.grantMany([priv, [c0.account.address, c2.account.address]], { account: owner.account });
    await sv.registry.write.revoke([priv, c2.account.address], { account: owner.account });
    await sv.subscriptions.write.subscribe([pub, 2, 10n, []], { account: c0.account });
    await sv.subscriptions.write.subscribeOnce([pub, 3n, []], { account: c1.account });
    await sv.subscriptions.write.subscribe([priv, 1, 10n, []], { account: c1.account });
    await networkHelpers.time.increase(Number(5n * DAY));
    await sv.subscriptions.write.cancel([priv], { account: c1.account });
    await sv.subscriptions.write.subscribe([pub, 1, 10n, []], { account: c0.account }); // renew

    const addresses: Record<string, Address> = {
      Staking: st.staking.address,
      XnodeRegistry: st.registry.address,
      ServiceRegistry: sv.registry.address,
      Subscriptions: sv.subscriptions.address,
    };
    const indexer = new ChainIndexer({
      client: st.publicClient,
      contracts: DSMP_STATE_CONTRACTS.filter((name) => addresses[name] !== undefined).map((name) => ({
        name,
        address: addresses[name]!,
        abi: abis[name as keyof typeof abis],
      })),
      reducer: dsmpStateReducer,
    });
    await indexer.sync();
    const s = indexer.state;

    for (const op of [opA, opB, opC]) {
      const onChain = await st.staking.read.stakeOf([op.account.address]);
      const view = s.stakes.get(op.account.address.toLowerCase() as Address)!;
      expect({ bonded: view.bonded, locked: view.locked, unbonding: view.unbonding, releaseAt: view.unbondingReleaseAt }).toEqual({
        bonded: onChain.bonded,
        locked: onChain.locked,
        unbonding: onChain.unbonding,
        releaseAt: BigInt(onChain.unbondingReleaseAt),
      });
    }
    for (const reg of [a1, a2, b1]) {
      const onChain = await st.registry.read.getNode([reg.node]);
      const view = s.nodes.get(reg.node.toLowerCase() as Address)!;
      expect(view.status).toBe(STATUS[onChain.status]);
      expect(view.operator).toBe(onChain.operator.toLowerCase());
      expect(view.peerId).toBe(onChain.peerId);
      expect(view.slots).toBe(onChain.slots);
      expect(view.resources).toEqual(onChain.resources);
      expect(view.bond).toBe(onChain.bond);
    }
    expect(nodeOfPeer(s, a1.peerId as `0x${string}`)?.node).toBe(a1.node.toLowerCase());
    expect(nodeOfPeer(s, bytesToHex(new Uint8Array(39)))).toBeUndefined();
    expect(nodeOfPeer(s, (await st.registry.read.getNode([b1.node])).peerId)).toBeUndefined(); // retired
    expect(isServingNode(s, a1.node)).toBe(true); // bonded still covers the locked bonds after the slash
    expect(isServingNode(s, a1.node, 10n ** 30n)).toBe(false); // below a service's minimum provider stake
    expect(isServingNode(s, a2.node)).toBe(false); // jailed

    for (const id of [pub, priv]) {
      const onChain = await sv.registry.read.getService([id]);
      const view = s.services.get(id)!;
      expect(view.owner).toBe(onChain.owner.toLowerCase());
      expect(view.name).toBe(onChain.name);
      expect(view.visibility).toBe(onChain.visibility === 0 ? "public" : "private");
      expect(view.pricing).toEqual({ ...onChain.pricing, periodSeconds: BigInt(onChain.pricing.periodSeconds), oneTimeDuration: BigInt(onChain.pricing.oneTimeDuration) });
      expect(view.subscriberCount).toBe(await sv.subscriptions.read.subscriberCount([id]));
      for (const c of [c0, c1, c2, sv.accounts.outsider]) {
        const who = c.account.address;
        expect(isGranted(s, id, who), `grant ${id} ${who}`).toBe(await sv.registry.read.isGranted([id, who]) || onChain.visibility === 0);
        expect(subscriptionExpiry(s, id, who), `expiry ${id} ${who}`).toBe(BigInt(await sv.subscriptions.read.expiresAt([id, who])));
        const t = BigInt((await sv.publicClient.getBlock()).timestamp);
        expect(isSubscribed(s, id, who, t)).toBe(await sv.subscriptions.read.isActive([id, who]));
      }
    }
  });
});
