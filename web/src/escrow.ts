/**
 * What the per-call escrow panel shows and offers, from UsageEscrow.accountOf, the service's current price and the
 * chain's clock. Pure, so every state of the panel is table-tested (escrow.test.ts).
 */

export interface EscrowAccount {
  balance: bigint;
  pricePerCall: bigint;
  pendingWithdrawal: bigint;
  withdrawableAt: bigint;
}

export type WithdrawalState =
  | { kind: "none" }
  /** Requested; the delay runs until `at` (unix seconds). */
  | { kind: "waiting"; amount: bigint; at: bigint; secondsLeft: number }
  /** Requested and the delay passed: `withdraw` pays min(requested, balance). */
  | { kind: "ready"; amount: bigint; payable: bigint };

export interface EscrowView {
  /** The consumer never deposited for this service. */
  empty: boolean;
  /** The owner raised the price above the one the consumer agreed to: providers refuse calls until a deposit (even 0). */
  outdated: boolean;
  /** Price a call is charged now: min(agreed, current); 0 before any deposit. */
  chargedPrice: bigint;
  /** Calls the balance left after a pending withdrawal covers at that price (what providers will serve). */
  callsCovered: bigint;
  withdrawal: WithdrawalState;
}

/**
 * @example
 * escrowView({ balance: 5n, pricePerCall: 1n, pendingWithdrawal: 0n, withdrawableAt: 0n }, 1n, 1_800_000_000) // callsCovered 5n
 */
export function escrowView(account: EscrowAccount, currentPrice: bigint, nowSeconds: number): EscrowView {
  const empty = account.pricePerCall === 0n;
  const outdated = !empty && account.pricePerCall < currentPrice;
  const chargedPrice = empty ? 0n : account.pricePerCall < currentPrice ? account.pricePerCall : currentPrice;
  const usable = account.balance > account.pendingWithdrawal ? account.balance - account.pendingWithdrawal : 0n;
  const callsCovered = chargedPrice === 0n || outdated ? 0n : usable / chargedPrice;
  let withdrawal: WithdrawalState = { kind: "none" };
  if (account.pendingWithdrawal > 0n) {
    const left = Number(account.withdrawableAt) - nowSeconds;
    withdrawal =
      left > 0
        ? { kind: "waiting", amount: account.pendingWithdrawal, at: account.withdrawableAt, secondsLeft: left }
        : { kind: "ready", amount: account.pendingWithdrawal, payable: account.pendingWithdrawal < account.balance ? account.pendingWithdrawal : account.balance };
  }
  return { empty, outdated, chargedPrice, callsCovered, withdrawal };
}
