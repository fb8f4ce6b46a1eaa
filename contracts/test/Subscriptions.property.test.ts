/**
 * Property test of Subscriptions' money: random prices, periods and fees, random schedules of
 * subscribe / renew / settle / settleMany / cancel / re-price / fee change / time advance, on a 6-decimal token.
 *
 * Checked after every step:
 *  - each Settled / Cancelled amount equals the reference model (floor accrual, ceil fee);
 *  - Σ deposits == Σ owner payouts + Σ fees + Σ refunds + token balance of Subscriptions;
 *  - token balance of Subscriptions == Σ model balances of open streams.
 * At the end every stream is run out and settled: Σ deposits == Σ payouts + Σ fees + Σ refunds EXACTLY, the
 * contract holds nothing, and every account's token balance agrees with the ledger.
 */
import fc from "fast-check";
import { network } from "hardhat";
import { type Hash, getAddress, parseEventLogs } from "viem";
import { describe, expect, it } from "vitest";
import {
  DAY,
  accruedModel,
  consumerFunding,
  deployServices6Fixture,
  feeModel,
  serviceParams,
} from "./services.fixture.js";

const { networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const NUM_RUNS = 200;
const CONSUMERS = 3;

type Stream = { balance: bigint; lastSettled: bigint; paidUntil: bigint };

const who = fc.nat(CONSUMERS - 1);
const action = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("subscribe" as const), who, periods: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("settle" as const), who }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("settleMany" as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("cancel" as const), who }) },
  // Per-mille of two periods, so short and long jumps both happen whatever the period.
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("advance" as const), permille: fc.integer({ min: 0, max: 1_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reprice" as const), price: fc.bigInt({ min: 1n, max: 10n ** 9n }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("setFee" as const), feeBps: fc.integer({ min: 0, max: 1_000 }) }) },
);
const scenario = fc.record({
  price: fc.oneof(fc.bigInt({ min: 1n, max: 1_000n }), fc.bigInt({ min: 1n, max: 10n ** 10n }) /* ≤ 10 000 USDC: 24 × 6 periods stay within the funding */),
  periodSeconds: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 90 * 86_400 })).map(BigInt),
  feeBps: fc.integer({ min: 0, max: 1_000 }),
  actions: fc.array(action, { minLength: 4, maxLength: 24, size: "max" }),
});

