import { abis } from "@dsmp/contracts";
import type { Hex } from "viem";
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

export type WithdrawEscrowErrorType =
  | ChainRevertError
  | ChainUnreachableError
  | ChainAccountRequiredError
  | DeploymentInvalidError
  | InterruptedError;

export interface RequestEscrowWithdrawalParameters {
  serviceId: bigint;
  /** Tokens to withdraw (> 0, ≤ balance). */
  amount: bigint;
  signal?: AbortSignal | undefined;
}

export interface RequestEscrowWithdrawalReturnType {
  hash: Hex;
  txHashes: Hex[];
  amount: bigint;
  /** Unix seconds from which `withdrawEscrow` succeeds. */
  withdrawableAt: bigint;
}

/**
 * Step 1 of taking escrow back (UsageEscrow.requestWithdrawal): starts the withdrawal delay, during which
 * providers claim the calls they served. Replaces an earlier request.
 * @throws {ChainRevertError} `UsageEscrowBadWithdrawalAmount`.
 * @example
 * const { withdrawableAt } = await requestEscrowWithdrawal(client, { serviceId: 4n, amount: parseEther("1") });
 */
export async function requestEscrowWithdrawal(
  client: DsmpChainClient,
  parameters: RequestEscrowWithdrawalParameters,
): Promise<RequestEscrowWithdrawalReturnType> {
  const address = requireUsageEscrow(client);
  const { hash, receipt } = await sendTransaction(
    client,
    "requestWithdrawal",
    (wallet) => wallet.writeContract({ address, abi: abis.UsageEscrow, functionName: "requestWithdrawal", args: [parameters.serviceId, parameters.amount] }),
    { signal: parameters.signal },
  );
  const event = findEvent(receipt, abis.UsageEscrow, "WithdrawalRequested", address);
  return { hash, txHashes: [hash], amount: event.args.amount, withdrawableAt: BigInt(event.args.withdrawableAt) };
}

export interface CancelEscrowWithdrawalParameters {
  serviceId: bigint;
  signal?: AbortSignal | undefined;
}

/**
 * Drop a pending withdrawal request (UsageEscrow.cancelWithdrawal).
 * @throws {ChainRevertError} `UsageEscrowNoPendingWithdrawal`.
 */
export async function cancelEscrowWithdrawal(client: DsmpChainClient, parameters: CancelEscrowWithdrawalParameters): Promise<{ hash: Hex; txHashes: Hex[] }> {
  const address = requireUsageEscrow(client);
  const { hash } = await sendTransaction(
    client,
    "cancelWithdrawal",
    (wallet) => wallet.writeContract({ address, abi: abis.UsageEscrow, functionName: "cancelWithdrawal", args: [parameters.serviceId] }),
    { signal: parameters.signal },
  );
  return { hash, txHashes: [hash] };
}

export interface WithdrawEscrowParameters {
  serviceId: bigint;
  signal?: AbortSignal | undefined;
}

export interface WithdrawEscrowReturnType {
  hash: Hex;
  txHashes: Hex[];
  /** Tokens sent back: min(requested, balance left after claims). */
  amount: bigint;
  /** Escrow balance afterwards. */
  balance: bigint;
}

/**
 * Step 2 (UsageEscrow.withdraw): once the delay has passed, take back min(requested, balance).
 * @throws {ChainRevertError} `UsageEscrowNoPendingWithdrawal`, `UsageEscrowWithdrawalLocked`.
 * @example
 * const { amount } = await withdrawEscrow(client, { serviceId: 4n });
 */
export async function withdrawEscrow(client: DsmpChainClient, parameters: WithdrawEscrowParameters): Promise<WithdrawEscrowReturnType> {
  const address = requireUsageEscrow(client);
  const { hash, receipt } = await sendTransaction(
    client,
    "withdraw",
    (wallet) => wallet.writeContract({ address, abi: abis.UsageEscrow, functionName: "withdraw", args: [parameters.serviceId] }),
    { signal: parameters.signal },
  );
  const event = findEvent(receipt, abis.UsageEscrow, "Withdrawn", address);
  return { hash, txHashes: [hash], amount: event.args.amount, balance: event.args.balance };
}
