import { network } from "hardhat";
import { getAddress } from "viem";
import { describe, expect, it } from "vitest";
import { deployStakingFixture, MIN_NODE_STAKE, registerNode } from "./staking.fixture.js";

const { networkHelpers } = await network.create();

describe("XnodeRegistry", () => {
  it("registers a node and locks its bond", async () => {
    const fx = await networkHelpers.loadFixture(deployStakingFixture);
    const [operator] = fx.accounts.operators;
    const reg = await registerNode(fx, { operator });
    const node = await fx.registry.read.getNode([reg.node]);
    expect(node.operator).toBe(getAddress(operator.account.address));
    expect(node.peerId).toBe(reg.peerId);
    expect(await fx.registry.read.isActive([reg.node])).toBe(true);
    expect(await fx.staking.read.lockedBy([fx.registry.address, operator.account.address])).toBe(MIN_NODE_STAKE);
  });
});
