import { abis } from "@dsmp/contracts";
import type { Address } from "viem";
import type { ChainRevertError, ChainUnreachableError, DeploymentInvalidError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { readChain } from "../transactions.ts";
import { requireUsageEscrow } from "./usage-escrow-address.ts";

export interface GetEscrowParameters {
  serviceId: bigint;
  consumer: Address;
}

export interface GetEscrowReturnType {
  serviceId: bigint;
  consumer: Address;
  /** Tokens claims can draw from (a pending withdrawal included until withdrawn). */
  balance: bigint;
  /** Price per call the consumer agreed to at its last deposit (0 = never deposited). */
  pricePerCall: bigint;
  /** The service's per-call price now. */
  currentPricePerCall: bigint;
  /** Amount requested for withdrawal (0 = none). */
  pendingWithdrawal: bigint;
  /** Unix seconds from which the pending withdrawal can be taken (0 = none). */
  withdrawableAt: bigint;
  /** Seconds between a withdrawal request and the withdrawal. */
  withdrawalDelay: bigint;
  /** Calls the balance pays for at min(agreed, current) price (0 when either price is 0). */
  callsCovered: bigint;
}

export type GetEscrowErrorType = ChainRevertError | ChainUnreachableError | DeploymentInvalidError | InterruptedError;

/**
 * A consumer's per-call escrow for a service (UsageEscrow.accountOf) and the service's current per-call price.
 * @throws {ChainRevertError} `ServiceRegistryUnknownService` for an id never published.
 * @example
 * const { balance, callsCovered } = await getEscrow(client, { serviceId: 4n, consumer: "0x3C44…93BC" });
 */
export async function getEscrow(client: DsmpChainClient, parameters: GetEscrowParameters): Promise<GetEscrowReturnType> {
  const { serviceId, consumer } = parameters;
  const escrow = { address: requireUsageEscrow(client), abi: abis.UsageEscrow } as const;
  const [account, terms, withdrawalDelay] = await readChain(client, (pub) =>
    Promise.all([
      pub.readContract({ ...escrow, functionName: "accountOf", args: [serviceId, consumer] }),
      pub.readContract({ address: client.contracts.serviceRegistry, abi: abis.ServiceRegistry, functionName: "termsOf", args: [serviceId] }),
      pub.readContract({ ...escrow, functionName: "withdrawalDelay" }),
    ]),
  );
  const current = terms.pricing.perCall;
  const price = account.pricePerCall < current ? account.pricePerCall : current;
  return {
    serviceId,
    consumer,
    balance: account.balance,
    pricePerCall: account.pricePerCall,
    currentPricePerCall: current,
    pendingWithdrawal: account.pendingWithdrawal,
    withdrawableAt: BigInt(account.withdrawableAt),
    withdrawalDelay: BigInt(withdrawalDelay),
    callsCovered: price === 0n ? 0n : account.balance / price,
  };
}
