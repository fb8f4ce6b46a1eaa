import { abis } from "@dsmp/contracts";
import type { Address } from "viem";
import type { ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { readChain } from "../transactions.ts";

export interface GetSubscriptionParameters {
  serviceId: bigint;
  consumer: Address;
}

export interface GetSubscriptionReturnType {
  serviceId: bigint;
  consumer: Address;
  /** Unreleased escrow of the recurring stream. */
  balance: bigint;
  /** Time up to which the stream was released (unix seconds). */
  lastSettled: bigint;
  /** End of the recurring stream (unix seconds). */
  paidUntil: bigint;
  /** End of the one-time access window (unix seconds). */
  oneTimeUntil: bigint;
  /** Whether the pair counts in the service's subscriber count. */
  counted: boolean;
  /** Whether the consumer has access now. */
  active: boolean;
  /** End of access: the later of both windows, capped at a retirement (unix seconds; 0 = never subscribed). */
  expiresAt: bigint;
  /** What cancelling now would refund. */
  refundable: bigint;
}

export type GetSubscriptionErrorType = ChainRevertError | ChainUnreachableError | InterruptedError;

/**
 * State of one (service, consumer) pair (Subscriptions.getSubscription + isActive + expiresAt + refundPreview).
 * @throws {ChainRevertError} `ServiceRegistryUnknownService` for an id never published.
 * @example
 * const { active, expiresAt } = await getSubscription(client, { serviceId: 1n, consumer: "0x3C44…93BC" });
 */
export async function getSubscription(client: DsmpChainClient, parameters: GetSubscriptionParameters): Promise<GetSubscriptionReturnType> {
  const { serviceId, consumer } = parameters;
  const subscriptions = { address: client.contracts.subscriptions, abi: abis.Subscriptions } as const;
  const [stored, active, expiresAt, refundable] = await readChain(client, (pub) =>
    Promise.all([
      pub.readContract({ ...subscriptions, functionName: "getSubscription", args: [serviceId, consumer] }),
      pub.readContract({ ...subscriptions, functionName: "isActive", args: [serviceId, consumer] }),
      pub.readContract({ ...subscriptions, functionName: "expiresAt", args: [serviceId, consumer] }),
      pub.readContract({ ...subscriptions, functionName: "refundPreview", args: [serviceId, consumer] }),
    ]),
  );
  return {
    serviceId,
    consumer,
    balance: stored.balance,
    lastSettled: stored.lastSettled,
    paidUntil: stored.paidUntil,
    oneTimeUntil: stored.oneTimeUntil,
    counted: stored.counted,
    active,
    expiresAt,
    refundable,
  };
}
