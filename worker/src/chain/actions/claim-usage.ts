import { abis } from "@dsmp/contracts";
import { parseEventLogs, type Address, type Hex } from "viem";
import type {
  ChainAccountRequiredError,
  ChainRevertError,
  ChainUnreachableError,
  DeploymentInvalidError,
  InterruptedError,
} from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { findEvent, sendTransaction } from "../transactions.ts";
import { requireUsageEscrow } from "./usage-escrow-address.ts";

/** One served call: the consumer's access token fields and signature (the service id is the claim's). */
export interface UsageCall {
  consumer: Address;
  /** Token expiry, unix seconds. */
  expiry: number;
  nonce: Hex;
  signature: Hex;
}

/** Why UsageEscrow skipped a call (its `RejectReason`, in enum order from 1). */
export const USAGE_REJECT_REASONS = ["stale", "bad-signature", "already-paid", "no-escrow", "insufficient-balance"] as const;
export type UsageRejectReason = (typeof USAGE_REJECT_REASONS)[number];

/** Most calls one claim carries (UsageEscrow.MAX_CALLS_PER_CLAIM). */
export const MAX_CALLS_PER_CLAIM = 256;

export interface ClaimUsageParameters {
  serviceId: bigint;
  /** 1 to {@link MAX_CALLS_PER_CLAIM} calls. */
  calls: readonly UsageCall[];
  signal?: AbortSignal | undefined;
}

export interface ClaimUsageReturnType {
  hash: Hex;
  txHashes: Hex[];
  /** The operator credited (the claiming node's). */
  operator: Address;
  paid: { consumer: Address; nonce: Hex; price: bigint }[];
  rejected: { consumer: Address; nonce: Hex; reason: UsageRejectReason }[];
  /** Paid to the operator, after the protocol fee. */
  operatorAmount: bigint;
  fee: bigint;
  gasUsed: bigint;
}

export type ClaimUsageErrorType =
  | ChainRevertError
  | ChainUnreachableError
  | ChainAccountRequiredError
  | DeploymentInvalidError
  | InterruptedError;

/**
 * A provider node claims payment for calls it served (UsageEscrow.claim), sent with the node's own key.
 * Calls the contract cannot pay are skipped, not fatal; the result says which and why.
 * @throws {ChainRevertError} `UsageEscrowNotServingNode` (not an active Xnode with the service's stake),
 *   `UsageEscrowBadBatchSize`.
 * @example
 * const { paid, rejected } = await claimUsage(nodeClient, { serviceId: 4n, calls });
 */
export async function claimUsage(client: DsmpChainClient, parameters: ClaimUsageParameters): Promise<ClaimUsageReturnType> {
  const address = requireUsageEscrow(client);
  const { serviceId } = parameters;
  const calls = parameters.calls.map((c) => ({ consumer: c.consumer, expiry: BigInt(c.expiry), nonce: c.nonce, signature: c.signature }));
  const { hash, receipt } = await sendTransaction(
    client,
    "claim",
    (wallet) => wallet.writeContract({ address, abi: abis.UsageEscrow, functionName: "claim", args: [serviceId, calls] }),
    { signal: parameters.signal },
  );
  const claimed = findEvent(receipt, abis.UsageEscrow, "Claimed", address);
  const logs = parseEventLogs({ abi: abis.UsageEscrow, logs: receipt.logs.filter((l) => l.address.toLowerCase() === address.toLowerCase()) });
  const paid: ClaimUsageReturnType["paid"] = [];
  const rejected: ClaimUsageReturnType["rejected"] = [];
  for (const log of logs) {
    if (log.eventName === "CallPaid") paid.push({ consumer: log.args.consumer, nonce: log.args.nonce, price: log.args.price });
    else if (log.eventName === "CallRejected") {
      rejected.push({ consumer: log.args.consumer, nonce: log.args.nonce, reason: USAGE_REJECT_REASONS[Number(log.args.reason) - 1] ?? "bad-signature" });
    }
  }
  return {
    hash,
    txHashes: [hash],
    operator: claimed.args.operator,
    paid,
    rejected,
    operatorAmount: claimed.args.operatorAmount,
    fee: claimed.args.fee,
    gasUsed: receipt.gasUsed,
  };
}
