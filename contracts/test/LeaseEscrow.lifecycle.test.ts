/**
 * LeaseEscrow money paths with exact balances: settle, natural end, top-up, close (notice window / minimum term),
 * the resource-failure hook, a 6-decimal token, and reentrancy through a malicious token.
 * Every step runs at a block timestamp the test sets, so every amount is computed exactly.
 */
import { network } from "hardhat";
import { type Address, encodeErrorResult, encodeFunctionData, getAddress, keccak256, maxUint256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import {
  FEE_BPS,
  LESSEE_FUNDING,
  LESSEE_FUNDING6,
  LeaseStatus,
  TERMS,
  TERMS6,
  lease6Fixture,
  leaseFixture,
  leaseIdOf,
  leaseReentrantFixture,
  type LeaseFixture,
} from "./lease.fixture.js";

const { viem, networkHelpers } = await network.create();
const { time, loadFixture } = networkHelpers;

const P = TERMS.price;
const EVIDENCE = keccak256(toHex("attestation: compute proof failed, epoch 42"));
/** Protocol fee on a gross payout: ceil(x × bps / 10 000). */
const feeOf = (x: bigint) => (x * FEE_BPS + 9_999n) / 10_000n;

/** Open a lease on offer 1 of `fx.escrow` at timestamp `t`. */
async function openAt(fx: LeaseFixture, t: bigint, deposit: bigint, index: 0 | 1 | 2 = 0) {
  await time.setNextBlockTimestamp(t);
  const hash = await fx.escrow.write.openLease([1n, deposit, P], { account: fx.lessees[index].account });
  return leaseIdOf(fx, hash);
}

/** Token balances of the parties of `fx.escrow` (lessee `index`). */
async function books(fx: LeaseFixture, index: 0 | 1 | 2 = 0) {
  const of = (a: Address) => fx.token.read.balanceOf([a]);
  return {
    operator: await of(fx.operator.account.address),
    treasury: await of(fx.accounts.treasury.account.address),
    lessee: await of(fx.lessees[index].account.address),
    escrow: await of(fx.escrow.address),
  };
}

async function start(fx: LeaseFixture) {
  return BigInt(await time.latest()) + 100n;
}

describe("LeaseEscrow settle and natural end", () => {
  it("streams to the operator, takes the fee rounded up, and refunds the dust at the end", async () => {
    const fx = await loadFixture(leaseFixture);
    const T = await start(fx);
    const deposit = P * 7_200n + 12_345n;
    const id = await openAt(fx, T, deposit);
    const before = await books(fx);
    const operator = getAddress(fx.operator.account.address);
    const anyone = { account: fx.accounts.outsider.account };

    await time.setNextBlockTimestamp(T + 1_000n);
    const first = P * 1_000n;
    await viem.assertions.emitWithArgs(fx.escrow.write.settle([id], anyone), fx.escrow, "LeaseSettled", [
      id,
      operator,
      first,
      feeOf(first),
      T + 1_000n,
    ]);
    expect(await fx.escrow.read.accruedOf([id])).toBe(first);
    expect(await books(fx)).toEqual({
      ...before,
      operator: before.operator + first - feeOf(first),
      treasury: before.treasury + feeOf(first),
      escrow: deposit - first,
    });

    await time.setNextBlockTimestamp(T + 9_000n);
    const rest = P * 6_200n;
    const tx = fx.escrow.write.settle([id], anyone);
    await viem.assertions.emitWithArgs(tx, fx.escrow, "LeaseSettled", [id, operator, rest, feeOf(rest), T + 7_200n]);
    await viem.assertions.emitWithArgs(tx, fx.escrow, "LeaseEnded", [
      id,
      getAddress(fx.lessees[0].account.address),
      12_345n,
    ]);
    const after = await books(fx);
    expect(after.operator - before.operator + after.treasury - before.treasury).toBe(P * 7_200n);
    expect(after.treasury - before.treasury).toBe(feeOf(first) + feeOf(rest));
    expect(after.lessee).toBe(LESSEE_FUNDING - deposit + 12_345n);
    expect(after.escrow).toBe(0n);
    expect(await fx.escrow.read.getLease([id])).toMatchObject({
      status: LeaseStatus.Ended,
      paid: P * 7_200n,
      refunded: 12_345n,
      paidThrough: T + 7_200n,
    });
    expect(await fx.escrow.read.accruedOf([id])).toBe(P * 7_200n);
    expect(await fx.escrow.read.escrowedOf([id])).toBe(0n);
    expect(await fx.escrow.read.activeLeasesOfNode([fx.node])).toEqual([]);
    expect((await fx.escrow.read.getOffer([1n])).activeLeases).toBe(0);
    await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.settle([id]), fx.escrow, "LeaseEscrowInvalidStatus", [
      id,
      LeaseStatus.Ended,
    ]);
    await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.settle([5n]), fx.escrow, "LeaseEscrowUnknownLease", [5n]);
  });

  it("pays the fee to the treasury in force at settlement", async () => {
    const fx = await loadFixture(leaseFixture);
    const T = await start(fx);
    const id = await openAt(fx, T, P * 3_600n);
    const newTreasury = fx.accounts.outsider.account.address;
    await fx.escrow.write.setTreasury([newTreasury]);
    await time.setNextBlockTimestamp(T + 3_600n);
    await fx.escrow.write.settle([id]);
    expect(await fx.token.read.balanceOf([newTreasury])).toBe(feeOf(P * 3_600n));
  });
});

