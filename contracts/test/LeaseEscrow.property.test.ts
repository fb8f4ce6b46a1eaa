/**
 * Property test of LeaseEscrow's money on a 6-decimal token: random price, terms and fee, random schedules of
 * open / topUp / settle / close / time advance / resource failure / fee change, against a reference model of the
 * documented rules (whole seconds at the lease price, fee = ceil(x × bps / 10 000), dust back to the lessee).
 *
 * Checked after every step:
 *  - operator, treasury, every lessee and the escrow hold exactly what the model says;
 *  - Σ deposits == Σ operator payouts + Σ fees + Σ refunds + escrow balance;
 *  - escrow balance == Σ (deposit − paid − refunded) over the model's leases.
 * At the end every lease is run out and settled: Σ operator + Σ fees + Σ refunds == Σ deposits EXACTLY, the escrow
 * holds nothing, and every lease on chain equals its model.
 */
import fc from "fast-check";
import { network } from "hardhat";
import { getAddress } from "viem";
import { describe, expect, it } from "vitest";
import { LESSEE_FUNDING6, LeaseStatus, lease6Fixture, offerArgs } from "./lease.fixture.js";

const { networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const NUM_RUNS = 200;
const LESSEES = 3;

type Status = (typeof LeaseStatus)[keyof typeof LeaseStatus];
type ModelLease = {
  lessee: number;
  start: bigint;
  end: bigint;
  paidThrough: bigint;
  deposit: bigint;
  paid: bigint;
  refunded: bigint;
  feeBps: bigint;
  status: Status;
};

const who = fc.nat(LESSEES - 1);
const permille = fc.integer({ min: 0, max: 1_000 });
const action = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("open" as const), who, permille }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("topUp" as const), lease: fc.nat(), permille }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("settle" as const), lease: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("close" as const), lease: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("advance" as const), permille }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("hook" as const), permille }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("setFee" as const), feeBps: fc.integer({ min: 0, max: 1_000 }) }) },
);
const scenario = fc
  .record({
    price: fc.oneof(fc.bigInt({ min: 1n, max: 1_000n }), fc.bigInt({ min: 1n, max: 100_000n })),
    minDuration: fc.oneof(fc.bigInt({ min: 1n, max: 600n }), fc.bigInt({ min: 1n, max: 86_400n })),
    extraDuration: fc.oneof(fc.bigInt({ min: 0n, max: 3_600n }), fc.bigInt({ min: 0n, max: 10n * 86_400n })),
    noticePermille: permille,
    maxLeases: fc.integer({ min: 1, max: 6 }),
    feeBps: fc.integer({ min: 0, max: 1_000 }),
    actions: fc.array(action, { minLength: 4, maxLength: 24, size: "max" }),
  })
  .map((s) => ({
    ...s,
    maxDuration: s.minDuration + s.extraDuration,
    noticePeriod: (s.minDuration * BigInt(s.noticePermille)) / 1_000n,
  }));

const feeOf = (x: bigint, bps: bigint) => (x * bps + 9_999n) / 10_000n;
const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

