/**
 * Failed transactions as sentences. A revert is decoded with the custom errors of every DSMP ABI (an ERC-20
 * error bubbles up through Staking or Subscriptions) — the same approach as worker/src/chain/revert-errors.ts,
 * which the CLI uses; web/ shares only the generated ABIs, so the common conditions are re-phrased here.
 */
import { abis } from "@dsmp/contracts";
import { BaseError, ContractFunctionRevertedError, decodeErrorResult, UserRejectedRequestError, type Abi, type Hex } from "viem";

type AbiError = Extract<Abi[number], { type: "error" }>;
import { formatDuration, formatOpen, formatUtc, shortHex } from "./format.ts";

/** Every custom error of every DSMP ABI, once each. */
export const DSMP_ERRORS_ABI: readonly AbiError[] = (() => {
  const seen = new Map<string, AbiError>();
  for (const abi of Object.values(abis) as Abi[]) {
    for (const item of abi) {
      if (item.type !== "error") continue;
      const sig = `${item.name}(${item.inputs.map((i) => i.type).join(",")})`;
      if (!seen.has(sig)) seen.set(sig, item);
    }
  }
  return [...seen.values()];
})();

type Args = readonly unknown[];
const big = (v: unknown) => (typeof v === "bigint" ? v : BigInt(String(v)));

/** Sentences for the conditions a UI user meets; the rest read as `Name(arg, …)`. */
const SENTENCES: Record<string, (a: Args, nowSeconds: number) => string> = {
  ERC20InsufficientBalance: (a) => `not enough OPEN: the account holds ${formatOpen(big(a[1]))}, this needs ${formatOpen(big(a[2]))}`,
  ERC20InsufficientAllowance: (a) => `the token allowance is ${formatOpen(big(a[1]))}, this needs ${formatOpen(big(a[2]))} — approve first`,
  StakingZeroAmount: () => "the amount must be more than zero",
  StakingInsufficientFreeStake: (a) => `not enough free stake: have ${formatOpen(big(a[1]))}, need ${formatOpen(big(a[2]))}`,
  StakingUnbondingNotReleased: (a, now) => `the unbonding stake is released at ${formatUtc(big(a[1]))} (in ${formatDuration(Number(big(a[1])) - now)})`,
  StakingNothingToWithdraw: () => "nothing to withdraw: request an unbond and wait for the delay first",
  XnodeRegistryInsufficientStake: (a) => `insufficient stake to register a node: have ${formatOpen(big(a[1]))} free, need ${formatOpen(big(a[2]))} — stake more first`,
  XnodeRegistryNodeAlreadyRegistered: (a) => `node ${shortHex(String(a[0]))} is already registered`,
  XnodeRegistryInvalidSignature: () => "the node key's proof of possession did not verify",
  XnodeRegistrySignatureExpired: () => "the node key's proof of possession expired: try again",
  XnodeRegistryInvalidSlots: () => "slots must be at least 1",
  XnodeRegistryInvalidResources: () => "cpu and memory must be more than zero",
  XnodeRegistryUndercollateralized: (a) => `stake would not cover the bonds: bonded ${formatOpen(big(a[1]))}, locked ${formatOpen(big(a[2]))}`,
  SubscriptionsNotAllowed: (a) => `not allowed: service ${String(a[0])} is private and this account is not on its allow-list`,
  SubscriptionsPriceAboveMax: (a) => `the price changed to ${formatOpen(big(a[1]))}, above the ${formatOpen(big(a[2]))} you accepted`,
  SubscriptionsNothingToCancel: (a) => `nothing to cancel on service ${String(a[0])}`,
  SubscriptionsServiceRetired: (a) => `service ${String(a[0])} is retired`,
  SubscriptionsNotRecurring: (a) => `service ${String(a[0])} has no recurring price`,
  SubscriptionsNotOneTime: (a) => `service ${String(a[0])} has no one-time price`,
  SubscriptionsZeroPeriods: () => "choose at least one period",
  LeaseEscrowDepositTooLow: (a) => `deposit ${formatOpen(big(a[0]))} is below the minimum ${formatOpen(big(a[1]))} (the offer's minimum duration)`,
  LeaseEscrowDepositTooHigh: (a) => `deposit ${formatOpen(big(a[0]))} is above the maximum ${formatOpen(big(a[1]))} (the offer's maximum duration)`,
  LeaseEscrowOfferFull: (a) => `offer ${String(a[0])} has no free lease slot`,
  LeaseEscrowOfferInactive: (a) => `offer ${String(a[0])} is not active`,
  LeaseEscrowNotLessee: () => "only the lessee may do this",
};

export interface DecodedFailure {
  /** `rejected` (the user said no in the wallet), `revert` (the contract refused), `other`. */
  kind: "rejected" | "revert" | "other";
  /** Custom error name when decoded. */
  errorName?: string;
  message: string;
}

function describeRevert(errorName: string, args: Args, nowSeconds: number): string {
  const sentence = SENTENCES[errorName];
  if (sentence) return sentence(args, nowSeconds);
  return `${errorName}(${args.map((a) => String(a)).join(", ")})`;
}

/** Raw revert data → decoded, or undefined when no DSMP error matches. */
export function decodeRevertData(data: Hex): { errorName: string; args: Args } | undefined {
  try {
    const r = decodeErrorResult({ abi: DSMP_ERRORS_ABI as Abi, data });
    return { errorName: r.errorName, args: (r.args ?? []) as Args };
  } catch {
    return undefined;
  }
}

/** Any thrown error of a write → what to show. */
export function decodeFailure(error: unknown, nowSeconds = Math.floor(Date.now() / 1000)): DecodedFailure {
  if (error instanceof BaseError) {
    if (error.walk((e) => e instanceof UserRejectedRequestError || (e as { code?: number }).code === 4001)) {
      return { kind: "rejected", message: "you rejected the request in the wallet" };
    }
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null;
    if (reverted) {
      if (reverted.data?.errorName) return { kind: "revert", errorName: reverted.data.errorName, message: describeRevert(reverted.data.errorName, (reverted.data.args ?? []) as Args, nowSeconds) };
      if (reverted.raw) {
        const d = decodeRevertData(reverted.raw);
        if (d) return { kind: "revert", errorName: d.errorName, message: describeRevert(d.errorName, d.args, nowSeconds) };
      }
      if (reverted.reason) return { kind: "revert", message: reverted.reason };
    }
    // Revert data somewhere in the cause chain (e.g. a wallet's RPC error with `data`).
    let data: Hex | undefined;
    error.walk((e) => {
      const d = (e as { data?: unknown }).data;
      if (typeof d === "string" && /^0x[0-9a-f]{8}/i.test(d)) data = d as Hex;
      else if (d && typeof d === "object" && typeof (d as { data?: unknown }).data === "string") data = (d as { data: Hex }).data;
      return false;
    });
    if (data) {
      const d = decodeRevertData(data);
      if (d) return { kind: "revert", errorName: d.errorName, message: describeRevert(d.errorName, d.args, nowSeconds) };
    }
    return { kind: "other", message: error.shortMessage };
  }
  return { kind: "other", message: error instanceof Error ? error.message : String(error) };
}