describe("LeaseEscrow topUp", () => {
  it("extends the lease by whole seconds of the new total, capped by the maximum term", async () => {
    const fx = await loadFixture(leaseFixture);
    const T = await start(fx);
    const id = await openAt(fx, T, P * 3_600n);
    const as = { account: fx.lessees[0].account };
    const amount = P * 1_800n + 7n;
    await time.setNextBlockTimestamp(T + 100n);
    await viem.assertions.emitWithArgs(fx.escrow.write.topUp([id, amount], as), fx.escrow, "LeaseToppedUp", [
      id,
      amount,
      P * 5_400n + 7n,
      T + 5_400n,
    ]);
    expect(await fx.token.read.balanceOf([fx.escrow.address])).toBe(P * 5_400n + 7n);

    const maxDeposit = P * TERMS.maxDuration;
    const room = maxDeposit - (P * 5_400n + 7n);
    await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.topUp([id, room + 1n], as), fx.escrow, "LeaseEscrowDepositTooHigh", [
      maxDeposit + 1n,
      maxDeposit,
    ]);
    await viem.assertions.revertWithCustomError(fx.escrow.write.topUp([id, 0n], as), fx.escrow, "LeaseEscrowZeroAmount");
    const other = fx.lessees[1].account;
    await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.topUp([id, 1n], { account: other }), fx.escrow, "LeaseEscrowNotLessee", [
      id,
      getAddress(other.address),
    ]);
    await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.topUp([8n, 1n], as), fx.escrow, "LeaseEscrowUnknownLease", [8n]);
    await fx.escrow.write.topUp([id, room], as);
    expect((await fx.escrow.read.getLease([id])).end).toBe(T + TERMS.maxDuration);

    await time.increaseTo(T + TERMS.maxDuration);
    await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.topUp([id, 1n], as), fx.escrow, "LeaseEscrowLeaseExpired", [
      id,
      T + TERMS.maxDuration,
    ]);
  });
});

