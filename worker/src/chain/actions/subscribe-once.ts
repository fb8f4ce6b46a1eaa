import { abis } from "@dsmp/contracts";
import type { Hex } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { findEvent, readChain, requireWallet, sendTransaction } from "../transactions.ts";
import { ensureAllowance, type TokenApproval } from "./ensure-allowance.ts";

export interface SubscribeOnceParameters {
  serviceId: bigint;
  /** Highest one-time price accepted. @default the current price */
  maxPrice?: bigint | undefined;
  /** Merkle proof of allow-list membership; explicit grants need none. @default [] */
  proof?: readonly Hex[] | undefined;
  signal?: AbortSignal | undefined;
}

export interface SubscribeOnceReturnType {
  hash: Hex;
  txHashes: Hex[];
  approval: TokenApproval | undefined;
  /** Paid at once (owner share + protocol fee); never refunded. */
  price: bigint;
  /** End of the one-time access window (unix seconds). */
  oneTimeUntil: bigint;
}

export type SubscribeOnceErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

/**
 * Buy one-time access for the client's account (Subscriptions.subscribeOnce): pays the one-time price now
 * and extends the access window by the service's one-time duration.
 * @throws {ChainRevertError} `SubscriptionsNotOneTime`, `SubscriptionsNotAllowed`, `SubscriptionsPriceAboveMax`, …
 * @example
 * const { oneTimeUntil } = await subscribeOnce(client, { serviceId: 2n });
 */
export async function subscribeOnce(client: DsmpChainClient, parameters: SubscribeOnceParameters): Promise<SubscribeOnceReturnType> {
  const { serviceId, signal } = parameters;
  const account = requireWallet(client, "subscribe --once").account;
  const subscriptions = client.contracts.subscriptions;
  const terms = await readChain(client, (pub) =>
    pub.readContract({ address: client.contracts.serviceRegistry, abi: abis.ServiceRegistry, functionName: "termsOf", args: [serviceId] }),
  );
  const price = terms.pricing.oneTime;
  const request = {
    address: subscriptions,
    abi: abis.Subscriptions,
    functionName: "subscribeOnce",
    args: [serviceId, parameters.maxPrice ?? price, parameters.proof ?? []],
  } as const;
  const approval = await ensureAllowance(client, {
    spender: subscriptions,
    amount: price,
    preflight: () => client.public.simulateContract({ ...request, account }),
    signal,
  });
  const { hash, receipt } = await sendTransaction(client, "subscribe --once", (wallet) => wallet.writeContract(request), { signal });
  const event = findEvent(receipt, abis.Subscriptions, "SubscribedOnce", subscriptions);
  return {
    hash,
    txHashes: approval === undefined ? [hash] : [approval.hash, hash],
    approval,
    price: event.args.price,
    oneTimeUntil: event.args.oneTimeUntil,
  };
}
