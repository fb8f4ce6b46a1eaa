import { abis } from "@dsmp/contracts";
import { parseEventLogs, type Address, type Hex } from "viem";
import type {
  ChainAccountRequiredError,
  ChainRevertError,
  ChainTransactionFailedError,
  ChainUnreachableError,
  DeploymentInvalidError,
  InterruptedError,
} from "../../errors.ts";
import type { DsmpChainClient } from "../chain-client.ts";
import { requireTaskManager } from "../task-typed-data.ts";
import { findEvent, sendTransaction } from "../transactions.ts";

export interface ReallocateTaskParameters {
  taskId: bigint;
  signal?: AbortSignal | undefined;
}

export interface ReallocateTaskReturnType {
  hash: Hex;
  txHashes: Hex[];
  /** Silent members vacated (each lost the no-show penalty), by slot. */
  vacated: { slot: number; node: Address }[];
  /** The round that starts with the next draw. */
  round: number;
  /** The block whose hash seeds the next draw: `assign` is possible once it is mined. */
  drawBlock: bigint;
}

export type ReallocateTaskErrorType =
  | ChainRevertError
  | ChainTransactionFailedError
  | ChainUnreachableError
  | ChainAccountRequiredError
  | DeploymentInvalidError
  | InterruptedError;

/**
 * Replace a stalled round's silent members (TaskManager.reallocate): anyone may, after the round's report
 * deadline, when some seated member anchored no commit and rounds remain. The anchored members keep their
 * slots; call `assignTask` once `drawBlock` is mined to seat replacements.
 * @throws {ChainRevertError} `TaskManagerTooEarly` (report window still open), `TaskManagerNothingToReallocate`
 *   (everyone anchored), `TaskManagerRoundsExhausted`, `TaskManagerInvalidStatus` (not active).
 * @example
 * const { vacated, drawBlock } = await reallocateTask(client, { taskId });
 */
export async function reallocateTask(client: DsmpChainClient, parameters: ReallocateTaskParameters): Promise<ReallocateTaskReturnType> {
  const address = requireTaskManager(client);
  const { hash, receipt } = await sendTransaction(
    client,
    "reallocate",
    (wallet) => wallet.writeContract({ address, abi: abis.TaskManager, functionName: "reallocate", args: [parameters.taskId] }),
    { signal: parameters.signal },
  );
  const logs = parseEventLogs({ abi: abis.TaskManager, logs: receipt.logs.filter((l) => l.address.toLowerCase() === address.toLowerCase()) });
  const vacated: ReallocateTaskReturnType["vacated"] = [];
  for (const log of logs) if (log.eventName === "SlotVacated") vacated.push({ slot: log.args.slot, node: log.args.node });
  const scheduled = findEvent(receipt, abis.TaskManager, "DrawScheduled", address);
  return { hash, txHashes: [hash], vacated, round: scheduled.args.round, drawBlock: BigInt(scheduled.args.drawBlock) };
}