describe("LeaseEscrow close", () => {
  it("within the minimum term: pays through start + minDuration, refunds the rest at once", async () => {
    const fx = await loadFixture(leaseFixture);
    const T = await start(fx);
    const deposit = P * 36_000n + 99n;
    const id = await openAt(fx, T, deposit);
    const before = await books(fx);
    const as = { account: fx.lessees[0].account };
    await time.increaseTo(T + 599n);
    // closePreview at T+599 sees max(T+599+600, T+3600) = T+3600, the same end as a close at T+600.
    const refund = deposit - P * 3_600n;
    expect(await fx.escrow.read.closePreview([id])).toBe(refund);
    await time.setNextBlockTimestamp(T + 600n);
    await viem.assertions.emitWithArgs(fx.escrow.write.close([id], as), fx.escrow, "LeaseClosing", [id, T + 3_600n, refund]);
    expect(await fx.escrow.read.getLease([id])).toMatchObject({ status: LeaseStatus.Closing, end: T + 3_600n, refunded: refund });
    expect((await books(fx)).lessee).toBe(before.lessee + refund);

    await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.close([id], as), fx.escrow, "LeaseEscrowInvalidStatus", [
      id,
      LeaseStatus.Closing,
    ]);
    await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.read.closePreview([id]), fx.escrow, "LeaseEscrowInvalidStatus", [
      id,
      LeaseStatus.Closing,
    ]);
    await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.topUp([id, 1n], as), fx.escrow, "LeaseEscrowInvalidStatus", [
      id,
      LeaseStatus.Closing,
    ]);

    await time.setNextBlockTimestamp(T + 5_000n);
    const tx = fx.escrow.write.settle([id]);
    await viem.assertions.emitWithArgs(tx, fx.escrow, "LeaseEnded", [id, getAddress(fx.lessees[0].account.address), 0n]);
    const after = await books(fx);
    expect(after.operator - before.operator).toBe(P * 3_600n - feeOf(P * 3_600n));
    expect(after.treasury - before.treasury).toBe(feeOf(P * 3_600n));
    expect(after.lessee - before.lessee).toBe(refund);
    expect(after.escrow).toBe(0n);
  });

  it("after the minimum term: pays through the notice window", async () => {
    const fx = await loadFixture(leaseFixture);
    const T = await start(fx);
    const deposit = P * 36_000n;
    const id = await openAt(fx, T, deposit);
    await time.setNextBlockTimestamp(T + 2_000n);
    await fx.escrow.write.settle([id]);
    await time.setNextBlockTimestamp(T + 5_000n);
    const refund = deposit - P * 5_600n;
    await viem.assertions.emitWithArgs(
      fx.escrow.write.close([id], { account: fx.lessees[0].account }),
      fx.escrow,
      "LeaseClosing",
      [id, T + 5_600n, refund],
    );
    await time.setNextBlockTimestamp(T + 5_600n);
    await viem.assertions.emitWithArgs(fx.escrow.write.settle([id]), fx.escrow, "LeaseSettled", [
      id,
      getAddress(fx.operator.account.address),
      P * 3_600n,
      feeOf(P * 3_600n),
      T + 5_600n,
    ]);
    expect(await fx.escrow.read.getLease([id])).toMatchObject({ status: LeaseStatus.Ended, paid: P * 5_600n, refunded: refund });
  });

  it("near the end refunds only the dust; after the end it finalises at once", async () => {
    const fx = await loadFixture(leaseFixture);
    const T = await start(fx);
    const near = await openAt(fx, T, P * 3_700n + 5n, 0);
    const late = await openAt(fx, T + 1n, P * 3_600n + 6n, 1);
    await time.setNextBlockTimestamp(T + 3_650n);
    await viem.assertions.emitWithArgs(
      fx.escrow.write.close([near], { account: fx.lessees[0].account }),
      fx.escrow,
      "LeaseClosing",
      [near, T + 3_700n, 5n],
    );
    await time.setNextBlockTimestamp(T + 4_000n);
    const tx = fx.escrow.write.close([late], { account: fx.lessees[1].account });
    await viem.assertions.emitWithArgs(tx, fx.escrow, "LeaseClosing", [late, T + 3_601n, 6n]);
    await viem.assertions.emitWithArgs(tx, fx.escrow, "LeaseSettled", [
      late,
      getAddress(fx.operator.account.address),
      P * 3_600n,
      feeOf(P * 3_600n),
      T + 3_601n,
    ]);
    await viem.assertions.emitWithArgs(tx, fx.escrow, "LeaseEnded", [late, getAddress(fx.lessees[1].account.address), 0n]);
    expect((await fx.escrow.read.getLease([late])).status).toBe(LeaseStatus.Ended);
    expect(await fx.token.read.balanceOf([fx.lessees[1].account.address])).toBe(LESSEE_FUNDING - P * 3_600n);
  });

  it("only the lessee may close", async () => {
    const fx = await loadFixture(leaseFixture);
    const id = await openAt(fx, await start(fx), P * 3_600n);
    const other = fx.accounts.outsider.account;
    await viem.assertions.revertWithCustomErrorWithArgs(fx.escrow.write.close([id], { account: other }), fx.escrow, "LeaseEscrowNotLessee", [
      id,
      getAddress(other.address),
    ]);
  });
});

