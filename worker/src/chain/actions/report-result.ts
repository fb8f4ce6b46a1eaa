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

export interface ReportResultParameters {
  taskId: bigint;
  /** sha256 of the output. */
  resultHash: Hex;
  /** Bitmap of signer slots. */
  participants: bigint;
  /** Result signatures, one per set bit of `participants`, in ascending slot order. */
  signatures: Hex[];
  signal?: AbortSignal | undefined;
}

export interface ReportResultReturnType {
  hash: Hex;
  txHashes: Hex[];
  /** Credited to each signer's operator. */
  sharePerSigner: bigint;
  /** Rounding remainder added to protocol fees. */
  dust: bigint;
}

export type ReportResultErrorType =
  | ChainRevertError
  | ChainUnreachableError
  | ChainAccountRequiredError
  | DeploymentInvalidError
  | InterruptedError;

/**
 * Transmit a quorum report (TaskManager.reportResult); anyone may, the signers are paid whoever sends it.
 * @throws {ChainRevertError} `TaskManagerQuorumNotMet`, `TaskManagerInvalidSignature`,
 *   `TaskManagerInvalidParticipants`, `TaskManagerSignatureCountMismatch`, `TaskManagerInvalidStatus` (already
 *   finalized), `TaskManagerDeadlinePassed`.
 * @example
 * await reportResult(client, { taskId, resultHash, participants: participantsBitmap([0, 1, 3]), signatures });
 */
export async function reportResult(client: DsmpChainClient, parameters: ReportResultParameters): Promise<ReportResultReturnType> {
  const { taskId, resultHash, participants, signatures, signal } = parameters;
  const address = requireTaskManager(client);
  const { hash, receipt } = await sendTransaction(
    client,
    "reportResult",
    (wallet) =>
      wallet.writeContract({ address, abi: abis.TaskManager, functionName: "reportResult", args: [taskId, resultHash, participants, signatures] }),
    { signal },
  );
  const event = findEvent(receipt, abis.TaskManager, "TaskFinalized", address);
  return { hash, txHashes: [hash], sharePerSigner: event.args.sharePerSigner, dust: event.args.dust };
}
