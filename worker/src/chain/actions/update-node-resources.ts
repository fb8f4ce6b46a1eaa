import { abis } from "@dsmp/contracts";
import type { Address, Hex } from "viem";
import type { ChainAccountRequiredError, ChainRevertError, ChainUnreachableError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { sendTransaction } from "../transactions.ts";
import type { NodeResources } from "./register-node.ts";

export interface UpdateNodeResourcesParameters {
  node: Address;
  resources: NodeResources;
  /** Capacity slots (≥ 1). */
  slots: number;
  signal?: AbortSignal | undefined;
}

export interface UpdateNodeResourcesReturnType {
  hash: Hex;
  txHashes: Hex[];
}

export type UpdateNodeResourcesErrorType = ChainRevertError | ChainUnreachableError | ChainAccountRequiredError | InterruptedError;

/**
 * Change what a node advertises (XnodeRegistry.updateResources, its operator only): the task draw and Proof of
 * Resource use the new figures from the next block (a raised CPU counts as unproven until challenged again).
 * @throws {ChainRevertError} `XnodeRegistryNotOperator`, `XnodeRegistryInvalidResources`, `XnodeRegistryInvalidSlots`, …
 * @example
 * await updateNodeResources(client, { node, resources: { cpuMillicores: 2000, memoryMiB: 4096, storageGiB: 50, gpus: 0 }, slots: 2 });
 */
export async function updateNodeResources(client: DsmpChainClient, parameters: UpdateNodeResourcesParameters): Promise<UpdateNodeResourcesReturnType> {
  const { resources } = parameters;
  const { hash } = await sendTransaction(
    client,
    "node update",
    (wallet) =>
      wallet.writeContract({
        address: client.contracts.xnodeRegistry,
        abi: abis.XnodeRegistry,
        functionName: "updateResources",
        args: [
          parameters.node,
          { cpuMillicores: resources.cpuMillicores, memoryMiB: resources.memoryMiB, storageGiB: resources.storageGiB, gpus: resources.gpus },
          parameters.slots,
        ],
      }),
    { signal: parameters.signal },
  );
  return { hash, txHashes: [hash] };
}
