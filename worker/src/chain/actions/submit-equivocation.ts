import { abis } from "@dsmp/contracts";
import type { Address, Hex } from "viem";
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

/** Two conflicting signed statements by one worker for one task. */
export type EquivocationProof =
  | { kind: "commit"; worker: Address; sealA: Hex; signatureA: Hex; sealB: Hex; signatureB: Hex }
  | {
      kind: "result";
      resultA: Hex;
      participantsA: bigint;
      signatureA: Hex;
      resultB: Hex;
      participantsB: bigint;
      signatureB: Hex;
    }
  /** A member of the final committee signed a result other than the finalized one. */
  | { kind: "wrong-result"; resultHash: Hex; participants: bigint; signature: Hex };

export interface SubmitEquivocationParameters {
  taskId: bigint;
  proof: EquivocationProof;
  signal?: AbortSignal | undefined;
}

export interface SubmitEquivocationReturnType {
  hash: Hex;
  txHashes: Hex[];
  node: Address;
  /** Staking reason code (1 equivocation, 2 wrong result). */
  reason: number;
  /** Stake taken; Staking pays the sender its beneficiary share of it. */
  slashed: bigint;
}

export type SubmitEquivocationErrorType =
  | ChainRevertError
  | ChainUnreachableError
  | ChainAccountRequiredError
  | DeploymentInvalidError
  | InterruptedError;

/**
 * Prove a worker's fault and have its operator slashed (TaskManager.proveCommitEquivocation /
 * proveResultEquivocation / proveWrongResult); the sender is the beneficiary.
 * @throws {ChainRevertError} `TaskManagerNoConflict`, `TaskManagerAlreadySlashed`, `TaskManagerUnknownNode`,
 *   `TaskManagerNotCommitteeMember`.
 * @example
 * await submitEquivocation(client, { taskId, proof: { kind: "commit", worker, sealA, signatureA, sealB, signatureB } });
 */
export async function submitEquivocation(
  client: DsmpChainClient,
  parameters: SubmitEquivocationParameters,
): Promise<SubmitEquivocationReturnType> {
  const { taskId, proof, signal } = parameters;
  const address = requireTaskManager(client);
  const abi = abis.TaskManager;
  const { hash, receipt } = await sendTransaction(
    client,
    `prove ${proof.kind}`,
    (wallet) => {
      switch (proof.kind) {
        case "commit":
          return wallet.writeContract({
            address,
            abi,
            functionName: "proveCommitEquivocation",
            args: [taskId, proof.worker, proof.sealA, proof.signatureA, proof.sealB, proof.signatureB],
          });
        case "result":
          return wallet.writeContract({
            address,
            abi,
            functionName: "proveResultEquivocation",
            args: [taskId, proof.resultA, proof.participantsA, proof.signatureA, proof.resultB, proof.participantsB, proof.signatureB],
          });
        case "wrong-result":
          return wallet.writeContract({
            address,
            abi,
            functionName: "proveWrongResult",
            args: [taskId, proof.resultHash, proof.participants, proof.signature],
          });
      }
    },
    { signal },
  );
  const event = findEvent(receipt, abi, "WorkerSlashed", address);
  return { hash, txHashes: [hash], node: event.args.node, reason: event.args.reason, slashed: event.args.amount };
}