describe("LeaseEscrow reportResourceFailure", () => {
  it("cuts every running lease at clamp(failedAt, paidThrough, end) and refunds the rest", async () => {
    const fx = await loadFixture(leaseFixture);
    const T = await start(fx);
    const a = await openAt(fx, T, P * 7_200n + 1n, 0); // settled through T+1000 before the failure at T+500
    const b = await openAt(fx, T + 1n, P * 7_200n + 2n, 1); // cut at T+500
    const c = await openAt(fx, T + 2n, P * 3_600n + 3n, 2); // closing (ends T+3602), cut at T+500
    await time.setNextBlockTimestamp(T + 1_000n);
    await fx.escrow.write.settle([a]);
    await time.setNextBlockTimestamp(T + 1_100n);
    const refundC = 3n; // closing within the minimum term refunds only the dust
    await fx.escrow.write.close([c], { account: fx.lessees[2].account });
    const before = [await books(fx, 0), await books(fx, 1), await books(fx, 2)];

    await time.setNextBlockTimestamp(T + 2_000n);
    const tx = fx.escrow.write.reportResourceFailure([fx.node, T + 500n, EVIDENCE], { account: fx.reporter.account });
    const node = getAddress(fx.node);
    const refundA = P * 6_200n + 1n;
    const grossB = P * 499n;
    const refundB = P * 6_701n + 2n;
    const grossC = P * 498n;
    const refundCut = P * 3_102n; // [T+500, T+3602) of the closing lease, its dust already refunded
    await viem.assertions.emitWithArgs(tx, fx.escrow, "LeaseTerminated", [a, node, T + 1_000n, 0n, 0n, refundA, EVIDENCE]);
    await viem.assertions.emitWithArgs(tx, fx.escrow, "LeaseTerminated", [b, node, T + 500n, grossB, feeOf(grossB), refundB, EVIDENCE]);
    await viem.assertions.emitWithArgs(tx, fx.escrow, "LeaseTerminated", [c, node, T + 500n, grossC, feeOf(grossC), refundCut, EVIDENCE]);
    await viem.assertions.emitWithArgs(tx, fx.escrow, "ResourceFailureReported", [node, T + 500n, EVIDENCE, 3n]);

    const after = [await books(fx, 0), await books(fx, 1), await books(fx, 2)];
    expect(after[0]!.lessee - before[0]!.lessee).toBe(refundA);
    expect(after[1]!.lessee - before[1]!.lessee).toBe(refundB);
    expect(after[2]!.lessee - before[2]!.lessee).toBe(refundCut);
    expect(after[0]!.operator - before[0]!.operator).toBe(grossB - feeOf(grossB) + grossC - feeOf(grossC));
    expect(after[0]!.treasury - before[0]!.treasury).toBe(feeOf(grossB) + feeOf(grossC));
    expect(after[0]!.escrow).toBe(0n);
    for (const id of [a, b, c]) {
      const lease = await fx.escrow.read.getLease([id]);
      expect(lease.status).toBe(LeaseStatus.Terminated);
      expect(lease.deposit).toBe(lease.paid + lease.refunded);
      expect(lease.end).toBe(lease.paidThrough);
    }
    expect(refundC).toBe((await fx.escrow.read.getLease([c])).refunded - refundCut);
    expect(await fx.escrow.read.activeLeasesOfNode([fx.node])).toEqual([]);
    expect((await fx.escrow.read.getOffer([1n])).activeLeases).toBe(0);
    const as = { account: fx.lessees[0].account };
    for (const call of [fx.escrow.write.settle([a]), fx.escrow.write.close([a], as), fx.escrow.write.topUp([a, 1n], as)]) {
      await viem.assertions.revertWithCustomErrorWithArgs(call, fx.escrow, "LeaseEscrowInvalidStatus", [a, LeaseStatus.Terminated]);
    }
  });

  it("pays a lease that had already run out in full, and reports nodes without leases", async () => {
    const fx = await loadFixture(leaseFixture);
    const T = await start(fx);
    const id = await openAt(fx, T, P * 3_600n + 9n);
    await time.setNextBlockTimestamp(T + 4_000n);
    const tx = fx.escrow.write.reportResourceFailure([fx.node, T + 3_900n, EVIDENCE], { account: fx.reporter.account });
    await viem.assertions.emitWithArgs(tx, fx.escrow, "LeaseTerminated", [
      id,
      getAddress(fx.node),
      T + 3_600n,
      P * 3_600n,
      feeOf(P * 3_600n),
      9n,
      EVIDENCE,
    ]);
    await viem.assertions.emitWithArgs(
      fx.escrow.write.reportResourceFailure([fx.node, T + 3_900n, EVIDENCE], { account: fx.reporter.account }),
      fx.escrow,
      "ResourceFailureReported",
      [getAddress(fx.node), T + 3_900n, EVIDENCE, 0n],
    );
  });

  it("is for the reporter role only and refuses failures in the future", async () => {
    const fx = await loadFixture(leaseFixture);
    const who = fx.accounts.outsider.account;
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.reportResourceFailure([fx.node, 0n, EVIDENCE], { account: who }),
      fx.escrow,
      "AccessControlUnauthorizedAccount",
      [getAddress(who.address), fx.reporterRole],
    );
    const now = BigInt(await time.latest()) + 10n;
    await time.setNextBlockTimestamp(now);
    await viem.assertions.revertWithCustomErrorWithArgs(
      fx.escrow.write.reportResourceFailure([fx.node, now + 1n, EVIDENCE], { account: fx.reporter.account }),
      fx.escrow,
      "LeaseEscrowFailureInFuture",
      [now + 1n, now],
    );
  });

  it("keeps streaming on a jailed node until the failure is reported", async () => {
    const fx = await loadFixture(leaseFixture);
    const T = await start(fx);
    const id = await openAt(fx, T, P * 3_600n);
    await fx.registry.write.jail([fx.node, T + 10_000n, EVIDENCE], { account: fx.accounts.jailer.account });
    await time.setNextBlockTimestamp(T + 100n);
    await fx.escrow.write.settle([id]);
    expect((await fx.escrow.read.getLease([id])).paid).toBe(P * 100n);
  });
});

