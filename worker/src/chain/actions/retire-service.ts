import { abis } from "@dsmp/contracts";
import type { Hex } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { sendTransaction } from "../transactions.ts";

export interface RetireServiceParameters {
  serviceId: bigint;
  signal?: AbortSignal | undefined;
}

export interface RetireServiceReturnType {
  hash: Hex;
  txHashes: Hex[];
}

export type RetireServiceErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

/**
 * Retire a service for good (ServiceRegistry.retire, owner only): subscriptions stop accruing and its
 * consumers cancel for the rest; the name is free again.
 * @throws {ChainRevertError} `ServiceRegistryNotOwner`, `ServiceRegistryServiceRetired`, `ServiceRegistryUnknownService`.
 * @example
 * await retireService(client, { serviceId: 3n });
 */
export async function retireService(client: DsmpChainClient, parameters: RetireServiceParameters): Promise<RetireServiceReturnType> {
  const { hash } = await sendTransaction(
    client,
    "service retire",
    (wallet) =>
      wallet.writeContract({ address: client.contracts.serviceRegistry, abi: abis.ServiceRegistry, functionName: "retire", args: [parameters.serviceId] }),
    { signal: parameters.signal },
  );
  return { hash, txHashes: [hash] };
}
