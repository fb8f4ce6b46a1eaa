import { abis } from "@dsmp/contracts";
import type { Hex } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { sendTransaction } from "../transactions.ts";
import { toServiceParams, type ServiceDefinition } from "./publish-service.ts";

export interface UpdateServiceParameters {
  serviceId: bigint;
  /** Replaces every field (read the service first to change only some). */
  service: ServiceDefinition;
  signal?: AbortSignal | undefined;
}

export interface UpdateServiceReturnType {
  hash: Hex;
  txHashes: Hex[];
}

export type UpdateServiceErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

/**
 * Replace every field of an active service the client's account owns (ServiceRegistry.update).
 * @throws {ChainRevertError} `ServiceRegistryNotOwner`, `ServiceRegistryServiceRetired`, `ServiceRegistryDuplicateName`, …
 * @example
 * const current = await getService(client, { serviceId: 3n });
 * await updateService(client, { serviceId: 3n, service: { ...current, pricing: { ...current.pricing, perPeriod: parseEther("6") } } });
 */
export async function updateService(client: DsmpChainClient, parameters: UpdateServiceParameters): Promise<UpdateServiceReturnType> {
  const { hash } = await sendTransaction(
    client,
    "service update",
    (wallet) =>
      wallet.writeContract({
        address: client.contracts.serviceRegistry,
        abi: abis.ServiceRegistry,
        functionName: "update",
        args: [parameters.serviceId, toServiceParams(parameters.service)],
      }),
    { signal: parameters.signal },
  );
  return { hash, txHashes: [hash] };
}
