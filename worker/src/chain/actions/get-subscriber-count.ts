import { abis } from "@dsmp/contracts";
import type { ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { readChain } from "../transactions.ts";

export interface GetSubscriberCountParameters {
  serviceId: bigint;
}

export type GetSubscriberCountReturnType = bigint;
export type GetSubscriberCountErrorType = ChainUnreachableError | InterruptedError;

/**
 * Consumers currently counted for a service (Subscriptions.subscriberCount): a pair stops counting when it
 * cancels, or when it is settled after its access lapsed.
 * @example
 * const subscribers = await getSubscriberCount(client, { serviceId: 1n });
 */
export async function getSubscriberCount(client: DsmpChainClient, parameters: GetSubscriberCountParameters): Promise<GetSubscriberCountReturnType> {
  return readChain(client, (pub) =>
    pub.readContract({ address: client.contracts.subscriptions, abi: abis.Subscriptions, functionName: "subscriberCount", args: [parameters.serviceId] }),
  );
}
