/**
 * LeaseEscrow: configuration, offers and opening leases, against the real Staking + XnodeRegistry.
 * Money paths after opening (settle, top-up, close, natural end, resource failure, 6 decimals, reentrancy) are in
 * LeaseEscrow.lifecycle.test.ts; the conservation property in LeaseEscrow.property.test.ts.
 */
import { network } from "hardhat";
import { getAddress, keccak256, maxUint256, toHex, zeroAddress } from "viem";
import { describe, expect, it } from "vitest";
import {
  FEE_BPS,
  LeaseStatus,
  OFFER_RESOURCES,
  TERMS,
  leaseFixture,
  leaseIdOf,
  offerArgs,
  type LeaseFixture,
} from "./lease.fixture.js";
import { nodeIdentity, registerNode } from "./staking.fixture.js";

const { viem, networkHelpers } = await network.create();
const { time, loadFixture } = networkHelpers;

const MIN_DEPOSIT = TERMS.price * TERMS.minDuration;
const MAX_DEPOSIT = TERMS.price * TERMS.maxDuration;

/** Open a lease on offer 1 from lessee `index` with `deposit` (default: the minimum). */
async function open(fx: LeaseFixture, deposit = MIN_DEPOSIT, index: 0 | 1 | 2 = 0, offerId = fx.offerId) {
  const lessee = fx.lessees[index];
  const hash = await fx.escrow.write.openLease([offerId, deposit, maxUint256], { account: lessee.account });
  return leaseIdOf(fx, hash);
}

describe("LeaseEscrow configuration", () => {
  it("deploys with its token, registry, treasury and fee, and emits the settings", async () => {
    const fx = await loadFixture(leaseFixture);
    const admin = fx.accounts.deployer.account.address;
    const treasury = fx.accounts.treasury.account.address;
    const { contract, deploymentTransaction } = await viem.sendDeploymentTransaction("LeaseEscrow", [
      fx.token.address,
      fx.registry.address,
      admin,
      treasury,
      250,
    ]);
    const tx = Promise.resolve(deploymentTransaction.hash);
    await viem.assertions.emitWithArgs(tx, contract, "TreasurySet", [getAddress(treasury)]);
    await viem.assertions.emitWithArgs(tx, contract, "ProtocolFeeSet", [250]);
    expect(await contract.read.token()).toBe(getAddress(fx.token.address));
    expect(await contract.read.registry()).toBe(getAddress(fx.registry.address));
    expect(await contract.read.treasury()).toBe(getAddress(treasury));
    expect(await contract.read.protocolFeeBps()).toBe(250);
    expect(await contract.read.hasRole([await contract.read.DEFAULT_ADMIN_ROLE(), admin])).toBe(true);
    expect(await contract.read.MAX_ACTIVE_LEASES_PER_NODE()).toBe(32n);
    expect(await contract.read.MAX_PROTOCOL_FEE_BPS()).toBe(1_000);
    expect(await contract.read.MAX_LEASE_DURATION()).toBe(5n * 365n * 86_400n);
    expect([await contract.read.offerCount(), await contract.read.leaseCount()]).toEqual([0n, 0n]);
  });

  it("rejects zero addresses and a fee above 10 %", async () => {
    const fx = await loadFixture(leaseFixture);
    const a = fx.accounts.deployer.account.address;
    const [t, r] = [fx.token.address, fx.registry.address];
    for (const args of [
      [zeroAddress, r, a, a, 250],
      [t, zeroAddress, a, a, 250],
      [t, r, zeroAddress, a, 250],
      [t, r, a, zeroAddress, 250],
    ] as const) {
      await viem.assertions.revertWithCustomError(
        viem.deployContract("LeaseEscrow", [...args]),
        fx.escrow,
        "LeaseEscrowZeroAddress",
      );
    }
    await viem.assertions.revertWithCustomErrorWithArgs(
      viem.deployContract("LeaseEscrow", [t, r, a, a, 1_001]),
      fx.escrow,
      "LeaseEscrowInvalidFee",
      [1_001, 1_000],
    );
  });

  it("lets only the admin set the fee and the treasury", async () => {
    const fx = await loadFixture(leaseFixture);
    const { escrow } = fx;
    const who = fx.accounts.outsider.account;
    const adminRole = await escrow.read.DEFAULT_ADMIN_ROLE();
    await viem.assertions.emitWithArgs(escrow.write.setProtocolFee([1_000]), escrow, "ProtocolFeeSet", [1_000]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      escrow.write.setProtocolFee([1_001]),
      escrow,
      "LeaseEscrowInvalidFee",
      [1_001, 1_000],
    );
    await viem.assertions.emitWithArgs(escrow.write.setTreasury([who.address]), escrow, "TreasurySet", [
      getAddress(who.address),
    ]);
    expect(await escrow.read.treasury()).toBe(getAddress(who.address));
    await viem.assertions.revertWithCustomError(escrow.write.setTreasury([zeroAddress]), escrow, "LeaseEscrowZeroAddress");
    for (const call of [
      escrow.write.setProtocolFee([0], { account: who }),
      escrow.write.setTreasury([who.address], { account: who }),
    ]) {
      await viem.assertions.revertWithCustomErrorWithArgs(call, escrow, "AccessControlUnauthorizedAccount", [
        getAddress(who.address),
        adminRole,
      ]);
    }
  });

  it("fixes the fee of a lease when it opens", async () => {
    const fx = await loadFixture(leaseFixture);
    const first = await open(fx);
    await fx.escrow.write.setProtocolFee([0]);
    const second = await open(fx);
    expect((await fx.escrow.read.getLease([first])).feeBps).toBe(Number(FEE_BPS));
    expect((await fx.escrow.read.getLease([second])).feeBps).toBe(0);
  });
});

