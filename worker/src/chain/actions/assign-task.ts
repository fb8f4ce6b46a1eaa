import { abis } from "@dsmp/contracts";
import { parseEventLogs, type Address, type Hex } from "viem";
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

export interface AssignTaskParameters {
  taskId: bigint;
  signal?: AbortSignal | undefined;
}

export interface AssignTaskReturnType {
  hash: Hex;
  txHashes: Hex[];
  /** Nodes seated by this draw, by slot (empty when the draw was re-targeted). */
  seated: { slot: number; node: Address; operator: Address }[];
  /** Set when the seed block had expired and the draw moved to a new block: call again after it. */
  retargetedTo: bigint | undefined;
  /** Deadlines of the round that started (undefined when re-targeted). */
  commitDeadline: bigint | undefined;
  reportDeadline: bigint | undefined;
}

export type AssignTaskErrorType =
  | ChainRevertError
  | ChainUnreachableError
  | ChainAccountRequiredError
  | DeploymentInvalidError
  | InterruptedError;

/**
 * Run the pending draw of a task (TaskManager.assign): anyone may, once its draw block is mined.
 * @throws {ChainRevertError} `TaskManagerDrawNotReady` (too early), `TaskManagerNotEnoughEligibleNodes`,
 *   `TaskManagerInvalidStatus` (already assigned).
 * @example
 * const { seated } = await assignTask(client, { taskId });
 */
export async function assignTask(client: DsmpChainClient, parameters: AssignTaskParameters): Promise<AssignTaskReturnType> {
  const address = requireTaskManager(client);
  const { hash, receipt } = await sendTransaction(
    client,
    "assign",
    (wallet) => wallet.writeContract({ address, abi: abis.TaskManager, functionName: "assign", args: [parameters.taskId] }),
    { signal: parameters.signal },
  );
  const logs = parseEventLogs({ abi: abis.TaskManager, logs: receipt.logs.filter((l) => l.address.toLowerCase() === address.toLowerCase()) });
  const seated: AssignTaskReturnType["seated"] = [];
  let retargetedTo: bigint | undefined;
  let commitDeadline: bigint | undefined;
  let reportDeadline: bigint | undefined;
  for (const log of logs) {
    if (log.eventName === "TaskAssigned") seated.push({ slot: log.args.slot, node: log.args.node, operator: log.args.operator });
    if (log.eventName === "DrawScheduled") retargetedTo = log.args.drawBlock;
    if (log.eventName === "RoundStarted") {
      commitDeadline = BigInt(log.args.commitDeadline);
      reportDeadline = BigInt(log.args.reportDeadline);
    }
  }
  return { hash, txHashes: [hash], seated, retargetedTo, commitDeadline, reportDeadline };
}