describe("LeaseEscrow with a 6-decimal token", () => {
  it("settles, closes and refunds to the micro-unit", async () => {
    const fx = await loadFixture(lease6Fixture);
    const { escrow6, usdc } = fx;
    const p = TERMS6.price;
    const T = await start(fx);
    const [lessee] = fx.lessees;
    const deposit = p * 10_000n + 5n; // 70 005 µUSDC: 10 000 s and 5 of dust
    await time.setNextBlockTimestamp(T);
    const id = await leaseIdOf(
      { ...fx, escrow: escrow6 },
      await escrow6.write.openLease([1n, deposit, p], { account: lessee.account }),
    );
    await time.setNextBlockTimestamp(T + 1_001n);
    // 7 007 µUSDC accrued; fee = ceil(7 007 × 2.5 %) = ceil(175.175) = 176.
    await viem.assertions.emitWithArgs(escrow6.write.settle([id]), escrow6, "LeaseSettled", [
      id,
      getAddress(fx.operator.account.address),
      7_007n,
      176n,
      T + 1_001n,
    ]);
    await time.setNextBlockTimestamp(T + 4_000n);
    // max(T+4000+600, T+3600) = T+4600 → refund 70 005 − 7 × 4 600 = 37 805.
    await viem.assertions.emitWithArgs(escrow6.write.close([id], { account: lessee.account }), escrow6, "LeaseClosing", [
      id,
      T + 4_600n,
      37_805n,
    ]);
    await time.setNextBlockTimestamp(T + 4_600n);
    // 7 × 3 599 = 25 193; fee = ceil(629.825) = 630.
    await viem.assertions.emitWithArgs(escrow6.write.settle([id]), escrow6, "LeaseSettled", [
      id,
      getAddress(fx.operator.account.address),
      25_193n,
      630n,
      T + 4_600n,
    ]);
    expect(await usdc.read.balanceOf([fx.operator.account.address])).toBe(7_007n - 176n + 25_193n - 630n);
    expect(await usdc.read.balanceOf([fx.accounts.treasury.account.address])).toBe(806n);
    expect(await usdc.read.balanceOf([lessee.account.address])).toBe(LESSEE_FUNDING6 - deposit + 37_805n);
    expect(await usdc.read.balanceOf([escrow6.address])).toBe(0n);
    expect(7_007n + 25_193n + 37_805n).toBe(deposit);
  });

  it("a fee on one micro-unit rounds up to the whole unit; zero fee takes nothing", async () => {
    const fx = await loadFixture(lease6Fixture);
    const { escrow6, usdc } = fx;
    await escrow6.write.postOffer(
      [fx.node, { cpuMillicores: 1, memoryMiB: 1, storageGiB: 0, gpus: 0 }, 1n, 1n, 10n, 0n, 2],
      { account: fx.operator.account },
    );
    const T = await start(fx);
    const as = { account: fx.lessees[1].account };
    await time.setNextBlockTimestamp(T);
    await escrow6.write.openLease([2n, 3n, 1n], as);
    await time.setNextBlockTimestamp(T + 1n);
    await viem.assertions.emitWithArgs(escrow6.write.settle([1n]), escrow6, "LeaseSettled", [
      1n,
      getAddress(fx.operator.account.address),
      1n,
      1n,
      T + 1n,
    ]);
    await escrow6.write.setProtocolFee([0]);
    await time.setNextBlockTimestamp(T + 5n);
    await escrow6.write.openLease([2n, 2n, 1n], as);
    await time.setNextBlockTimestamp(T + 20n);
    await escrow6.write.settle([2n]);
    expect(await usdc.read.balanceOf([fx.operator.account.address])).toBe(0n + 2n);
    expect(await usdc.read.balanceOf([fx.accounts.treasury.account.address])).toBe(1n);
  });
});