describe("LeaseEscrow offers", () => {
  it("posts sequential offers and lists them per node", async () => {
    const fx = await loadFixture(leaseFixture);
    const operator = getAddress(fx.operator.account.address);
    expect(await fx.escrow.read.getOffer([1n])).toEqual({
      node: getAddress(fx.node),
      operator,
      resources: OFFER_RESOURCES,
      pricePerSecond: TERMS.price,
      minDuration: TERMS.minDuration,
      maxDuration: TERMS.maxDuration,
      noticePeriod: TERMS.noticePeriod,
      maxLeases: TERMS.maxLeases,
      activeLeases: 0,
      active: true,
    });
    const terms = { price: 5n, minDuration: 60n, maxDuration: 60n, noticePeriod: 0n, maxLeases: 1 };
    const resources = { cpuMillicores: 4_000, memoryMiB: 8_192, storageGiB: 100, gpus: 0 }; // the whole node
    await viem.assertions.emitWithArgs(
      fx.escrow.write.postOffer(offerArgs(fx.node, terms, resources), { account: fx.operator.account }),
      fx.escrow,
      "OfferPosted",
      [2n, getAddress(fx.node), operator, resources, 5n, 60n, 60n, 0n, 1],
    );
    expect(await fx.escrow.read.offerCount()).toBe(2n);
    expect(await fx.escrow.read.offersOfNode([fx.node])).toEqual([1n, 2n]);
    expect(await fx.escrow.read.offersOfNode([zeroAddress])).toEqual([]);
  });

  it("accepts offers only from the node's operator, for an active node", async () => {
    const fx = await loadFixture(leaseFixture);
    const outsider = fx.accounts.outsider.account;
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.postOffer(offerArgs(fx.node), { account: outsider }),
      fx.escrow,
      "LeaseEscrowNotNodeOperator",
      [getAddress(fx.node), getAddress(outsider.address)],
    );
    const unknown = nodeIdentity().node;
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.postOffer(offerArgs(unknown), { account: fx.operator.account }),
      fx.escrow,
      "LeaseEscrowNotNodeOperator",
      [getAddress(unknown), getAddress(fx.operator.account.address)],
    );
    const until = BigInt(await time.latest()) + 3_600n;
    await fx.registry.write.jail([fx.node, until, keccak256(toHex("failed proof"))], {
      account: fx.accounts.jailer.account,
    });
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.postOffer(offerArgs(fx.node), { account: fx.operator.account }),
      fx.escrow,
      "LeaseEscrowNodeNotActive",
      [getAddress(fx.node)],
    );
  });

  it("validates the terms", async () => {
    const fx = await loadFixture(leaseFixture);
    const as = { account: fx.operator.account };
    const node = getAddress(fx.node);
    const maxDuration5y = 5n * 365n * 86_400n;
    const cases = [
      [{ ...TERMS, price: 0n }, "LeaseEscrowInvalidPrice", [0n]],
      [{ ...TERMS, price: maxUint256 }, "LeaseEscrowInvalidPrice", [maxUint256]],
      [{ ...TERMS, minDuration: 0n }, "LeaseEscrowInvalidDuration", [0n, TERMS.maxDuration]],
      [{ ...TERMS, minDuration: 10n, maxDuration: 9n }, "LeaseEscrowInvalidDuration", [10n, 9n]],
      [{ ...TERMS, maxDuration: maxDuration5y + 1n }, "LeaseEscrowInvalidDuration", [3_600n, maxDuration5y + 1n]],
      [{ ...TERMS, noticePeriod: 3_601n }, "LeaseEscrowInvalidNoticePeriod", [3_601n, 3_600n]],
      [{ ...TERMS, maxLeases: 0 }, "LeaseEscrowInvalidMaxLeases", []],
    ] as const;
    for (const [terms, error, args] of cases) {
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.escrow.write.postOffer(offerArgs(fx.node, terms), as),
        fx.escrow,
        error,
        [...args],
      );
    }
    for (const resources of [
      { cpuMillicores: 0, memoryMiB: 0, storageGiB: 0, gpus: 0 },
      { ...OFFER_RESOURCES, cpuMillicores: 4_001 },
      { ...OFFER_RESOURCES, memoryMiB: 8_193 },
      { ...OFFER_RESOURCES, storageGiB: 101 },
      { ...OFFER_RESOURCES, gpus: 1 },
    ]) {
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.escrow.write.postOffer(offerArgs(fx.node, TERMS, resources), as),
        fx.escrow,
        "LeaseEscrowInvalidResources",
        [node],
      );
    }
    // Boundary values are accepted: price × 5 years just fits, notice == minimum term, 1 lease.
    const edge = { price: maxUint256 / maxDuration5y, minDuration: 1n, maxDuration: maxDuration5y, noticePeriod: 1n, maxLeases: 1 };
    await fx.escrow.write.postOffer(offerArgs(fx.node, edge), as);
  });

  it("updates terms for new leases only", async () => {
    const fx = await loadFixture(leaseFixture);
    const before = await open(fx);
    const terms = { price: TERMS.price * 2n, minDuration: 60n, maxDuration: 7_200n, noticePeriod: 30n, maxLeases: 9 };
    const resources = { ...OFFER_RESOURCES, gpus: 0, storageGiB: 50 };
    const [, ...rest] = offerArgs(fx.node, terms, resources);
    await viem.assertions.emitWithArgs(
      fx.escrow.write.updateOffer([1n, ...rest], { account: fx.operator.account }),
      fx.escrow,
      "OfferUpdated",
      [1n, resources, terms.price, 60n, 7_200n, 30n, 9],
    );
    expect(await fx.escrow.read.getOffer([1n])).toMatchObject({ pricePerSecond: terms.price, maxLeases: 9, activeLeases: 1 });
    const after = await open(fx, terms.price * 60n);
    expect(await fx.escrow.read.getLease([before])).toMatchObject({
      pricePerSecond: TERMS.price,
      minDuration: TERMS.minDuration,
      maxDuration: TERMS.maxDuration,
      noticePeriod: TERMS.noticePeriod,
    });
    expect(await fx.escrow.read.getLease([after])).toMatchObject({
      pricePerSecond: terms.price,
      minDuration: 60n,
      maxDuration: 7_200n,
      noticePeriod: 30n,
    });
  });

  it("guards updateOffer and setOfferActive", async () => {
    const fx = await loadFixture(leaseFixture);
    const [, ...rest] = offerArgs(fx.node);
    const outsider = fx.accounts.outsider.account;
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.updateOffer([99n, ...rest], { account: fx.operator.account }),
      fx.escrow,
      "LeaseEscrowUnknownOffer",
      [99n],
    );
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.setOfferActive([99n, false], { account: fx.operator.account }),
      fx.escrow,
      "LeaseEscrowUnknownOffer",
      [99n],
    );
    for (const call of [
      fx.escrow.write.updateOffer([1n, ...rest], { account: outsider }),
      fx.escrow.write.setOfferActive([1n, false], { account: outsider }),
    ]) {
      await viem.assertions.revertWithCustomErrorWithArgs(call, fx.escrow, "LeaseEscrowNotNodeOperator", [
        getAddress(fx.node),
        getAddress(outsider.address),
      ]);
    }
    const [, ...bad] = offerArgs(fx.node, { ...TERMS, noticePeriod: TERMS.minDuration + 1n });
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.updateOffer([1n, ...bad], { account: fx.operator.account }),
      fx.escrow,
      "LeaseEscrowInvalidNoticePeriod",
      [TERMS.minDuration + 1n, TERMS.minDuration],
    );
  });

  it("switches an offer off and on", async () => {
    const fx = await loadFixture(leaseFixture);
    const as = { account: fx.operator.account };
    await viem.assertions.emitWithArgs(fx.escrow.write.setOfferActive([1n, false], as), fx.escrow, "OfferActiveSet", [
      1n,
      false,
    ]);
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.openLease([1n, MIN_DEPOSIT, TERMS.price], { account: fx.lessees[0].account }),
      fx.escrow,
      "LeaseEscrowOfferInactive",
      [1n],
    );
    await viem.assertions.emitWithArgs(fx.escrow.write.setOfferActive([1n, true], as), fx.escrow, "OfferActiveSet", [
      1n,
      true,
    ]);
    expect(await open(fx)).toBe(1n);
  });
});

