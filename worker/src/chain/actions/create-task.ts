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
import { findEvent, readChain, requireWallet, sendTransaction } from "../transactions.ts";
import { ensureAllowance, type TokenApproval } from "./ensure-allowance.ts";
import type { NodeResources } from "./register-node.ts";

/** ITaskManager.TaskSpec. */
export interface TaskSpec {
  /** sha256 of the WebAssembly module. */
  moduleHash: Hex;
  /** sha256 of the input bytes. */
  inputHash: Hex;
  /** Where the input can be fetched; empty: from the submitter's node by hash (/dsmp/blob/1.0.0). */
  inputURI: string;
  /** Least resources a worker must advertise. */
  resources: NodeResources;
  /** Committee size (1..32). */
  n: number;
  /** Signers needed (1..n; 2f+1 of n = 3f+1 for critical tasks). */
  q: number;
  /** Reward in the token's smallest unit; the protocol fee comes on top. */
  reward: bigint;
  /** Seconds of commit phase per round. */
  commitWindow: number;
  /** Seconds of reveal / report phase per round. */
  revealWindow: number;
  /** Unix seconds after which the submitter can claim a refund. */
  finalDeadline: number;
}

export interface CreateTaskParameters {
  spec: TaskSpec;
  signal?: AbortSignal | undefined;
}

export interface CreateTaskReturnType {
  hash: Hex;
  txHashes: Hex[];
  approval: TokenApproval | undefined;
  taskId: bigint;
  /** Protocol fee escrowed on top of the reward. */
  fee: bigint;
  /** Block whose hash seeds the first draw; `assignTask` works from the next block. */
  drawBlock: bigint;
}

export type CreateTaskErrorType =
  | ChainRevertError
  | ChainUnreachableError
  | ChainAccountRequiredError
  | DeploymentInvalidError
  | InterruptedError;

/**
 * Create a compute task (TaskManager.createTask), approving reward + fee first when the allowance is short.
 * @throws {ChainRevertError} e.g. `TaskManagerInvalidSpec`, `ERC20InsufficientBalance`.
 * @example
 * const { taskId } = await createTask(client, { spec: { moduleHash, inputHash, inputURI: "", resources, n: 4, q: 3,
 *   reward: parseEther("10"), commitWindow: 300, revealWindow: 300, finalDeadline: now + 3_600 } });
 */
export async function createTask(client: DsmpChainClient, parameters: CreateTaskParameters): Promise<CreateTaskReturnType> {
  const { spec, signal } = parameters;
  const address = requireTaskManager(client);
  const account = requireWallet(client, "createTask").account;
  const feeBps = await readChain(client, (pub) =>
    pub.readContract({ address, abi: abis.TaskManager, functionName: "protocolFeeBps" }),
  );
  const fee = (spec.reward * BigInt(feeBps) + 9_999n) / 10_000n;
  const request = { address, abi: abis.TaskManager, functionName: "createTask", args: [spec] } as const;
  const approval = await ensureAllowance(client, {
    spender: address,
    amount: spec.reward + fee,
    preflight: () => client.public.simulateContract({ ...request, account }),
    signal,
  });
  const { hash, receipt } = await sendTransaction(client, "createTask", (wallet) => wallet.writeContract(request), { signal });
  const created = findEvent(receipt, abis.TaskManager, "TaskCreated", address);
  return {
    hash,
    txHashes: approval === undefined ? [hash] : [approval.hash, hash],
    approval,
    taskId: created.args.taskId,
    fee: created.args.fee,
    drawBlock: created.args.drawBlock,
  };
}
