import { abis } from "@dsmp/contracts";
import type { Address, Hex } from "viem";
import type { ChainUnreachableError, DeploymentInvalidError, InterruptedError } from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { requireTaskManager } from "../task-typed-data.ts";
import { readChain } from "../transactions.ts";
import type { NodeResources } from "./register-node.ts";

/** ITaskManager.TaskStatus by index. */
export const TASK_STATUSES = ["none", "pending", "active", "finalized", "refunded"] as const;
export type TaskStatusName = (typeof TASK_STATUSES)[number];

export interface GetTaskParameters {
  taskId: bigint;
}

/** A task as TaskManager stores it, with its committee (zero address for a vacant slot). */
export interface TaskRecord {
  taskId: bigint;
  submitter: Address;
  status: TaskStatusName | `unknown(${number})`;
  n: number;
  q: number;
  round: number;
  reward: bigint;
  fee: bigint;
  /** Stake each seated worker's operator has booked. */
  collateral: bigint;
  resources: NodeResources;
  drawBlock: bigint;
  commitDeadline: bigint;
  reportDeadline: bigint;
  finalDeadline: bigint;
  commitWindow: number;
  revealWindow: number;
  seated: number;
  anchored: number;
  participants: number;
  resultHash: Hex;
  committee: Address[];
}

export type GetTaskReturnType = TaskRecord;
export type GetTaskErrorType = ChainUnreachableError | DeploymentInvalidError | InterruptedError;

/**
 * TaskManager's record of a task and its committee (status `none` for an unknown id). Module and input hashes
 * and the input URI are in the TaskCreated event (the chain view keeps them), not in storage.
 * @example
 * const { status, committee } = await getTask(client, { taskId: 1n });
 */
export async function getTask(client: DsmpChainClient, parameters: GetTaskParameters): Promise<GetTaskReturnType> {
  const address = requireTaskManager(client);
  const tm = { address, abi: abis.TaskManager } as const;
  const [info, committee] = await readChain(client, (pub) =>
    Promise.all([
      pub.readContract({ ...tm, functionName: "getTask", args: [parameters.taskId] }),
      pub.readContract({ ...tm, functionName: "committeeOf", args: [parameters.taskId] }),
    ]),
  );
  return {
    taskId: parameters.taskId,
    submitter: info.submitter,
    status: TASK_STATUSES[info.status] ?? `unknown(${info.status})`,
    n: info.n,
    q: info.q,
    round: info.round,
    reward: info.reward,
    fee: info.fee,
    collateral: info.collateral,
    resources: { ...info.resources },
    drawBlock: BigInt(info.drawBlock),
    commitDeadline: BigInt(info.commitDeadline),
    reportDeadline: BigInt(info.reportDeadline),
    finalDeadline: BigInt(info.finalDeadline),
    commitWindow: info.commitWindow,
    revealWindow: info.revealWindow,
    seated: info.seated,
    anchored: info.anchored,
    participants: info.participants,
    resultHash: info.resultHash,
    committee: [...committee],
  };
}