describe("LeaseEscrow openLease", () => {
  it("escrows the deposit and records the lease", async () => {
    const fx = await loadFixture(leaseFixture);
    const [lessee] = fx.lessees;
    const deposit = TERMS.price * 7_200n + 12_345n;
    const start = BigInt(await time.latest()) + 10n;
    await time.setNextBlockTimestamp(start);
    await viem.assertions.emitWithArgs(
      fx.escrow.write.openLease([1n, deposit, TERMS.price], { account: lessee.account }),
      fx.escrow,
      "LeaseOpened",
      [
        1n,
        1n,
        getAddress(lessee.account.address),
        getAddress(fx.node),
        getAddress(fx.operator.account.address),
        TERMS.price,
        start,
        start + 7_200n,
        deposit,
      ],
    );
    expect(await fx.escrow.read.getLease([1n])).toEqual({
      offerId: 1n,
      node: getAddress(fx.node),
      operator: getAddress(fx.operator.account.address),
      lessee: getAddress(lessee.account.address),
      pricePerSecond: TERMS.price,
      start,
      end: start + 7_200n,
      paidThrough: start,
      minDuration: TERMS.minDuration,
      maxDuration: TERMS.maxDuration,
      noticePeriod: TERMS.noticePeriod,
      feeBps: Number(FEE_BPS),
      status: LeaseStatus.Active,
      deposit,
      paid: 0n,
      refunded: 0n,
    });
    expect(await fx.token.read.balanceOf([fx.escrow.address])).toBe(deposit);
    expect(await fx.escrow.read.escrowedOf([1n])).toBe(deposit);
    expect(await fx.escrow.read.leaseCount()).toBe(1n);
    expect(await fx.escrow.read.leasesOfNode([fx.node])).toEqual([1n]);
    expect(await fx.escrow.read.activeLeasesOfNode([fx.node])).toEqual([1n]);
    expect(await fx.escrow.read.leasesOfLessee([lessee.account.address])).toEqual([1n]);
    expect((await fx.escrow.read.getOffer([1n])).activeLeases).toBe(1);
  });

  it("enforces the lessee's price limit and the deposit bounds", async () => {
    const fx = await loadFixture(leaseFixture);
    const as = { account: fx.lessees[0].account };
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.openLease([1n, MIN_DEPOSIT, TERMS.price - 1n], as),
      fx.escrow,
      "LeaseEscrowPriceAboveMax",
      [TERMS.price, TERMS.price - 1n],
    );
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.openLease([1n, MIN_DEPOSIT - 1n, TERMS.price], as),
      fx.escrow,
      "LeaseEscrowDepositTooLow",
      [MIN_DEPOSIT - 1n, MIN_DEPOSIT],
    );
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.openLease([1n, MAX_DEPOSIT + 1n, TERMS.price], as),
      fx.escrow,
      "LeaseEscrowDepositTooHigh",
      [MAX_DEPOSIT + 1n, MAX_DEPOSIT],
    );
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.openLease([7n, MIN_DEPOSIT, TERMS.price], as),
      fx.escrow,
      "LeaseEscrowUnknownOffer",
      [7n],
    );
    expect(await open(fx, MAX_DEPOSIT)).toBe(1n);
    expect((await fx.escrow.read.getLease([1n])).end - (await fx.escrow.read.getLease([1n])).start).toBe(TERMS.maxDuration);
  });

  it("caps running leases per offer and per node", async () => {
    const fx = await loadFixture(leaseFixture);
    for (let i = 0; i < TERMS.maxLeases; i++) await open(fx, MIN_DEPOSIT, (i % 3) as 0 | 1 | 2);
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.openLease([1n, MIN_DEPOSIT, TERMS.price], { account: fx.lessees[0].account }),
      fx.escrow,
      "LeaseEscrowOfferFull",
      [1n, TERMS.maxLeases],
    );
    await fx.escrow.write.postOffer(offerArgs(fx.node, { ...TERMS, maxLeases: 40 }), { account: fx.operator.account });
    const cap = await fx.escrow.read.MAX_ACTIVE_LEASES_PER_NODE();
    for (let i = TERMS.maxLeases; i < Number(cap); i++) await open(fx, MIN_DEPOSIT, (i % 3) as 0 | 1 | 2, 2n);
    expect((await fx.escrow.read.activeLeasesOfNode([fx.node])).length).toBe(Number(cap));
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.openLease([2n, MIN_DEPOSIT, TERMS.price], { account: fx.lessees[1].account }),
      fx.escrow,
      "LeaseEscrowNodeFull",
      [getAddress(fx.node), cap],
    );
    // The failure hook's loop is bounded by the cap: terminating all 32 leases fits well in a block.
    const hash = await fx.escrow.write.reportResourceFailure([fx.node, BigInt(await time.latest()), keccak256(toHex("x"))], {
      account: fx.reporter.account,
    });
    const { gasUsed } = await fx.publicClient.waitForTransactionReceipt({ hash });
    expect(gasUsed).toBeLessThan(4_000_000n);
  });

  it("refuses jailed and retired nodes, and offers made stale by a new operator", async () => {
    const fx = await loadFixture(leaseFixture);
    const as = { account: fx.lessees[0].account };
    const until = BigInt(await time.latest()) + 3_600n;
    await fx.registry.write.jail([fx.node, until, keccak256(toHex("missed proof"))], { account: fx.accounts.jailer.account });
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.openLease([1n, MIN_DEPOSIT, TERMS.price], as),
      fx.escrow,
      "LeaseEscrowNodeNotActive",
      [getAddress(fx.node)],
    );
    await fx.registry.write.unjail([fx.node], { account: fx.accounts.jailer.account });
    expect(await open(fx)).toBe(1n);

    await fx.registry.write.retire([fx.node], { account: fx.operator.account });
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.openLease([1n, MIN_DEPOSIT, TERMS.price], as),
      fx.escrow,
      "LeaseEscrowNodeNotActive",
      [getAddress(fx.node)],
    );
    // The same node key registered again by another operator: the old offer must not bind the new one.
    const [, other] = fx.accounts.operators;
    await registerNode(fx, { operator: other, nodeKey: fx.reg.nodeKey });
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.openLease([1n, MIN_DEPOSIT, TERMS.price], as),
      fx.escrow,
      "LeaseEscrowOfferStale",
      [1n, getAddress(fx.operator.account.address), getAddress(other.account.address)],
    );
    const [, ...rest] = offerArgs(fx.node);
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.updateOffer([1n, ...rest], { account: other.account }),
      fx.escrow,
      "LeaseEscrowNotNodeOperator",
      [getAddress(fx.node), getAddress(other.account.address)],
    );
    // The lease opened before retirement keeps paying its original operator.
    expect((await fx.escrow.read.getLease([1n])).operator).toBe(getAddress(fx.operator.account.address));
  });

  it("reverts views on unknown ids", async () => {
    const fx = await loadFixture(leaseFixture);
    await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.read.getOffer([9n]), fx.escrow, "LeaseEscrowUnknownOffer", [9n]);
    for (const call of [
      fx.escrow.read.getLease([9n]),
      fx.escrow.read.accruedOf([9n]),
      fx.escrow.read.escrowedOf([9n]),
      fx.escrow.read.closePreview([9n]),
    ]) {
      await viem.assertions.revertWithCustomErrorWithArgs(call, fx.escrow, "LeaseEscrowUnknownLease", [9n]);
    }
  });
});
