import { abis } from "@dsmp/contracts";
import type { Hex } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { findEvent, sendTransaction } from "../transactions.ts";

export interface CancelSubscriptionParameters {
  serviceId: bigint;
  signal?: AbortSignal | undefined;
}

export interface CancelSubscriptionReturnType {
  hash: Hex;
  txHashes: Hex[];
  /** Unreleased escrow sent back to the account. */
  refund: bigint;
  /** When the stream ended (unix seconds). */
  endedAt: bigint;
}

export type CancelSubscriptionErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

/**
 * End the client account's recurring subscription now (Subscriptions.cancel): what has been released is paid
 * to the owner, the rest refunded. One-time access is not affected.
 * @throws {ChainRevertError} `SubscriptionsNothingToCancel` when there is no escrow left.
 * @example
 * const { refund } = await cancelSubscription(client, { serviceId: 1n });
 */
export async function cancelSubscription(
  client: DsmpChainClient,
  parameters: CancelSubscriptionParameters,
): Promise<CancelSubscriptionReturnType> {
  const subscriptions = client.contracts.subscriptions;
  const { hash, receipt } = await sendTransaction(
    client,
    "unsubscribe",
    (wallet) => wallet.writeContract({ address: subscriptions, abi: abis.Subscriptions, functionName: "cancel", args: [parameters.serviceId] }),
    { signal: parameters.signal },
  );
  const event = findEvent(receipt, abis.Subscriptions, "Cancelled", subscriptions);
  return { hash, txHashes: [hash], refund: event.args.refund, endedAt: event.args.endedAt };
}
