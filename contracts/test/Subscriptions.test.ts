import { network } from "hardhat";
import type { NetworkConnection } from "hardhat/types/network";
import { type Hex, getAddress, parseEventLogs, zeroAddress, zeroHash } from "viem";
import { describe, expect, it } from "vitest";
import {
  DAY,
  DEFAULT_FEE_BPS,
  Visibility,
  accruedModel,
  buildAllowlist,
  deployServices6Fixture,
  deployServicesFixture,
  feeModel,
  publishService,
  serviceParams,
  txTimestamp,
} from "./services.fixture.js";

const { viem, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const ONE = 10n ** 18n;
const PRICE = 30n * ONE + 7n; // per period; the odd wei makes rounding visible
const PERIOD = 30n * DAY;
const ONCE = 7n * ONE;
const ONCE_FOR = 7n * DAY;
const FEE = BigInt(DEFAULT_FEE_BPS);

/** Deploy fixture plus service 1: public, PRICE per PERIOD and ONCE for ONCE_FOR. */
async function publishedFixture(connection: NetworkConnection) {
  const fx = await deployServicesFixture(connection);
  const id = await publishService(fx, {
    pricing: { perPeriod: PRICE, periodSeconds: PERIOD, oneTime: ONCE, oneTimeDuration: ONCE_FOR },
  });
  const [a, b, c] = fx.accounts.consumers;
  return { ...fx, id, a, b, c, owner: fx.accounts.owner };
}

const load = () => loadFixture(publishedFixture);
type Fx = Awaited<ReturnType<typeof publishedFixture>>;
type Wallet = Fx["a"];

/** Mine the next transaction at exactly `t`. */
async function at(t: bigint) {
  await time.setNextBlockTimestamp(t);
}

async function nextTime(delta = 100n): Promise<bigint> {
  return BigInt(await time.latest()) + delta;
}

async function balances(fx: Fx, ...who: { account: { address: Hex } }[]) {
  return Promise.all(who.map((w) => fx.token.read.balanceOf([w.account.address])));
}

/** Subscribe `who` for `periods` at exactly `t`; returns the tx hash. */
async function subscribeAt(fx: Fx, who: Wallet, periods: number, t: bigint) {
  await at(t);
  return fx.subscriptions.write.subscribe([fx.id, periods, PRICE, []], { account: who.account });
}

describe("Subscriptions", () => {
  describe("deployment and admin", () => {
    it("emits its parameters and rejects zero addresses and a fee above 10 %", async () => {
      const fx = await load();
      const [admin, treasury] = await viem.getWalletClients();
      const args = [fx.token.address, fx.registry.address, admin!.account.address, treasury!.account.address, 250] as const;
      const { contract, deploymentTransaction } = await viem.sendDeploymentTransaction("Subscriptions", [...args]);
      const hash = Promise.resolve(deploymentTransaction.hash);
      await viem.assertions.emitWithArgs(hash, contract, "ProtocolFeeSet", [250]);
      await viem.assertions.emitWithArgs(hash, contract, "TreasurySet", [getAddress(treasury!.account.address)]);
      expect(await contract.read.protocolFeeBps()).toBe(250);
      expect(await contract.read.MAX_PROTOCOL_FEE_BPS()).toBe(1_000);
      expect(await contract.read.token()).toBe(getAddress(fx.token.address));
      expect(await contract.read.services()).toBe(getAddress(fx.registry.address));
      for (const i of [0, 1, 2, 3]) {
        const bad = [...args] as [Hex, Hex, Hex, Hex, number];
        bad[i] = zeroAddress;
        await viem.assertions.revertWithCustomError(viem.deployContract("Subscriptions", bad), fx.subscriptions, "SubscriptionsZeroAddress");
      }
      await viem.assertions.revertWithCustomErrorWithArgs(
        viem.deployContract("Subscriptions", [args[0], args[1], args[2], args[3], 1_001]),
        fx.subscriptions,
        "SubscriptionsFeeTooHigh",
        [1_001, 1_000],
      );
    });

    it("lets only the admin set the fee (<= 10 %) and the treasury (non-zero)", async () => {
      const fx = await load();
      const { outsider, deployer } = fx.accounts;
      await viem.assertions.emitWithArgs(fx.subscriptions.write.setProtocolFee([1_000]), fx.subscriptions, "ProtocolFeeSet", [1_000]);
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.subscriptions.write.setProtocolFee([1_001]),
        fx.subscriptions,
        "SubscriptionsFeeTooHigh",
        [1_001, 1_000],
      );
      await viem.assertions.emitWithArgs(
        fx.subscriptions.write.setTreasury([outsider.account.address]),
        fx.subscriptions,
        "TreasurySet",
        [getAddress(outsider.account.address)],
      );
      expect(await fx.subscriptions.read.treasury()).toBe(getAddress(outsider.account.address));
      await viem.assertions.revertWithCustomError(fx.subscriptions.write.setTreasury([zeroAddress]), fx.subscriptions, "SubscriptionsZeroAddress");
      for (const call of [
        fx.subscriptions.write.setProtocolFee([0], { account: outsider.account }),
        fx.subscriptions.write.setTreasury([outsider.account.address], { account: outsider.account }),
      ]) {
        await viem.assertions.revertWithCustomErrorWithArgs(call, fx.subscriptions, "AccessControlUnauthorizedAccount", [
          getAddress(outsider.account.address),
          zeroHash,
        ]);
      }
      expect(await fx.subscriptions.read.hasRole([zeroHash, deployer.account.address])).toBe(true);
    });
  });

  describe("subscribe", () => {
    it("escrows periods × price, opens the stream and counts the subscriber", async () => {
      const fx = await load();
      const t0 = await nextTime();
      const [before] = await balances(fx, fx.a);
      const hash = subscribeAt(fx, fx.a, 3, t0);
      const A = getAddress(fx.a.account.address);
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "Subscribed", [fx.id, A, 3, PRICE, 3n * PRICE, 3n * PRICE, t0 + 3n * PERIOD]);
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "SubscriberAdded", [fx.id, A, 1n]);
      expect(await fx.subscriptions.read.getSubscription([fx.id, A])).toEqual({
        balance: 3n * PRICE,
        lastSettled: t0,
        paidUntil: t0 + 3n * PERIOD,
        oneTimeUntil: 0n,
        counted: true,
      });
      const [after] = await balances(fx, fx.a);
      expect(before! - after!).toBe(3n * PRICE);
      expect(await fx.token.read.balanceOf([fx.subscriptions.address])).toBe(3n * PRICE);
      expect(await fx.subscriptions.read.isActive([fx.id, A])).toBe(true);
      expect(await fx.subscriptions.read.isSubscribed([fx.id, A])).toBe(true);
      expect(await fx.subscriptions.read.expiresAt([fx.id, A])).toBe(t0 + 3n * PERIOD);
      expect(await fx.subscriptions.read.subscriberCount([fx.id])).toBe(1n);
    });

    it("renews an active stream: settles first, extends from paidUntil, counts once", async () => {
      const fx = await load();
      const A = getAddress(fx.a.account.address);
      const t0 = await nextTime();
      await subscribeAt(fx, fx.a, 1, t0);
      const t1 = t0 + 10n * DAY + 3n;
      await at(t1);
      const [ownerBefore, treasuryBefore] = await balances(fx, fx.owner, fx.accounts.treasury);
      const hash = fx.subscriptions.write.renew([fx.id, 2, PRICE, []], { account: fx.a.account });
      const accrued = accruedModel(PRICE, t0, t0 + PERIOD, t1);
      const fee = feeModel(accrued, FEE);
      const balance = PRICE - accrued + 2n * PRICE;
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "Settled", [fx.id, A, getAddress(fx.owner.account.address), accrued - fee, fee, PRICE - accrued, t1]);
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "Subscribed", [fx.id, A, 2, PRICE, 2n * PRICE, balance, t0 + 3n * PERIOD]);
      const [ownerAfter, treasuryAfter] = await balances(fx, fx.owner, fx.accounts.treasury);
      expect([ownerAfter! - ownerBefore!, treasuryAfter! - treasuryBefore!]).toEqual([accrued - fee, fee]);
      const sub = await fx.subscriptions.read.getSubscription([fx.id, A]);
      expect([sub.balance, sub.lastSettled, sub.paidUntil]).toEqual([balance, t1, t0 + 3n * PERIOD]);
      expect(await fx.subscriptions.read.subscriberCount([fx.id])).toBe(1n);
      const logs = parseEventLogs({ abi: fx.subscriptions.abi, logs: (await fx.publicClient.getTransactionReceipt({ hash: await hash })).logs });
      expect(logs.map((l) => l.eventName)).toEqual(["Settled", "Subscribed"]);
    });

    it("renews a lapsed stream: pays the owner the whole rest and restarts from now", async () => {
      const fx = await load();
      const A = getAddress(fx.a.account.address);
      const t0 = await nextTime();
      await subscribeAt(fx, fx.a, 1, t0);
      const t1 = t0 + PERIOD + 5n * DAY;
      const hash = subscribeAt(fx, fx.a, 1, t1);
      const fee = feeModel(PRICE, FEE);
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "Settled", [fx.id, A, getAddress(fx.owner.account.address), PRICE - fee, fee, 0n, t0 + PERIOD]);
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "Subscribed", [fx.id, A, 1, PRICE, PRICE, PRICE, t1 + PERIOD]);
    });

    it("rejects zero periods, a retired or unknown service, one without a period price, and a raised price", async () => {
      const fx = await load();
      const o = { account: fx.a.account };
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.subscriptions.write.subscribe([fx.id, 0, PRICE, []], o),
        fx.subscriptions,
        "SubscriptionsZeroPeriods",
        [fx.id],
      );
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.subscriptions.write.subscribe([99n, 1, PRICE, []], o),
        fx.registry,
        "ServiceRegistryUnknownService",
        [99n],
      );
      const onceOnly = await publishService(fx, { name: "once", pricing: { perPeriod: 0n, oneTime: 1n, oneTimeDuration: 1n } });
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.subscriptions.write.subscribe([onceOnly, 1, PRICE, []], o),
        fx.subscriptions,
        "SubscriptionsNotRecurring",
        [onceOnly],
      );
      // The owner raises the price after the consumer read it.
      await fx.registry.write.update([fx.id, serviceParams({ pricing: { perPeriod: PRICE + 1n, periodSeconds: PERIOD } })], {
        account: fx.owner.account,
      });
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.subscriptions.write.subscribe([fx.id, 1, PRICE, []], o),
        fx.subscriptions,
        "SubscriptionsPriceAboveMax",
        [fx.id, PRICE + 1n, PRICE],
      );
      await fx.registry.write.retire([fx.id], { account: fx.owner.account });
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.subscriptions.write.subscribe([fx.id, 1, PRICE + 1n, []], o),
        fx.subscriptions,
        "SubscriptionsServiceRetired",
        [fx.id],
      );
    });

    it("rejects deposits whose balance or end does not fit the stored widths", async () => {
      const fx = await load();
      const big = await publishService(fx, { name: "big", pricing: { perPeriod: 2n ** 127n, periodSeconds: 1n } });
      const long = await publishService(fx, { name: "long", pricing: { perPeriod: 1n, periodSeconds: 2n ** 62n } });
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.subscriptions.write.subscribe([big, 2, 2n ** 127n, []], { account: fx.a.account }),
        fx.subscriptions,
        "SafeCastOverflowedUintDowncast",
        [128, 2n ** 128n],
      );
      await viem.assertions.revertWithCustomError(
        fx.subscriptions.write.subscribe([long, 4, 1n, []], { account: fx.a.account }),
        fx.subscriptions,
        "SafeCastOverflowedUintDowncast",
      );
    });

    it("admits a private service's allow-listed consumers only (grant or Merkle proof)", async () => {
      const fx = await load();
      const id = await publishService(fx, { name: "private", visibility: Visibility.Private, pricing: { perPeriod: PRICE, periodSeconds: PERIOD } });
      const [A, B, C] = [getAddress(fx.a.account.address), getAddress(fx.b.account.address), getAddress(fx.c.account.address)];
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.subscriptions.write.subscribe([id, 1, PRICE, []], { account: fx.a.account }),
        fx.subscriptions,
        "SubscriptionsNotAllowed",
        [id, A],
      );
      await fx.registry.write.grant([id, A], { account: fx.owner.account });
      await viem.assertions.emit(fx.subscriptions.write.subscribe([id, 1, PRICE, []], { account: fx.a.account }), fx.subscriptions, "Subscribed");

      const tree = buildAllowlist([B, getAddress(fx.accounts.treasury.account.address)]);
      await fx.registry.write.setAllowlistRoot([id, tree.root], { account: fx.owner.account });
      await viem.assertions.emit(
        fx.subscriptions.write.subscribe([id, 1, PRICE, tree.proofOf(B)], { account: fx.b.account }),
        fx.subscriptions,
        "Subscribed",
      );
      // C presents B's proof.
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.subscriptions.write.subscribe([id, 1, PRICE, tree.proofOf(B)], { account: fx.c.account }),
        fx.subscriptions,
        "SubscriptionsNotAllowed",
        [id, C],
      );
      // The owner is always admitted to its own service.
      await fx.token.write.transfer([fx.owner.account.address, PRICE]);
      await fx.token.write.approve([fx.subscriptions.address, PRICE], { account: fx.owner.account });
      await viem.assertions.emit(fx.subscriptions.write.subscribe([id, 1, PRICE, []], { account: fx.owner.account }), fx.subscriptions, "Subscribed");
      expect(await fx.subscriptions.read.subscriberCount([id])).toBe(3n);
    });
  });

  describe("settle", () => {
    it("pays the released part (fee rounded up to the treasury), callable by anyone", async () => {
      const fx = await load();
      const A = getAddress(fx.a.account.address);
      const t0 = await nextTime();
      await subscribeAt(fx, fx.a, 3, t0);
      const t1 = t0 + 45n * DAY + 17n;
      await at(t1);
      const [ownerBefore, treasuryBefore] = await balances(fx, fx.owner, fx.accounts.treasury);
      const hash = fx.subscriptions.write.settle([fx.id, A], { account: fx.accounts.outsider.account });
      const accrued = accruedModel(3n * PRICE, t0, t0 + 3n * PERIOD, t1);
      const fee = feeModel(accrued, FEE);
      expect(fee * 10_000n).toBeGreaterThanOrEqual(accrued * FEE);
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "Settled", [fx.id, A, getAddress(fx.owner.account.address), accrued - fee, fee, 3n * PRICE - accrued, t1]);
      const [ownerAfter, treasuryAfter] = await balances(fx, fx.owner, fx.accounts.treasury);
      expect([ownerAfter! - ownerBefore!, treasuryAfter! - treasuryBefore!]).toEqual([accrued - fee, fee]);
      expect(await fx.subscriptions.read.accruedOf([fx.id, A])).toBe(0n);
    });

    it("releases exactly the whole deposit by paidUntil, then stops counting the lapsed subscriber", async () => {
      const fx = await load();
      const A = getAddress(fx.a.account.address);
      const t0 = await nextTime();
      await subscribeAt(fx, fx.a, 2, t0);
      let paid = 0n;
      for (const dt of [1n, 7n * DAY + 13n, 29n * DAY + 1n]) {
        await at(t0 + dt);
        const hash = await fx.subscriptions.write.settle([fx.id, A]);
        const [log] = parseEventLogs({ abi: fx.subscriptions.abi, eventName: "Settled", logs: (await fx.publicClient.getTransactionReceipt({ hash })).logs });
        paid += log!.args.ownerAmount + log!.args.fee;
      }
      await at(t0 + 2n * PERIOD + 1n);
      const hash = fx.subscriptions.write.settle([fx.id, A]);
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "Settled", [fx.id, A, getAddress(fx.owner.account.address), (v: bigint) => v > 0n, (v: bigint) => v > 0n, 0n, t0 + 2n * PERIOD]);
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "SubscriberRemoved", [fx.id, A, 0n]);
      const receipt = await fx.publicClient.getTransactionReceipt({ hash: await hash });
      const [log] = parseEventLogs({ abi: fx.subscriptions.abi, eventName: "Settled", logs: receipt.logs });
      expect(paid + log!.args.ownerAmount + log!.args.fee).toBe(2n * PRICE);
      expect(await fx.token.read.balanceOf([fx.subscriptions.address])).toBe(0n);
      expect(await fx.subscriptions.read.isActive([fx.id, A])).toBe(false);
      expect(await fx.subscriptions.read.subscriberCount([fx.id])).toBe(0n);
    });

    it("does nothing (no event) when nothing has been released", async () => {
      const fx = await load();
      const A = fx.a.account.address;
      expect((await fx.subscriptions.simulate.settle([fx.id, A])).result).toBe(0n);
      const hash = await fx.subscriptions.write.settle([fx.id, A]);
      expect((await fx.publicClient.getTransactionReceipt({ hash })).logs).toEqual([]);
    });

    it("reverts with the registry's error for an unknown service", async () => {
      const fx = await load();
      const A = fx.a.account.address;
      for (const call of [fx.subscriptions.write.settle([99n, A]), fx.subscriptions.write.settleMany([99n, [A]])]) {
        await viem.assertions.revertWithCustomErrorWithArgs(call, fx.registry, "ServiceRegistryUnknownService", [99n]);
      }
      expect(await fx.subscriptions.read.isActive([99n, A])).toBe(false);
      expect(await fx.subscriptions.read.expiresAt([99n, A])).toBe(0n);
      expect(await fx.subscriptions.read.refundPreview([99n, A])).toBe(0n);
    });

    it("settleMany pays every consumer's release in one transfer per recipient", async () => {
      const fx = await load();
      const t0 = await nextTime();
      await subscribeAt(fx, fx.a, 1, t0);
      await subscribeAt(fx, fx.b, 2, t0 + 10n);
      const t1 = t0 + 20n * DAY;
      await at(t1);
      const [ownerBefore, treasuryBefore] = await balances(fx, fx.owner, fx.accounts.treasury);
      const consumers = [fx.a, fx.b, fx.c].map((w) => getAddress(w.account.address));
      const hash = await fx.subscriptions.write.settleMany([fx.id, consumers]);
      const ra = accruedModel(PRICE, t0, t0 + PERIOD, t1);
      const rb = accruedModel(2n * PRICE, t0 + 10n, t0 + 10n + 2n * PERIOD, t1);
      const owner = getAddress(fx.owner.account.address);
      await viem.assertions.emitWithArgs(Promise.resolve(hash), fx.subscriptions, "Settled", [fx.id, consumers[0]!, owner, ra - feeModel(ra, FEE), feeModel(ra, FEE), PRICE - ra, t1]);
      await viem.assertions.emitWithArgs(Promise.resolve(hash), fx.subscriptions, "Settled", [fx.id, consumers[1]!, owner, rb - feeModel(rb, FEE), feeModel(rb, FEE), 2n * PRICE - rb, t1]);
      const [ownerAfter, treasuryAfter] = await balances(fx, fx.owner, fx.accounts.treasury);
      expect(ownerAfter! - ownerBefore! + treasuryAfter! - treasuryBefore!).toBe(ra + rb);
      expect(treasuryAfter! - treasuryBefore!).toBe(feeModel(ra, FEE) + feeModel(rb, FEE));
      const transfers = parseEventLogs({ abi: fx.token.abi, eventName: "Transfer", logs: (await fx.publicClient.getTransactionReceipt({ hash })).logs });
      expect(transfers).toHaveLength(2);
    });

    it("pays the service's current owner, and charges a zero fee with no treasury transfer", async () => {
      const fx = await load();
      const A = getAddress(fx.a.account.address);
      const { otherOwner, treasury } = fx.accounts;
      await fx.subscriptions.write.setProtocolFee([0]);
      const t0 = await nextTime();
      await subscribeAt(fx, fx.a, 1, t0);
      await fx.registry.write.transferServiceOwnership([fx.id, otherOwner.account.address], { account: fx.owner.account });
      await at(t0 + PERIOD);
      const [tBefore] = await balances(fx, treasury);
      await viem.assertions.emitWithArgs(fx.subscriptions.write.settle([fx.id, A]), fx.subscriptions, "Settled", [fx.id, A, getAddress(otherOwner.account.address), PRICE, 0n, 0n, t0 + PERIOD]);
      const [tAfter] = await balances(fx, treasury);
      expect(tAfter).toBe(tBefore);
    });

    it("rounds a fee of a fraction of a unit up to one unit", async () => {
      const fx = await load();
      const A = getAddress(fx.a.account.address);
      const tiny = await publishService(fx, { name: "tiny", pricing: { perPeriod: 3n, periodSeconds: PERIOD } });
      await fx.subscriptions.write.subscribe([tiny, 1, 3n, []], { account: fx.a.account });
      await time.increase(PERIOD);
      // 3 units × 2.5 % = 0.075 → 1 unit to the treasury, 2 to the owner.
      await viem.assertions.emitWithArgs(fx.subscriptions.write.settle([tiny, A]), fx.subscriptions, "Settled", [tiny, A, getAddress(fx.owner.account.address), 2n, 1n, 0n, (v: bigint) => v > 0n]);
    });
  });

  describe("cancel", () => {
    it("settles to now and refunds the rest; refundPreview matches the model", async () => {
      const fx = await load();
      const A = getAddress(fx.a.account.address);
      const t0 = await nextTime();
      await subscribeAt(fx, fx.a, 3, t0);
      const t1 = t0 + 10n * DAY + 1n;
      await time.increaseTo(t1);
      const preview = await fx.subscriptions.read.refundPreview([fx.id, A]);
      expect(preview).toBe(3n * PRICE - accruedModel(3n * PRICE, t0, t0 + 3n * PERIOD, t1));
      expect(await fx.subscriptions.read.accruedOf([fx.id, A])).toBe(accruedModel(3n * PRICE, t0, t0 + 3n * PERIOD, t1));

      const t2 = t1 + 1n;
      await at(t2);
      const accrued = accruedModel(3n * PRICE, t0, t0 + 3n * PERIOD, t2);
      const refund = 3n * PRICE - accrued;
      const [before] = await balances(fx, fx.a);
      const hash = fx.subscriptions.write.cancel([fx.id], { account: fx.a.account });
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "Settled", [fx.id, A, getAddress(fx.owner.account.address), accrued - feeModel(accrued, FEE), feeModel(accrued, FEE), refund, t2]);
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "Cancelled", [fx.id, A, refund, t2]);
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "SubscriberRemoved", [fx.id, A, 0n]);
      const [after] = await balances(fx, fx.a);
      expect(after! - before!).toBe(refund);
      expect(await fx.subscriptions.read.getSubscription([fx.id, A])).toEqual({ balance: 0n, lastSettled: t2, paidUntil: t2, oneTimeUntil: 0n, counted: false });
      expect(await fx.subscriptions.read.isActive([fx.id, A])).toBe(false);
      expect(await fx.token.read.balanceOf([fx.subscriptions.address])).toBe(0n);
    });

    it("after lapse refunds nothing and ends at paidUntil", async () => {
      const fx = await load();
      const A = getAddress(fx.a.account.address);
      const t0 = await nextTime();
      await subscribeAt(fx, fx.a, 1, t0);
      await time.increaseTo(t0 + 2n * PERIOD);
      await viem.assertions.emitWithArgs(fx.subscriptions.write.cancel([fx.id], { account: fx.a.account }), fx.subscriptions, "Cancelled", [fx.id, A, 0n, t0 + PERIOD]);
    });

    it("reverts when there is nothing to cancel", async () => {
      const fx = await load();
      const A = getAddress(fx.a.account.address);
      await viem.assertions.revertWithCustomErrorWithArgs(fx.subscriptions.write.cancel([fx.id], { account: fx.a.account }), fx.subscriptions, "SubscriptionsNothingToCancel", [fx.id, A]);
      await fx.subscriptions.write.subscribe([fx.id, 1, PRICE, []], { account: fx.a.account });
      await fx.subscriptions.write.cancel([fx.id], { account: fx.a.account });
      await viem.assertions.revertWithCustomErrorWithArgs(fx.subscriptions.write.cancel([fx.id], { account: fx.a.account }), fx.subscriptions, "SubscriptionsNothingToCancel", [fx.id, A]);
    });

    it("on a retired service: accrual stopped at retirement, the rest is refunded", async () => {
      const fx = await load();
      const A = getAddress(fx.a.account.address);
      const t0 = await nextTime();
      await subscribeAt(fx, fx.a, 3, t0);
      const tr = t0 + 10n * DAY;
      await at(tr);
      await fx.registry.write.retire([fx.id], { account: fx.owner.account });
      expect(await fx.subscriptions.read.expiresAt([fx.id, A])).toBe(tr);
      await time.increaseTo(t0 + 20n * DAY);
      expect(await fx.subscriptions.read.isActive([fx.id, A])).toBe(false);
      const accrued = accruedModel(3n * PRICE, t0, t0 + 3n * PERIOD, tr);
      expect(await fx.subscriptions.read.accruedOf([fx.id, A])).toBe(accrued);
      const hash = fx.subscriptions.write.cancel([fx.id], { account: fx.a.account });
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "Settled", [fx.id, A, getAddress(fx.owner.account.address), accrued - feeModel(accrued, FEE), feeModel(accrued, FEE), 3n * PRICE - accrued, tr]);
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "Cancelled", [fx.id, A, 3n * PRICE - accrued, t0 + 20n * DAY + 1n]);
      expect(await fx.token.read.balanceOf([fx.subscriptions.address])).toBe(0n);
    });

    it("keeps counting a consumer whose one-time window is still open, until a settle after it", async () => {
      const fx = await load();
      const A = getAddress(fx.a.account.address);
      await fx.subscriptions.write.subscribeOnce([fx.id, ONCE, []], { account: fx.a.account });
      await fx.subscriptions.write.subscribe([fx.id, 1, PRICE, []], { account: fx.a.account });
      const hash = await fx.subscriptions.write.cancel([fx.id], { account: fx.a.account });
      const names = parseEventLogs({ abi: fx.subscriptions.abi, logs: (await fx.publicClient.getTransactionReceipt({ hash })).logs }).map((l) => l.eventName);
      expect(names).not.toContain("SubscriberRemoved");
      expect(await fx.subscriptions.read.isActive([fx.id, A])).toBe(true);
      expect(await fx.subscriptions.read.subscriberCount([fx.id])).toBe(1n);
      await time.increase(ONCE_FOR);
      await viem.assertions.emitWithArgs(fx.subscriptions.write.settle([fx.id, A]), fx.subscriptions, "SubscriberRemoved", [fx.id, A, 0n]);
    });
  });

  describe("subscribeOnce", () => {
    it("pays the owner (minus fee) at once, holds nothing, and stacks windows", async () => {
      const fx = await load();
      const A = getAddress(fx.a.account.address);
      const owner = getAddress(fx.owner.account.address);
      const fee = feeModel(ONCE, FEE);
      const t0 = await nextTime();
      await at(t0);
      const [cBefore, oBefore, tBefore] = await balances(fx, fx.a, fx.owner, fx.accounts.treasury);
      const hash = fx.subscriptions.write.subscribeOnce([fx.id, ONCE, []], { account: fx.a.account });
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "SubscribedOnce", [fx.id, A, owner, ONCE, ONCE - fee, fee, t0 + ONCE_FOR]);
      await viem.assertions.emitWithArgs(hash, fx.subscriptions, "SubscriberAdded", [fx.id, A, 1n]);
      const [cAfter, oAfter, tAfter] = await balances(fx, fx.a, fx.owner, fx.accounts.treasury);
      expect([cBefore! - cAfter!, oAfter! - oBefore!, tAfter! - tBefore!]).toEqual([ONCE, ONCE - fee, fee]);
      expect(await fx.token.read.balanceOf([fx.subscriptions.address])).toBe(0n);
      expect(await fx.subscriptions.read.expiresAt([fx.id, A])).toBe(t0 + ONCE_FOR);
      await at(t0 + DAY);
      await viem.assertions.emitWithArgs(
        fx.subscriptions.write.subscribeOnce([fx.id, ONCE, []], { account: fx.a.account }),
        fx.subscriptions,
        "SubscribedOnce",
        [fx.id, A, owner, ONCE, ONCE - fee, fee, t0 + 2n * ONCE_FOR],
      );
      expect(await fx.subscriptions.read.subscriberCount([fx.id])).toBe(1n);
      await time.increaseTo(t0 + 2n * ONCE_FOR);
      expect(await fx.subscriptions.read.isActive([fx.id, A])).toBe(false);
      await viem.assertions.emitWithArgs(fx.subscriptions.write.settle([fx.id, A]), fx.subscriptions, "SubscriberRemoved", [fx.id, A, 0n]);
    });

    it("rejects a service without a one-time price, a raised price, a retired service and non-allow-listed consumers", async () => {
      const fx = await load();
      const A = getAddress(fx.a.account.address);
      const o = { account: fx.a.account };
      const recurringOnly = await publishService(fx, { name: "rec" });
      await viem.assertions.revertWithCustomErrorWithArgs(fx.subscriptions.write.subscribeOnce([recurringOnly, ONCE, []], o), fx.subscriptions, "SubscriptionsNotOneTime", [recurringOnly]);
      await viem.assertions.revertWithCustomErrorWithArgs(fx.subscriptions.write.subscribeOnce([fx.id, ONCE - 1n, []], o), fx.subscriptions, "SubscriptionsPriceAboveMax", [fx.id, ONCE, ONCE - 1n]);
      const priv = await publishService(fx, { name: "priv", visibility: Visibility.Private, pricing: { oneTime: ONCE, oneTimeDuration: ONCE_FOR } });
      await viem.assertions.revertWithCustomErrorWithArgs(fx.subscriptions.write.subscribeOnce([priv, ONCE, []], o), fx.subscriptions, "SubscriptionsNotAllowed", [priv, A]);
      await fx.registry.write.retire([fx.id], { account: fx.owner.account });
      await viem.assertions.revertWithCustomErrorWithArgs(fx.subscriptions.write.subscribeOnce([fx.id, ONCE, []], o), fx.subscriptions, "SubscriptionsServiceRetired", [fx.id]);
    });
  });

  describe("permit", () => {
    it("subscribes without a prior approval, and survives a front-run permit", async () => {
      const fx = await load();
      const { outsider } = fx.accounts;
      const { signPermit } = await import("./services.fixture.js");
      await fx.token.write.approve([fx.subscriptions.address, 0n], { account: outsider.account });
      const deadline = (await nextTime()) + 3_600n;
      const permit = await signPermit(fx, outsider, fx.subscriptions.address, 2n * PRICE + ONCE, deadline);
      await viem.assertions.emit(
        fx.subscriptions.write.subscribeWithPermit([fx.id, 2, PRICE, [], permit], { account: outsider.account }),
        fx.subscriptions,
        "Subscribed",
      );
      // Replaying the used permit fails inside the try/catch; the remaining allowance pays.
      await viem.assertions.emit(
        fx.subscriptions.write.subscribeOnceWithPermit([fx.id, ONCE, [], permit], { account: outsider.account }),
        fx.subscriptions,
        "SubscribedOnce",
      );
      expect(await fx.token.read.allowance([outsider.account.address, fx.subscriptions.address])).toBe(0n);
      // A bad permit and no allowance: the token's own error surfaces.
      await viem.assertions.revertWithCustomErrorWithArgs(
        fx.subscriptions.write.subscribeWithPermit([fx.id, 1, PRICE, [], permit], { account: outsider.account }),
        fx.token,
        "ERC20InsufficientAllowance",
        [getAddress(fx.subscriptions.address), 0n, PRICE],
      );
    });
  });

  describe("6-decimal token", () => {
    it("streams, settles and refunds USDC-like amounts exactly", async () => {
      const fx6 = await loadFixture(deployServices6Fixture);
      const price = 9_990_001n; // 9.990001 USDC per period
      const id = await publishService(fx6, { pricing: { perPeriod: price, periodSeconds: PERIOD } });
      const [a] = fx6.accounts.consumers;
      const A = getAddress(a.account.address);
      const hash = await fx6.subscriptions.write.subscribe([id, 5, price, []], { account: a.account });
      const t0 = await txTimestamp(fx6, hash);
      await time.setNextBlockTimestamp(t0 + 33n * DAY + 7n);
      await fx6.subscriptions.write.settle([id, A]);
      await time.setNextBlockTimestamp(t0 + 61n * DAY);
      await fx6.subscriptions.write.cancel([id], { account: a.account });
      const s1 = accruedModel(5n * price, t0, t0 + 5n * PERIOD, t0 + 33n * DAY + 7n);
      const s2 = accruedModel(5n * price - s1, t0 + 33n * DAY + 7n, t0 + 5n * PERIOD, t0 + 61n * DAY);
      const [owner, treasury] = await Promise.all(
        [fx6.accounts.owner, fx6.accounts.treasury].map((w) => fx6.token.read.balanceOf([w.account.address])),
      );
      expect(owner! + treasury!).toBe(s1 + s2);
      expect(treasury).toBe(feeModel(s1, FEE) + feeModel(s2, FEE));
      expect(await fx6.token.read.balanceOf([A])).toBe(10n ** 12n - (s1 + s2));
      expect(await fx6.token.read.balanceOf([fx6.subscriptions.address])).toBe(0n);
    });
  });
});
