/**
 * Property test of UsageEscrow's money: random schedules of deposit / depositFor / requestWithdrawal / withdraw /
 * cancelWithdrawal / claim (fresh, replayed, stale and malleated tokens) / re-price (including perCall = 0) /
 * fee change / time advance, against a reference model of the spec.
 *
 * Checked after every step:
 *  - every claim's per-call outcome (paid price and balance, or reject reason) and its Claimed totals equal the model;
 *  - every account (balance, agreed price, pending withdrawal, withdrawableAt) equals the model;
 *  - token balance of the escrow == Σ balances (the interface's invariant);
 *  - Σ deposits == Σ operator payouts + Σ fees + Σ withdrawals + escrow, exactly.
 */
import fc from "fast-check";
import { network } from "hardhat";
import { type Hash, parseEventLogs } from "viem";
import { describe, expect, it } from "vitest";
import { feeModel } from "./services.fixture.ts";
import { CLAIM_WINDOW, RejectReason, WITHDRAWAL_DELAY, malleate, meteredParams, signCall, usageFixture, type SignedCall } from "./usage.fixture.ts";

const { networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

const NUM_RUNS = 150;
const N = 3;

type Acct = {
  balance: bigint;
  pricePerCall: bigint;
  pendingWithdrawal: bigint;
  withdrawableAt: bigint;
  priceAgreedAt: bigint;
  previousPricePerCall: bigint;
};

const who = fc.nat(N - 1);
const callSpec = fc.record({ who, kind: fc.constantFrom("fresh", "fresh", "fresh", "replay", "stale", "malleated") });
const action = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("deposit" as const), who, calls: fc.integer({ min: 0, max: 12 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("depositFor" as const), who, payer: who, calls: fc.integer({ min: 0, max: 6 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("request" as const), who, permille: fc.integer({ min: 1, max: 1_000 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("withdraw" as const), who }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("cancel" as const), who }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("claim" as const), calls: fc.array(callSpec, { minLength: 1, maxLength: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("advance" as const), seconds: fc.oneof(fc.integer({ min: 0, max: 3_600 }), fc.integer({ min: 0, max: 2 * 86_400 })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reprice" as const), price: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 10n ** 6n })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("setFee" as const), feeBps: fc.integer({ min: 0, max: 1_000 }) }) },
);
const scenario = fc.record({
  price: fc.bigInt({ min: 1n, max: 10n ** 6n }),
  feeBps: fc.integer({ min: 0, max: 1_000 }),
  actions: fc.array(action, { minLength: 4, maxLength: 20, size: "max" }),
});

describe("UsageEscrow money conservation (fast-check)", () => {
  it(`escrow == Σ balances and Σ deposits == payouts + fees + withdrawals + escrow, over ${NUM_RUNS} random schedules`, async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ price: initialPrice, feeBps: initialFee, actions }) => {
        const fx = await loadFixture(usageFixture);
        const { escrow, token, services, publicClient } = fx;
        const owner = { account: fx.serviceOwner.account };
        let now = BigInt(await time.latest());
        const tick = async () => {
          now += 1n;
          await time.setNextBlockTimestamp(now);
        };
        let price = initialPrice;
        let feeBps = BigInt(initialFee);
        await tick();
        await escrow.write.setProtocolFee([initialFee]);
        await tick();
        await services.write.update([fx.serviceId, meteredParams({ perCall: price })], owner);

        const accts: Acct[] = fx.consumers.map(() => ({ balance: 0n, pricePerCall: 0n, pendingWithdrawal: 0n, withdrawableAt: 0n, priceAgreedAt: 0n, previousPricePerCall: 0n }));
        // A new agreement starts a price era at this block's time (IUsageEscrow: price eras).
        const agree = (acct: Acct) => {
          if (acct.pricePerCall === price) return;
          acct.previousPricePerCall = acct.pricePerCall === 0n ? price : acct.pricePerCall;
          acct.priceAgreedAt = now;
          acct.pricePerCall = price;
        };
        const paid = new Set<string>();
        const signed: SignedCall[] = [];
        const ledger = { deposits: 0n, operator: 0n, fees: 0n, withdrawals: 0n };
        const logsOf = async (hash: Hash) => (await publicClient.getTransactionReceipt({ hash })).logs;

        const checkBooks = async () => {
          const escrowBalance = await token.read.balanceOf([escrow.address]);
          expect(escrowBalance).toBe(accts.reduce((s, a) => s + a.balance, 0n));
          expect(ledger.deposits).toBe(ledger.operator + ledger.fees + ledger.withdrawals + escrowBalance);
          for (const [i, c] of fx.consumers.entries()) expect(await escrow.read.accountOf([fx.serviceId, c.address])).toEqual(accts[i]);
        };

        for (const a of actions) {
          switch (a.kind) {
            case "advance":
              now += BigInt(a.seconds);
              continue;
            case "reprice":
              price = a.price;
              await tick();
              await services.write.update([fx.serviceId, meteredParams({ perCall: price })], owner);
              break;
            case "setFee":
              feeBps = BigInt(a.feeBps);
              await tick();
              await escrow.write.setProtocolFee([a.feeBps]);
              break;
            case "deposit":
            case "depositFor": {
              if (price === 0n) continue; // not a per-call service right now (covered by the unit tests)
              const amount = BigInt(a.calls) * price + BigInt(a.calls % 2); // sometimes an odd wei
              const acct = accts[a.who]!;
              await tick();
              if (a.kind === "deposit") {
                await escrow.write.deposit([fx.serviceId, amount, price], { account: fx.consumers[a.who]!.wallet.account });
                agree(acct);
              } else {
                await escrow.write.depositFor([fx.serviceId, fx.consumers[a.who]!.address, amount, price], {
                  account: fx.consumers[a.payer]!.wallet.account,
                });
                if (acct.pricePerCall === 0n) agree(acct);
              }
              acct.balance += amount;
              ledger.deposits += amount;
              break;
            }
            case "request": {
              const acct = accts[a.who]!;
              if (acct.balance === 0n) continue;
              const amount = (acct.balance * BigInt(a.permille) + 999n) / 1_000n;
              await tick();
              await escrow.write.requestWithdrawal([fx.serviceId, amount], { account: fx.consumers[a.who]!.wallet.account });
              acct.pendingWithdrawal = amount;
              acct.withdrawableAt = now + WITHDRAWAL_DELAY;
              break;
            }
            case "cancel": {
              const acct = accts[a.who]!;
              if (acct.pendingWithdrawal === 0n) continue;
              await tick();
              await escrow.write.cancelWithdrawal([fx.serviceId], { account: fx.consumers[a.who]!.wallet.account });
              acct.pendingWithdrawal = 0n;
              acct.withdrawableAt = 0n;
              break;
            }
            case "withdraw": {
              const acct = accts[a.who]!;
              if (acct.pendingWithdrawal === 0n || now + 1n < acct.withdrawableAt) continue;
              await tick();
              const hash = await escrow.write.withdraw([fx.serviceId], { account: fx.consumers[a.who]!.wallet.account });
              const amount = acct.pendingWithdrawal < acct.balance ? acct.pendingWithdrawal : acct.balance;
              acct.balance -= amount;
              acct.pendingWithdrawal = 0n;
              acct.withdrawableAt = 0n;
              ledger.withdrawals += amount;
              const [log] = parseEventLogs({ abi: escrow.abi, eventName: "Withdrawn", logs: await logsOf(hash) });
              expect([log!.args.amount, log!.args.balance]).toEqual([amount, acct.balance]);
              break;
            }
            case "claim": {
              const calls: { call: SignedCall; malleated: boolean }[] = [];
              for (const spec of a.calls) {
                const consumer = fx.consumers[spec.who]!;
                if (spec.kind === "replay" && signed.length > 0) {
                  calls.push({ call: signed[spec.who % signed.length]!, malleated: false });
                  continue;
                }
                const expiry = spec.kind === "stale" ? now - CLAIM_WINDOW - 1n : now + 60n;
                const call = await signCall(fx, consumer, { expiry });
                signed.push(call);
                if (spec.kind === "malleated") calls.push({ call: { ...call, signature: malleate(call.signature) }, malleated: true });
                else calls.push({ call, malleated: false });
              }
              await tick();
              // Model, in the spec's order of checks.
              const expected: { reason: number; price: bigint; balance: bigint }[] = [];
              let gross = 0n;
              for (const { call, malleated } of calls) {
                const i = fx.consumers.findIndex((c) => c.address === call.consumer);
                const acct = accts[i]!;
                const key = `${call.consumer}:${call.nonce}`;
                let reason: number = RejectReason.None;
                let p = 0n;
                if (now > call.expiry + CLAIM_WINDOW) reason = RejectReason.Stale;
                else if (malleated) reason = RejectReason.BadSignature;
                else if (paid.has(key)) reason = RejectReason.AlreadyPaid;
                else if ((call.expiry < acct.priceAgreedAt ? acct.previousPricePerCall : acct.pricePerCall) === 0n || price === 0n) reason = RejectReason.NoEscrow;
                else {
                  const agreed = call.expiry < acct.priceAgreedAt ? acct.previousPricePerCall : acct.pricePerCall;
                  p = agreed < price ? agreed : price;
                  if (acct.balance < p) {
                    reason = RejectReason.InsufficientBalance;
                    p = 0n;
                  } else {
                    paid.add(key);
                    acct.balance -= p;
                    gross += p;
                  }
                }
                expected.push({ reason, price: p, balance: acct.balance });
              }
              const hash = await escrow.write.claim([fx.serviceId, calls.map((c) => c.call)], { account: fx.node });
              const events = parseEventLogs({ abi: escrow.abi, logs: await logsOf(hash) });
              const perCall = events.flatMap((e) =>
                e.eventName === "CallPaid"
                  ? [{ reason: RejectReason.None as number, price: e.args.price, balance: e.args.balance }]
                  : e.eventName === "CallRejected"
                    ? [{ reason: e.args.reason as number, price: 0n, balance: -1n }]
                    : [],
              );
              expect(perCall).toEqual(expected.map((x) => (x.reason === RejectReason.None ? x : { ...x, balance: -1n })));
              const claimed = events.find((e) => e.eventName === "Claimed")!.args as { operatorAmount: bigint; fee: bigint; paidCalls: bigint };
              const fee = feeModel(gross, feeBps);
              expect([claimed.operatorAmount, claimed.fee]).toEqual([gross - fee, fee]);
              ledger.operator += gross - fee;
              ledger.fees += fee;
              break;
            }
          }
          await checkBooks();
        }

        // Drain: every consumer withdraws everything; the escrow ends empty.
        for (const [i, c] of fx.consumers.entries()) {
          const acct = accts[i]!;
          if (acct.balance === 0n) continue;
          await tick();
          await escrow.write.requestWithdrawal([fx.serviceId, acct.balance], { account: c.wallet.account });
          now += WITHDRAWAL_DELAY;
          await time.setNextBlockTimestamp(now);
          await escrow.write.withdraw([fx.serviceId], { account: c.wallet.account });
          ledger.withdrawals += acct.balance;
          acct.balance = 0n;
          acct.pendingWithdrawal = 0n;
          acct.withdrawableAt = 0n;
        }
        await checkBooks();
        expect(await token.read.balanceOf([escrow.address])).toBe(0n);
        expect(ledger.deposits).toBe(ledger.operator + ledger.fees + ledger.withdrawals);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
