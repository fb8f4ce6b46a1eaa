import { abis } from "@dsmp/contracts";
import type { Hex } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { findEvent, readChain, requireWallet, sendTransaction } from "../transactions.ts";
import { ensureAllowance, type TokenApproval } from "./ensure-allowance.ts";

export interface SubscribeParameters {
  serviceId: bigint;
  /** Periods to pay for (≥ 1); renewing adds them after the current end. */
  periods: number;
  /**
   * Highest price per period accepted; protects against the owner raising it between the read and the
   * transaction. @default the current price
   */
  maxPricePerPeriod?: bigint | undefined;
  /** Merkle proof of allow-list membership (private services with a root); explicit grants need none. @default [] */
  proof?: readonly Hex[] | undefined;
  signal?: AbortSignal | undefined;
}

export interface SubscribeReturnType {
  hash: Hex;
  txHashes: Hex[];
  approval: TokenApproval | undefined;
  pricePerPeriod: bigint;
  /** periods × pricePerPeriod, moved into escrow. */
  deposit: bigint;
  /** Unreleased escrow of the stream afterwards. */
  balance: bigint;
  /** End of the recurring access (unix seconds). */
  paidUntil: bigint;
}

export type SubscribeErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

/**
 * Open or renew a recurring subscription of the client's account (Subscriptions.subscribe): deposits
 * `periods × price` into escrow, approving Subscriptions first when the allowance is short.
 * @throws {ChainRevertError} `SubscriptionsNotAllowed`, `SubscriptionsNotRecurring`, `SubscriptionsPriceAboveMax`,
 *   `SubscriptionsServiceRetired`, `ERC20InsufficientBalance`, `ServiceRegistryUnknownService`.
 * @example
 * const { paidUntil, deposit } = await subscribe(client, { serviceId: 1n, periods: 3 });
 */
export async function subscribe(client: DsmpChainClient, parameters: SubscribeParameters): Promise<SubscribeReturnType> {
  const { serviceId, periods, signal } = parameters;
  const account = requireWallet(client, "subscribe").account;
  const subscriptions = client.contracts.subscriptions;
  const terms = await readChain(client, (pub) =>
    pub.readContract({ address: client.contracts.serviceRegistry, abi: abis.ServiceRegistry, functionName: "termsOf", args: [serviceId] }),
  );
  const price = terms.pricing.perPeriod;
  const request = {
    address: subscriptions,
    abi: abis.Subscriptions,
    functionName: "subscribe",
    args: [serviceId, periods, parameters.maxPricePerPeriod ?? price, parameters.proof ?? []],
  } as const;
  const approval = await ensureAllowance(client, {
    spender: subscriptions,
    amount: price * BigInt(periods),
    preflight: () => client.public.simulateContract({ ...request, account }),
    signal,
  });
  const { hash, receipt } = await sendTransaction(client, "subscribe", (wallet) => wallet.writeContract(request), { signal });
  const event = findEvent(receipt, abis.Subscriptions, "Subscribed", subscriptions);
  return {
    hash,
    txHashes: approval === undefined ? [hash] : [approval.hash, hash],
    approval,
    pricePerPeriod: event.args.pricePerPeriod,
    deposit: event.args.deposit,
    balance: event.args.balance,
    paidUntil: event.args.paidUntil,
  };
}