describe("LeaseEscrow reentrancy", () => {
  it("blocks settle and close re-entered from a token transfer", async () => {
    const fx = await loadFixture(leaseReentrantFixture);
    const { evil, escrowR } = fx;
    const [lessee] = fx.lessees;
    const reentrantCall = encodeErrorResult({ abi: escrowR.abi, errorName: "ReentrancyGuardReentrantCall" });

    // 1. During openLease's transferFrom, the token calls settle(1) on the escrow.
    await evil.write.arm([escrowR.address, encodeFunctionData({ abi: escrowR.abi, functionName: "settle", args: [1n] })]);
    await escrowR.write.openLease([1n, P * 3_600n, maxUint256], { account: lessee.account });
    expect(await evil.read.attempts()).toBe(1n);
    expect(await evil.read.lastCallOk()).toBe(false);
    expect(await evil.read.lastReturn()).toBe(reentrantCall);

    // 2. During settle's payout to the operator, the token calls close(1).
    await time.increase(100);
    await evil.write.arm([escrowR.address, encodeFunctionData({ abi: escrowR.abi, functionName: "close", args: [1n] })]);
    await escrowR.write.settle([1n]);
    expect(await evil.read.attempts()).toBe(2n);
    expect(await evil.read.lastCallOk()).toBe(false);
    expect(await evil.read.lastReturn()).toBe(reentrantCall);
    expect((await escrowR.read.getLease([1n])).status).toBe(LeaseStatus.Active);
    expect(await evil.read.balanceOf([escrowR.address])).toBe(await escrowR.read.escrowedOf([1n]));
  });
});
