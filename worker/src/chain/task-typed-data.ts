/**
 * The task protocol's EIP-712 messages, as TaskManager verifies them (shared task protocol constants):
 * domain "DSMP TaskManager" / "1" / chain id / TaskManager address;
 * `Commit(uint256 taskId,address worker,bytes32 seal)` with seal = keccak256(abi.encode(taskId, worker, resultHash, salt));
 * `Result(uint256 taskId,bytes32 resultHash,uint256 participants)`; participants bit i = committee slot i.
 */
import { encodeAbiParameters, keccak256, type Address, type Hex, type LocalAccount } from "viem";
import { DeploymentInvalidError } from "../errors.ts";
import type { DsmpChainClient } from "./chain-client.ts";

/** EIP-712 domain name and version of TaskManager. */
export const TASK_DOMAIN = { name: "DSMP TaskManager", version: "1" } as const;

/** EIP-712 types of the committee's signed messages. */
export const TASK_TYPES = {
  Commit: [
    { name: "taskId", type: "uint256" },
    { name: "worker", type: "address" },
    { name: "seal", type: "bytes32" },
  ],
  Result: [
    { name: "taskId", type: "uint256" },
    { name: "resultHash", type: "bytes32" },
    { name: "participants", type: "uint256" },
  ],
} as const;

/** Where the typed data is verified. */
export interface TaskDomain {
  chainId: number;
  taskManager: Address;
}

/** The TaskManager address of the client's deployment, or DeploymentInvalidError when it has none. */
export function requireTaskManager(client: DsmpChainClient): Address {
  const address = client.contracts.taskManager;
  if (address === undefined) {
    throw new DeploymentInvalidError("(chain client)", "it has no TaskManager: redeploy with `npm run deploy`");
  }
  return address;
}

/** The domain of the client's TaskManager. */
export function taskDomainOf(client: DsmpChainClient): TaskDomain {
  return { chainId: client.chainId, taskManager: requireTaskManager(client) };
}

/**
 * seal = keccak256(abi.encode(uint256 taskId, address worker, bytes32 resultHash, bytes32 salt)).
 * @example
 * const s = taskSeal(7n, node, resultHash, salt);
 */
export function taskSeal(taskId: bigint, worker: Address, resultHash: Hex, salt: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "uint256" }, { type: "address" }, { type: "bytes32" }, { type: "bytes32" }],
      [taskId, worker, resultHash, salt],
    ),
  );
}

/** Bitmap of committee slots (bit i = slot i). */
export function participantsBitmap(slots: readonly number[]): bigint {
  return slots.reduce((m, s) => m | (1n << BigInt(s)), 0n);
}

/** Slots set in a participants bitmap, ascending (the order signatures go in). */
export function participantSlots(participants: bigint): number[] {
  const out: number[] = [];
  for (let i = 0; participants >> BigInt(i) !== 0n; i++) if ((participants >> BigInt(i)) & 1n) out.push(i);
  return out;
}

/** The node key signs Commit(taskId, worker = its address, seal). */
export function signTaskCommit(node: LocalAccount, domain: TaskDomain, taskId: bigint, seal: Hex): Promise<Hex> {
  return node.signTypedData({
    domain: { ...TASK_DOMAIN, chainId: domain.chainId, verifyingContract: domain.taskManager },
    types: TASK_TYPES,
    primaryType: "Commit",
    message: { taskId, worker: node.address, seal },
  });
}

/** The node key signs Result(taskId, resultHash, participants). */
export function signTaskResult(
  node: LocalAccount,
  domain: TaskDomain,
  taskId: bigint,
  resultHash: Hex,
  participants: bigint,
): Promise<Hex> {
  return node.signTypedData({
    domain: { ...TASK_DOMAIN, chainId: domain.chainId, verifyingContract: domain.taskManager },
    types: TASK_TYPES,
    primaryType: "Result",
    message: { taskId, resultHash, participants },
  });
}
