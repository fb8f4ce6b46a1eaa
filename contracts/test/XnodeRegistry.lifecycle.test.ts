import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { getAddress, keccak256, toHex, zeroAddress } from "viem";
import { describe, expect, it } from "vitest";
import {
  MIN_NODE_STAKE,
  nodeBondRef,
  nodeIdentity,
  NodeStatus,
  registeredNodeFixture,
  registerNode,
} from "./staking.fixture.js";

const { viem, networkHelpers } = await network.create();
const { time, loadFixture } = networkHelpers;

const REASON = keccak256(toHex("missed proof of resource, epoch 12"));

describe("XnodeRegistry lifecycle", () => {
  describe("operator updates", () => {
    const NEW_RESOURCES = { cpuMillicores: 16_000, memoryMiB: 65_536, storageGiB: 2_000, gpus: 2 };

    it("updates resources, slots and metadata (also while jailed)", async () => {
      const fx = await loadFixture(registeredNodeFixture);
      const as = { account: fx.operator.account };
      await viem.assertions.emitWithArgs(
        fx.registry.write.updateResources([fx.reg.node, NEW_RESOURCES, 9], as),
        fx.registry,
        "NodeResourcesUpdated",
        [fx.reg.node, NEW_RESOURCES, 9],
      );
      await fx.registry.write.jail([fx.reg.node, BigInt(await time.latest()) + 100n, REASON], {
        account: fx.accounts.jailer.account,
      });
      await viem.assertions.emitWithArgs(
        fx.registry.write.updateMetadata([fx.reg.node, "ipfs://v2"], as),
        fx.registry,
        "NodeMetadataUpdated",
        [fx.reg.node, "ipfs://v2"],
      );
      expect(await fx.registry.read.getNode([fx.reg.node])).toMatchObject({
        resources: NEW_RESOURCES,
        slots: 9,
        metadataURI: "ipfs://v2",
      });
    });

    it("validates the new capacity", async () => {
      const fx = await loadFixture(registeredNodeFixture);
      const as = { account: fx.operator.account };
      await viem.assertions.revertWithCustomError(
        fx.registry.write.updateResources([fx.reg.node, NEW_RESOURCES, 0], as),
        fx.registry,
        "XnodeRegistryInvalidSlots",
      );
      await viem.assertions.revertWithCustomError(
        fx.registry.write.updateResources([fx.reg.node, { ...NEW_RESOURCES, memoryMiB: 0 }, 1], as),
        fx.registry,
        "XnodeRegistryInvalidResources",
      );
    });

    it("rejects other callers, unknown nodes and retired nodes", async () => {
      const fx = await loadFixture(registeredNodeFixture);
      const who = fx.accounts.outsider.account;
      const unknown = nodeIdentity().node;
      for (const call of [
        fx.registry.write.updateResources([fx.reg.node, NEW_RESOURCES, 1], { account: who }),
        fx.registry.write.updateMetadata([fx.reg.node, "x"], { account: who }),
        fx.registry.write.retire([fx.reg.node], { account: who }),
      ]) {
        await viem.assertions.revertWithCustomErrorWithArgs(call, fx.registry, "XnodeRegistryNotOperator", [
          fx.reg.node,
          who.address,
        ]);
      }
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.updateMetadata([unknown, "x"]),
        fx.registry,
        "XnodeRegistryUnknownNode",
        [unknown],
      );
      await fx.registry.write.retire([fx.reg.node], { account: fx.operator.account });
      for (const call of [
        fx.registry.write.updateMetadata([fx.reg.node, "x"], { account: fx.operator.account }),
        fx.registry.write.retire([fx.reg.node], { account: fx.operator.account }),
      ]) {
        await viem.assertions.revertWithCustomErrorWithArgs(call, fx.registry, "XnodeRegistryInvalidStatus", [
          fx.reg.node,
          NodeStatus.Retired,
        ]);
      }
    });
  });

  describe("jail, unjail and retire", () => {
    async function jailedFixture(connection: NetworkConnection) {
      const fx = await registeredNodeFixture(connection);
      const until = BigInt(await time.latest()) + 1_000n;
      await fx.registry.write.jail([fx.reg.node, until, REASON], { account: fx.accounts.jailer.account });
      return { ...fx, until };
    }

    it("jails an active node: not active, term recorded, a second jail replaces the term", async () => {
      const fx = await loadFixture(registeredNodeFixture);
      const jailer = { account: fx.accounts.jailer.account };
      const until = BigInt(await time.latest()) + 500n;
      await viem.assertions.emitWithArgs(
        fx.registry.write.jail([fx.reg.node, until, REASON], jailer),
        fx.registry,
        "NodeJailed",
        [fx.reg.node, BigInt(until), REASON],
      );
      expect(await fx.registry.read.isActive([fx.reg.node])).toBe(false);
      expect((await fx.registry.read.getNode([fx.reg.node])).status).toBe(NodeStatus.Jailed);
      expect(await fx.registry.read.jailedUntil([fx.reg.node])).toBe(until);
      expect(await fx.registry.read.nodeCount()).toBe(1n); // still enumerable, just not assignable
      await fx.registry.write.jail([fx.reg.node, until + 50n, REASON], jailer);
      expect(await fx.registry.read.jailedUntil([fx.reg.node])).toBe(until + 50n);
    });

    it("rejects non-jailers, past terms, unknown and retired nodes", async () => {
      const fx = await loadFixture(registeredNodeFixture);
      const jailer = { account: fx.accounts.jailer.account };
      const who = fx.accounts.outsider.account;
      const now = BigInt(await time.latest());
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.jail([fx.reg.node, now + 9n, REASON], { account: who }),
        fx.registry,
        "AccessControlUnauthorizedAccount",
        [who.address, fx.roles.jailer],
      );
      await time.setNextBlockTimestamp(now + 10n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.jail([fx.reg.node, now + 10n, REASON], jailer),
        fx.registry,
        "XnodeRegistryInvalidJailTerm",
        [now + 10n],
      );
      const unknown = nodeIdentity().node;
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.jail([unknown, now + 999n, REASON], jailer),
        fx.registry,
        "XnodeRegistryUnknownNode",
        [unknown],
      );
      await fx.registry.write.retire([fx.reg.node], { account: fx.operator.account });
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.jail([fx.reg.node, now + 999n, REASON], jailer),
        fx.registry,
        "XnodeRegistryInvalidStatus",
        [fx.reg.node, NodeStatus.Retired],
      );
    });

    it("lets a jailer unjail at any time", async () => {
      const fx = await loadFixture(jailedFixture);
      const jailer = fx.accounts.jailer.account;
      await viem.assertions.emitWithArgs(
        fx.registry.write.unjail([fx.reg.node], { account: jailer }),
        fx.registry,
        "NodeUnjailed",
        [fx.reg.node, jailer.address],
      );
      expect(await fx.registry.read.isActive([fx.reg.node])).toBe(true);
      expect(await fx.registry.read.jailedUntil([fx.reg.node])).toBe(0n);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.unjail([fx.reg.node], { account: jailer }),
        fx.registry,
        "XnodeRegistryInvalidStatus",
        [fx.reg.node, NodeStatus.Active],
      );
    });

    it("lets the operator unjail only after the term and never a stranger", async () => {
      const fx = await loadFixture(jailedFixture);
      const op = fx.operator.account;
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.unjail([fx.reg.node], { account: op }),
        fx.registry,
        "XnodeRegistryStillJailed",
        [fx.reg.node, fx.until],
      );
      const who = fx.accounts.outsider.account;
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.unjail([fx.reg.node], { account: who }),
        fx.registry,
        "XnodeRegistryNotOperator",
        [fx.reg.node, who.address],
      );
      await time.setNextBlockTimestamp(fx.until);
      await viem.assertions.emitWithArgs(
        fx.registry.write.unjail([fx.reg.node], { account: op }),
        fx.registry,
        "NodeUnjailed",
        [fx.reg.node, op.address],
      );
      expect(await fx.registry.read.isActive([fx.reg.node])).toBe(true);
    });

    it("makes the operator restore collateral before unjailing itself after a slash", async () => {
      const fx = await loadFixture(jailedFixture);
      const op = fx.operator.account;
      await fx.staking.write.slash([op.address, 100n, 4, REASON, zeroAddress], {
        account: fx.accounts.slasher.account,
      });
      await time.increaseTo(fx.until);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.unjail([fx.reg.node], { account: op }),
        fx.registry,
        "XnodeRegistryUndercollateralized",
        [op.address, MIN_NODE_STAKE - 100n, MIN_NODE_STAKE],
      );
      await fx.staking.write.stake([100n], { account: op });
      await fx.registry.write.unjail([fx.reg.node], { account: op });
    });

    it("retires an active node: unlocks the bond, leaves the enumeration, keeps the operator", async () => {
      const fx = await loadFixture(registeredNodeFixture);
      const op = fx.operator.account.address;
      const hash = fx.registry.write.retire([fx.reg.node], { account: fx.operator.account });
      await viem.assertions.emitWithArgs(hash, fx.registry, "NodeRetired", [fx.reg.node, op, MIN_NODE_STAKE]);
      await viem.assertions.emitWithArgs(hash, fx.staking, "StakeUnlocked", [
        fx.registry.address,
        op,
        MIN_NODE_STAKE,
        nodeBondRef(fx.reg.node),
      ]);
      expect(await fx.registry.read.getNode([fx.reg.node])).toMatchObject({ status: NodeStatus.Retired, bond: 0n });
      expect(await fx.registry.read.isActive([fx.reg.node])).toBe(false);
      expect(await fx.registry.read.operatorOf([fx.reg.node])).toBe(getAddress(op));
      expect(await fx.registry.read.nodeCount()).toBe(0n);
      expect(await fx.registry.read.nodesOf([op])).toEqual([]);
      expect(await fx.staking.read.freeStakeOf([op])).toBe(MIN_NODE_STAKE);
    });

    it("retires a jailed node only after its term", async () => {
      const fx = await loadFixture(jailedFixture);
      const op = fx.operator.account;
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.registry.write.retire([fx.reg.node], { account: op }),
        fx.registry,
        "XnodeRegistryStillJailed",
        [fx.reg.node, fx.until],
      );
      await time.setNextBlockTimestamp(fx.until);
      await fx.registry.write.retire([fx.reg.node], { account: op });
      expect(await fx.registry.read.jailedUntil([fx.reg.node])).toBe(0n);
    });

    it("lets a retired node register again, under another operator", async () => {
      const fx = await loadFixture(registeredNodeFixture);
      const [, next] = fx.accounts.operators;
      await fx.registry.write.retire([fx.reg.node], { account: fx.operator.account });
      await registerNode(fx, { operator: next, nodeKey: fx.reg.nodeKey });
      expect(await fx.registry.read.operatorOf([fx.reg.node])).toBe(getAddress(next.account.address));
      expect(await fx.registry.read.nodesOf([next.account.address])).toEqual([fx.reg.node]);
      expect(await fx.registry.read.nodesOf([fx.operator.account.address])).toEqual([]);
      expect(await fx.registry.read.nodeOfPeerId([fx.reg.peerId])).toBe(fx.reg.node);
    });
  });
});
