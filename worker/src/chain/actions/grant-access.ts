import { abis } from "@dsmp/contracts";
import type { Address, Hex } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { sendTransaction } from "../transactions.ts";

export interface GrantAccessParameters {
  serviceId: bigint;
  consumer: Address;
  signal?: AbortSignal | undefined;
}

export interface GrantAccessReturnType {
  hash: Hex;
  txHashes: Hex[];
}

export type GrantAccessErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

/**
 * Put `consumer` on the explicit allow-list of a (private) service the client's account owns (ServiceRegistry.grant).
 * @throws {ChainRevertError} `ServiceRegistryNotOwner`, `ServiceRegistryServiceRetired`, `ServiceRegistryZeroAddress`.
 * @example
 * await grantAccess(client, { serviceId: 4n, consumer: "0x3C44…93BC" });
 */
export async function grantAccess(client: DsmpChainClient, parameters: GrantAccessParameters): Promise<GrantAccessReturnType> {
  const { hash } = await sendTransaction(
    client,
    "service grant",
    (wallet) =>
      wallet.writeContract({
        address: client.contracts.serviceRegistry,
        abi: abis.ServiceRegistry,
        functionName: "grant",
        args: [parameters.serviceId, parameters.consumer],
      }),
    { signal: parameters.signal },
  );
  return { hash, txHashes: [hash] };
}