describe("Subscriptions money conservation (fast-check)", () => {
  it(
    `Σ deposits == Σ payouts + Σ fees + Σ refunds and escrow == Σ open balances, over ${NUM_RUNS} random schedules`,
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async ({ price: initialPrice, periodSeconds, feeBps: initialFee, actions }) => {
          const fx = await loadFixture(deployServices6Fixture);
          const { subscriptions, token, registry, publicClient } = fx;
          const consumers = fx.accounts.consumers;
          const addresses = consumers.map((w) => getAddress(w.account.address));
          const owner = fx.accounts.owner;
          let now = BigInt(await time.latest());
          const tick = async () => {
            now += 1n;
            await time.setNextBlockTimestamp(now);
          };
          const receiptOf = async (hash: Hash) => (await publicClient.getTransactionReceipt({ hash })).logs;

          let price = initialPrice;
          let feeBps = BigInt(initialFee);
          await tick();
          await subscriptions.write.setProtocolFee([initialFee]);
          await tick();
          const pricing = () => ({ perPeriod: price, periodSeconds, perCall: 0n });
          await registry.write.publish([serviceParams({ pricing: pricing() })], { account: owner.account });
          const id = 1n;

          const streams: Stream[] = addresses.map(() => ({ balance: 0n, lastSettled: 0n, paidUntil: 0n }));
          const ledger = { deposits: 0n, owner: 0n, fees: 0n, refunds: 0n };
          const depositsOf = addresses.map(() => 0n);
          const refundsOf = addresses.map(() => 0n);

          /** Apply the model's settlement of `i` at `now`; return the expected released amount. */
          const settleModel = (i: number) => {
            const s = streams[i]!;
            const released = accruedModel(s.balance, s.lastSettled, s.paidUntil, now);
            if (released > 0n) {
              s.balance -= released;
              s.lastSettled = now < s.paidUntil ? now : s.paidUntil;
            }
            return released;
          };
          /** Compare the tx's Settled events with the model's releases (consumer index → released). */
          const checkSettled = async (hash: Hash, expected: Map<number, bigint>) => {
            const logs = parseEventLogs({ abi: subscriptions.abi, eventName: "Settled", logs: await receiptOf(hash) });
            const nonZero = [...expected].filter(([, v]) => v > 0n);
            expect(logs).toHaveLength(nonZero.length);
            for (const [i, released] of nonZero) {
              const log = logs.find((l) => l.args.consumer === addresses[i]);
              const fee = feeModel(released, feeBps);
              expect([log!.args.ownerAmount, log!.args.fee, log!.args.balance]).toEqual([released - fee, fee, streams[i]!.balance]);
              ledger.owner += released - fee;
              ledger.fees += fee;
            }
          };
          const checkBooks = async () => {
            const escrow = await token.read.balanceOf([subscriptions.address]);
            expect(escrow).toBe(streams.reduce((sum, s) => sum + s.balance, 0n));
            expect(ledger.deposits).toBe(ledger.owner + ledger.fees + ledger.refunds + escrow);
          };

          for (const a of actions) {
            switch (a.kind) {
              case "advance":
                now += (2n * periodSeconds * BigInt(a.permille)) / 1_000n;
                continue;
              case "reprice":
                price = a.price;
                await tick();
                await registry.write.update([id, serviceParams({ pricing: pricing() })], { account: owner.account });
                continue;
              case "setFee":
                feeBps = BigInt(a.feeBps);
                await tick();
                await subscriptions.write.setProtocolFee([a.feeBps]);
                continue;
              case "subscribe": {
                await tick();
                const hash = await subscriptions.write.subscribe([id, a.periods, price, []], { account: consumers[a.who]!.account });
                const released = settleModel(a.who);
                await checkSettled(hash, new Map([[a.who, released]]));
                const s = streams[a.who]!;
                const deposit = price * BigInt(a.periods);
                s.balance += deposit;
                s.paidUntil = (s.paidUntil > now ? s.paidUntil : now) + BigInt(a.periods) * periodSeconds;
                s.lastSettled = now;
                ledger.deposits += deposit;
                depositsOf[a.who]! += deposit;
                break;
              }
              case "settle": {
                await tick();
                const hash = await subscriptions.write.settle([id, addresses[a.who]!]);
                await checkSettled(hash, new Map([[a.who, settleModel(a.who)]]));
                break;
              }
              case "settleMany": {
                await tick();
                const hash = await subscriptions.write.settleMany([id, addresses]);
                await checkSettled(hash, new Map(addresses.map((_, i) => [i, settleModel(i)])));
                break;
              }
              case "cancel": {
                if (streams[a.who]!.balance === 0n) continue; // would revert SubscriptionsNothingToCancel
                await tick();
                const hash = await subscriptions.write.cancel([id], { account: consumers[a.who]!.account });
                await checkSettled(hash, new Map([[a.who, settleModel(a.who)]]));
                const s = streams[a.who]!;
                const [log] = parseEventLogs({ abi: subscriptions.abi, eventName: "Cancelled", logs: await receiptOf(hash) });
                expect(log!.args.refund).toBe(s.balance);
                ledger.refunds += s.balance;
                refundsOf[a.who]! += s.balance;
                s.balance = 0n;
                s.paidUntil = s.paidUntil < now ? s.paidUntil : now;
                s.lastSettled = s.paidUntil;
                break;
              }
            }
            await checkBooks();
          }

          // Run every stream out and settle: nothing may remain.
          now = streams.reduce((m, s) => (s.paidUntil > m ? s.paidUntil : m), now);
          await tick();
          const hash = await subscriptions.write.settleMany([id, addresses]);
          await checkSettled(hash, new Map(addresses.map((_, i) => [i, settleModel(i)])));
          await checkBooks();
          expect(await token.read.balanceOf([subscriptions.address])).toBe(0n);
          expect(ledger.deposits).toBe(ledger.owner + ledger.fees + ledger.refunds);
          expect(await token.read.balanceOf([owner.account.address])).toBe(ledger.owner);
          expect(await token.read.balanceOf([fx.accounts.treasury.account.address])).toBe(ledger.fees);
          for (const [i, address] of addresses.entries()) {
            expect(await token.read.balanceOf([address])).toBe(consumerFunding(6) - depositsOf[i]! + refundsOf[i]!);
            expect((await subscriptions.read.getSubscription([id, address])).balance).toBe(0n);
          }
          expect(await subscriptions.read.subscriberCount([id])).toBe(0n);
        }),
        { numRuns: NUM_RUNS },
      );
    },
    120_000,
  );
});
