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
import { findEvent, sendTransaction } from "../transactions.ts";

export interface ClaimTaskParameters {
  taskId: bigint;
  signal?: AbortSignal | undefined;
}

export interface ClaimTaskReturnType {
  hash: Hex;
  txHashes: Hex[];
  /** Reward + fee returned to the submitter. */
  refunded: bigint;
}

export type ClaimTaskErrorType =
  | ChainRevertError
  | ChainUnreachableError
  | ChainAccountRequiredError
  | DeploymentInvalidError
  | InterruptedError;

/**
 * Submitter: take back reward + fee of a task that reached no quorum (TaskManager.claim).
 * @throws {ChainRevertError} `TaskManagerTooEarly`, `TaskManagerNotSubmitter`, `TaskManagerInvalidStatus`.
 * @example
 * const { refunded } = await claimTask(client, { taskId });
 */
export async function claimTask(client: DsmpChainClient, parameters: ClaimTaskParameters): Promise<ClaimTaskReturnType> {
  const address = requireTaskManager(client);
  const { hash, receipt } = await sendTransaction(
    client,
    "claim",
    (wallet) => wallet.writeContract({ address, abi: abis.TaskManager, functionName: "claim", args: [parameters.taskId] }),
    { signal: parameters.signal },
  );
  const event = findEvent(receipt, abis.TaskManager, "TaskRefunded", address);
  return { hash, txHashes: [hash], refunded: event.args.amount };
}