describe("LeaseEscrow money conservation (fast-check)", () => {
  it(
    `Σ operator + Σ fees + Σ refunds == Σ deposits and escrow == Σ owed, over ${NUM_RUNS} random schedules`,
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async (s) => {
          const fx = await loadFixture(lease6Fixture);
          const { escrow6: escrow, usdc } = fx;
          const lessees = fx.lessees.map((w) => w.account);
          const operator = fx.operator.account.address;
          const treasury = fx.accounts.treasury.account.address;
          const { price, minDuration, maxDuration, noticePeriod } = s;

          let now = BigInt(await time.latest());
          const tick = async () => {
            now += 1n;
            await time.setNextBlockTimestamp(now);
          };
          let feeBps = BigInt(s.feeBps);
          await tick();
          await escrow.write.setProtocolFee([s.feeBps]);
          const terms = { price, minDuration, maxDuration, noticePeriod, maxLeases: s.maxLeases };
          await tick();
          await escrow.write.postOffer(offerArgs(fx.node, terms), { account: fx.operator.account });
          const offerId = 2n;

          const leases: ModelLease[] = [];
          const ledger = { deposits: 0n, operator: 0n, fees: 0n, refunds: 0n };
          const depositsOf = lessees.map(() => 0n);
          const refundsOf = lessees.map(() => 0n);
          const running = (l: ModelLease) => l.status === LeaseStatus.Active || l.status === LeaseStatus.Closing;

          /** Pay `l` up to `until` (≥ paidThrough) at its price and fee. */
          const pay = (l: ModelLease, until: bigint) => {
            const gross = price * (until - l.paidThrough);
            const fee = feeOf(gross, l.feeBps);
            l.paid += gross;
            l.paidThrough = until;
            ledger.operator += gross - fee;
            ledger.fees += fee;
          };
          /** Refund everything of `l` not paid for up to `through` (default: what is already paid). */
          const refund = (l: ModelLease, through = l.paidThrough) => {
            const amount = l.deposit - price * (through - l.start) - l.refunded;
            l.refunded += amount;
            ledger.refunds += amount;
            refundsOf[l.lessee]! += amount;
          };
          const settleModel = (l: ModelLease) => {
            pay(l, min(now, l.end));
            if (now >= l.end) {
              refund(l);
              l.status = LeaseStatus.Ended;
            }
          };
          /** Lease `seed mod count` with its on-chain id (ids are 1-based, in opening order). */
          const pick = (seed: number) => {
            if (leases.length === 0) return undefined;
            const index = seed % leases.length;
            return { id: BigInt(index + 1), l: leases[index]! };
          };

          const checkBooks = async () => {
            const held = await usdc.read.balanceOf([escrow.address]);
            expect(held).toBe(leases.reduce((sum, l) => sum + l.deposit - l.paid - l.refunded, 0n));
            expect(ledger.deposits).toBe(ledger.operator + ledger.fees + ledger.refunds + held);
            expect(await usdc.read.balanceOf([operator])).toBe(ledger.operator);
            expect(await usdc.read.balanceOf([treasury])).toBe(ledger.fees);
            for (const [i, lessee] of lessees.entries()) {
              expect(await usdc.read.balanceOf([lessee.address])).toBe(LESSEE_FUNDING6 - depositsOf[i]! + refundsOf[i]!);
            }
          };

          for (const a of s.actions) {
            switch (a.kind) {
              case "advance":
                now += (maxDuration * BigInt(a.permille)) / 1_000n;
                continue;
              case "setFee":
                await tick();
                await escrow.write.setProtocolFee([a.feeBps]);
                feeBps = BigInt(a.feeBps);
                continue;
              case "open": {
                if (leases.filter(running).length >= s.maxLeases) continue; // LeaseEscrowOfferFull
                const lo = price * minDuration;
                const deposit = lo + ((price * maxDuration - lo) * BigInt(a.permille)) / 1_000n;
                await tick();
                await escrow.write.openLease([offerId, deposit, price], { account: lessees[a.who]! });
                leases.push({
                  lessee: a.who,
                  start: now,
                  end: now + deposit / price,
                  paidThrough: now,
                  deposit,
                  paid: 0n,
                  refunded: 0n,
                  feeBps,
                  status: LeaseStatus.Active,
                });
                ledger.deposits += deposit;
                depositsOf[a.who]! += deposit;
                break;
              }
              case "topUp": {
                const p = pick(a.lease);
                if (p === undefined || p.l.status !== LeaseStatus.Active || now + 1n >= p.l.end) continue;
                const room = price * maxDuration - p.l.deposit;
                if (room === 0n) continue;
                const amount = max(1n, (room * BigInt(a.permille)) / 1_000n);
                await tick();
                await escrow.write.topUp([p.id, amount], { account: lessees[p.l.lessee]! });
                p.l.deposit += amount;
                p.l.end = p.l.start + p.l.deposit / price;
                ledger.deposits += amount;
                depositsOf[p.l.lessee]! += amount;
                break;
              }
              case "settle": {
                const p = pick(a.lease);
                if (p === undefined || !running(p.l)) continue;
                await tick();
                await escrow.write.settle([p.id]);
                settleModel(p.l);
                break;
              }
              case "close": {
                const p = pick(a.lease);
                if (p === undefined || p.l.status !== LeaseStatus.Active) continue;
                const seen = BigInt(await time.latest()); // what a view call sees: the latest block
                expect(await escrow.read.closePreview([p.id])).toBe(
                  p.l.deposit - price * (min(p.l.end, max(seen + noticePeriod, p.l.start + minDuration)) - p.l.start),
                );
                await tick();
                await escrow.write.close([p.id], { account: lessees[p.l.lessee]! });
                p.l.end = min(p.l.end, max(now + noticePeriod, p.l.start + minDuration));
                refund(p.l, p.l.end);
                p.l.status = LeaseStatus.Closing;
                if (now >= p.l.end) settleModel(p.l);
                break;
              }
              case "hook": {
                await tick();
                const failedAt = max(0n, now - (maxDuration * BigInt(a.permille)) / 1_000n);
                await escrow.write.reportResourceFailure([fx.node, failedAt, `0x${"ab".repeat(32)}`], {
                  account: fx.reporter.account,
                });
                for (const l of leases.filter(running)) {
                  const cut = min(max(failedAt, l.paidThrough), l.end);
                  pay(l, cut);
                  l.end = cut;
                  refund(l);
                  l.status = LeaseStatus.Terminated;
                }
                break;
              }
            }
            await checkBooks();
          }

          // Run every lease out and settle it: nothing may remain.
          now = leases.reduce((m, l) => max(m, l.end), now);
          for (const [i, l] of leases.entries()) {
            if (!running(l)) continue;
            await tick();
            await escrow.write.settle([BigInt(i + 1)]);
            settleModel(l);
          }
          await checkBooks();
          expect(await usdc.read.balanceOf([escrow.address])).toBe(0n);
          expect(ledger.operator + ledger.fees + ledger.refunds).toBe(ledger.deposits);
          for (const [i, l] of leases.entries()) {
            const onChain = await escrow.read.getLease([BigInt(i + 1)]);
            expect({
              lessee: onChain.lessee,
              start: onChain.start,
              end: onChain.end,
              paidThrough: onChain.paidThrough,
              deposit: onChain.deposit,
              paid: onChain.paid,
              refunded: onChain.refunded,
              feeBps: BigInt(onChain.feeBps),
              status: onChain.status,
            }).toEqual({ ...l, lessee: getAddress(lessees[l.lessee]!.address) });
          }
          expect(await escrow.read.activeLeasesOfNode([fx.node])).toEqual([]);
        }),
        { numRuns: NUM_RUNS },
      );
    },
    180_000,
  );
});
