/**
 * Which served per-call calls a provider claims now (UsageEscrow.claim), as a pure function of the calls
 * waiting, the chain view and the time: the deterministic core of usage-settler.ts.
 *
 * Per service, calls are taken oldest first and checked against a copy of each consumer's escrow in the
 * chain view, debited as the contract would (min(agreed price, current price) per call):
 * - **stale** (now > expiry + claimWindow − `safetySeconds`, so a claim mined a little later is not refused) →
 *   dropped; the contract would only refuse it.
 * - no escrow, not enough left for the call, or the service priced at 0 per call now → **held**: sending it
 *   would cost gas for a rejection; it is looked at again each round (a deposit, or the owner restoring the
 *   price, may come) until it turns stale.
 * - otherwise **claimable**.
 *
 * A service's claimable calls are claimed (in batches of at most 256) when any of these holds — else they
 * wait, so one transaction pays for many calls:
 * - `forced` (an operator asked: `dsmp usage claim`);
 * - `full`: a whole batch is ready;
 * - `age`: the oldest waited `maxDelayMs`;
 * - `withdrawal`: a consumer with claimable calls asked to withdraw and what the withdrawal leaves behind
 *   (balance − pending) no longer covers them (other providers' claims used the slack); a withdrawal that
 *   leaves enough is no hurry, so a consumer cannot make us claim call by call with a token withdrawal;
 * - `expiring`: a call gets within `expiringWithinSeconds` of turning stale.
 */
import type { Address, Hex } from "viem";
import { escrowOf, type DsmpState } from "../../chain/dsmp-state.ts";

/** Most calls in one claim (UsageEscrow.MAX_CALLS_PER_CLAIM). */
export const CLAIM_BATCH_SIZE = 256;

/** Time a claim needs to be mined, at most: calls closer than this to turning stale are dropped. */
export const STALE_SAFETY_SECONDS = 120;

/** A served call waiting to be claimed: a usage ledger record of a per-call service. */
export interface PendingCall {
  /** Decimal service id. */
  serviceId: string;
  consumer: Address;
  /** Token expiry, unix seconds. */
  expiry: number;
  nonce: Hex;
  signature: Hex;
  /** Unix milliseconds when the call was served. */
  servedAt: number;
}

export type ClaimTrigger = "forced" | "full" | "age" | "withdrawal" | "expiring";

export interface ClaimBatch {
  serviceId: bigint;
  calls: PendingCall[];
  trigger: ClaimTrigger;
  /** What the batch should pay in all, by the chain view. */
  expectedGross: bigint;
}

export interface ClaimPlanInput {
  /** Calls waiting, in the order they were served. */
  pending: readonly PendingCall[];
  state: DsmpState;
  /** Chain time, unix seconds (staleness is judged by block time). */
  nowSeconds: number;
  /** Wall clock, unix milliseconds (for `maxDelayMs`). */
  nowMs: number;
  /** UsageEscrow.claimWindow, seconds. */
  claimWindowSeconds: number;
  /** Claim once the oldest claimable call waited this long. */
  maxDelayMs: number;
  /** Claim when a call gets this close to turning stale. */
  expiringWithinSeconds: number;
  /** A call this close to turning stale is dropped: a claim could not be mined in time. @default {@link STALE_SAFETY_SECONDS} */
  safetySeconds?: number | undefined;
  /** Claim every claimable call now. @default false */
  force?: boolean | undefined;
  /** @default {@link CLAIM_BATCH_SIZE} */
  batchSize?: number | undefined;
}

export type DropReason = "stale";

export interface ClaimPlan {
  batches: ClaimBatch[];
  /** Calls to forget: the contract would refuse them. */
  dropped: { call: PendingCall; reason: DropReason }[];
  /** Calls kept for later: no escrow or not enough of it yet. */
  held: PendingCall[];
  /** Claimable calls left waiting for a trigger. */
  waiting: PendingCall[];
}

/**
 * Plan one round.
 * @example
 * const plan = planClaims({ pending, state, nowSeconds, nowMs: Date.now(), claimWindowSeconds: 604800, maxDelayMs: 600_000, expiringWithinSeconds: 3600 });
 * for (const batch of plan.batches) await claimUsage(client, { serviceId: batch.serviceId, calls: batch.calls });
 */
export function planClaims(input: ClaimPlanInput): ClaimPlan {
  const size = input.batchSize ?? CLAIM_BATCH_SIZE;
  const byService = new Map<string, PendingCall[]>();
  for (const call of input.pending) {
    const list = byService.get(call.serviceId);
    if (list === undefined) byService.set(call.serviceId, [call]);
    else list.push(call);
  }
  const plan: ClaimPlan = { batches: [], dropped: [], held: [], waiting: [] };
  const staleAfter = (call: PendingCall) => call.expiry + input.claimWindowSeconds;
  const safety = input.safetySeconds ?? STALE_SAFETY_SECONDS;
  for (const [id, calls] of byService) {
    const serviceId = BigInt(id);
    const current = input.state.services.get(serviceId)?.pricing.perCall ?? 0n;
    const balances = new Map<Address, bigint>();
    /** What our claimable calls of each consumer are worth. */
    const owed = new Map<Address, bigint>();
    const claimable: { call: PendingCall; price: bigint }[] = [];
    let trigger: ClaimTrigger | undefined = input.force === true ? "forced" : undefined;
    for (const call of calls) {
      if (input.nowSeconds > staleAfter(call) - safety) {
        plan.dropped.push({ call, reason: "stale" });
        continue;
      }
      const escrow = escrowOf(input.state, serviceId, call.consumer);
      const agreed = escrow?.pricePerCall ?? 0n;
      const price = agreed < current ? agreed : current;
      const balance = balances.get(call.consumer) ?? escrow?.balance ?? 0n;
      if (price === 0n || balance < price) {
        plan.held.push(call);
        continue;
      }
      balances.set(call.consumer, balance - price);
      claimable.push({ call, price });
      owed.set(call.consumer, (owed.get(call.consumer) ?? 0n) + price);
      if (trigger === undefined && input.nowSeconds >= staleAfter(call) - input.expiringWithinSeconds) trigger = "expiring";
    }
    if (trigger === undefined) {
      for (const [consumer, value] of owed) {
        const escrow = escrowOf(input.state, serviceId, consumer)!;
        if (escrow.pendingWithdrawal > 0n && escrow.balance - escrow.pendingWithdrawal < value) {
          trigger = "withdrawal";
          break;
        }
      }
    }
    if (claimable.length === 0) continue;
    if (trigger === undefined && claimable.length >= size) trigger = "full";
    if (trigger === undefined && input.nowMs - claimable[0]!.call.servedAt >= input.maxDelayMs) trigger = "age";
    if (trigger === undefined) {
      plan.waiting.push(...claimable.map((c) => c.call));
      continue;
    }
    for (let i = 0; i < claimable.length; i += size) {
      const chunk = claimable.slice(i, i + size);
      plan.batches.push({ serviceId, calls: chunk.map((c) => c.call), trigger, expectedGross: chunk.reduce((sum, c) => sum + c.price, 0n) });
    }
  }
  return plan;
}
