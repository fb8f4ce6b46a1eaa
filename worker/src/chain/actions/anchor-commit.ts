import { abis } from "@dsmp/contracts";
import type { Hex } from "viem";
import type {
  ChainAccountRequiredError,
  ChainRevertError,
  ChainUnreachableError,
  DeploymentInvalidError,
  InterruptedError,
} from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { requireTaskManager } from "../task-typed-data.ts";
import { sendTransaction } from "../transactions.ts";

export interface AnchorCommitParameters {
  taskId: bigint;
  /** The worker's committee slot. */
  slot: number;
  seal: Hex;
  /** The worker's Commit signature (signTaskCommit). */
  signature: Hex;
  signal?: AbortSignal | undefined;
}

export interface AnchorCommitReturnType {
  hash: Hex;
  txHashes: Hex[];
}

export type AnchorCommitErrorType =
  | ChainRevertError
  | ChainUnreachableError
  | ChainAccountRequiredError
  | DeploymentInvalidError
  | InterruptedError;

/**
 * Put a worker's signed commit on-chain (TaskManager.anchorCommit) so a failed round does not treat it as
 * silent. Only needed when a round may miss its quorum: an honest worker anchors when it has seen fewer than
 * q seals by the commit deadline, or the report deadline nears without finalization.
 * @throws {ChainRevertError} `TaskManagerInvalidSignature`, `TaskManagerDeadlinePassed`, `TaskManagerInvalidSlot`.
 * @example
 * await anchorCommit(client, { taskId, slot, seal, signature });
 */
export async function anchorCommit(client: DsmpChainClient, parameters: AnchorCommitParameters): Promise<AnchorCommitReturnType> {
  const { taskId, slot, seal, signature, signal } = parameters;
  const address = requireTaskManager(client);
  const { hash } = await sendTransaction(
    client,
    "anchorCommit",
    (wallet) => wallet.writeContract({ address, abi: abis.TaskManager, functionName: "anchorCommit", args: [taskId, slot, seal, signature] }),
    { signal },
  );
  return { hash, txHashes: [hash] };
}
