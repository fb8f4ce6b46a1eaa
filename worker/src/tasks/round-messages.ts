/**
 * The committee round's messages: EIP-712 typed data (the shared constants of issue 5, matching
 * ITaskManager's `commitDigest` / `resultDigest`) and the wire codec of what travels on the task's gossipsub
 * topic (docs/tasks.md "Round messages").
 *
 * Wire format: one UTF-8 JSON object per gossipsub message, at most {@link ROUND_MESSAGE_MAX_BYTES}:
 *   {"v":1,"kind":"commit","taskId":"8","worker":"0x…","seal":"0x…","signature":"0x…"}
 *   {"v":1,"kind":"reveal","taskId":"8","worker":"0x…","resultHash":"0x…","salt":"0x…"}
 *   {"v":1,"kind":"result","taskId":"8","worker":"0x…","resultHash":"0x…","participants":"13","signature":"0x…"}
 * Commits and results carry the worker's EIP-712 signature; a reveal needs none, since it only counts if it
 * opens the worker's signed seal.
 */
import { getAddress, isAddress, recoverTypedDataAddress, type Address, type Hex, type LocalAccount, type TypedDataDomain } from "viem";
import { z } from "zod";
import { TASK_DOMAIN, TASK_TYPES } from "../chain/task-typed-data.ts";

export const ROUND_MESSAGE_MAX_BYTES = 4096;

/** The gossipsub topic of one task's round. */
export function roundTopic(taskId: bigint): string {
  return `/dsmp/task/1/${taskId}`;
}

export function taskManagerDomain(chainId: number, taskManager: Address): TypedDataDomain {
  return { ...TASK_DOMAIN, chainId, verifyingContract: taskManager };
}

/** The committee's EIP-712 types: the ones TaskManager verifies (chain/task-typed-data.ts). */
export const ROUND_TYPES = TASK_TYPES;

export function signCommit(account: LocalAccount, domain: TypedDataDomain, taskId: bigint, seal: Hex): Promise<Hex> {
  return account.signTypedData({ domain, types: ROUND_TYPES, primaryType: "Commit", message: { taskId, worker: account.address, seal } });
}

export function signResult(account: LocalAccount, domain: TypedDataDomain, taskId: bigint, resultHash: Hex, participants: bigint): Promise<Hex> {
  return account.signTypedData({ domain, types: ROUND_TYPES, primaryType: "Result", message: { taskId, resultHash, participants } });
}

export async function commitSigner(domain: TypedDataDomain, taskId: bigint, worker: Address, seal: Hex, signature: Hex): Promise<Address> {
  return recoverTypedDataAddress({ domain, types: ROUND_TYPES, primaryType: "Commit", message: { taskId, worker, seal }, signature });
}

export async function resultSigner(domain: TypedDataDomain, taskId: bigint, resultHash: Hex, participants: bigint, signature: Hex): Promise<Address> {
  return recoverTypedDataAddress({ domain, types: ROUND_TYPES, primaryType: "Result", message: { taskId, resultHash, participants }, signature });
}

const hex32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/).transform((s) => s.toLowerCase() as Hex);
const signature = z.string().regex(/^0x[0-9a-fA-F]{130}$/).transform((s) => s as Hex);
const address = z.string().refine((s) => isAddress(s, { strict: false })).transform((s) => getAddress(s));
const uint = z.string().regex(/^(0|[1-9][0-9]{0,77})$/).transform((s) => BigInt(s));

const messageSchema = z.discriminatedUnion("kind", [
  z.object({ v: z.literal(1), kind: z.literal("commit"), taskId: uint, worker: address, seal: hex32, signature }).strict(),
  z.object({ v: z.literal(1), kind: z.literal("reveal"), taskId: uint, worker: address, resultHash: hex32, salt: hex32 }).strict(),
  z.object({ v: z.literal(1), kind: z.literal("result"), taskId: uint, worker: address, resultHash: hex32, participants: uint, signature }).strict(),
]);

export type RoundMessage = z.output<typeof messageSchema>;

export function encodeRoundMessage(message: RoundMessage): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
}

/** The message, or `undefined` for anything malformed or oversized. */
export function decodeRoundMessage(bytes: Uint8Array): RoundMessage | undefined {
  if (bytes.length > ROUND_MESSAGE_MAX_BYTES) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  const parsed = messageSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}
