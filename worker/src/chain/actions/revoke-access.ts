import { abis } from "@dsmp/contracts";
import type { Address, Hex } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { sendTransaction } from "../transactions.ts";

export interface RevokeAccessParameters {
  serviceId: bigint;
  consumer: Address;
  signal?: AbortSignal | undefined;
}

export interface RevokeAccessReturnType {
  hash: Hex;
  txHashes: Hex[];
}

export type RevokeAccessErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

/**
 * Remove the explicit grant of `consumer` from a service the client's account owns (ServiceRegistry.revoke); a Merkle proof may still admit it.
 * @throws {ChainRevertError} `ServiceRegistryNotOwner`, `ServiceRegistryServiceRetired`.
 * @example
 * await revokeAccess(client, { serviceId: 4n, consumer: "0x3C44…93BC" });
 */
export async function revokeAccess(client: DsmpChainClient, parameters: RevokeAccessParameters): Promise<RevokeAccessReturnType> {
  const { hash } = await sendTransaction(
    client,
    "service revoke",
    (wallet) =>
      wallet.writeContract({
        address: client.contracts.serviceRegistry,
        abi: abis.ServiceRegistry,
        functionName: "revoke",
        args: [parameters.serviceId, parameters.consumer],
      }),
    { signal: parameters.signal },
  );
  return { hash, txHashes: [hash] };
}
