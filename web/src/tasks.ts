/**
 * Compute tasks in the page (docs/tasks.md): the pure parts — the form's checks, the stage a task is in from
 * its on-chain status and the node's view of the round, and how result bytes are shown.
 */
import { parseEther, type Hex } from "viem";

/** The stages the page shows, in order; a task ends in finalized or refunded. */
export const TASK_STAGES = ["created", "assigned", "committed", "revealed", "finalized"] as const;
export type TaskStage = (typeof TASK_STAGES)[number] | "refunded";

/** ITaskManager.TaskStatus by index. */
export const TASK_STATUS = ["none", "pending", "active", "finalized", "refunded"] as const;

/** The node's view of a round (GET /v1/tasks `rounds[]`), when the node is a committee member. */
export interface RoundView {
  taskId: string;
  committed: number[];
  revealed: number[];
}

/** The stage of a task: chain status first; within an active round, how far the node saw it go. */
export function taskStage(status: number, round: RoundView | undefined): TaskStage | undefined {
  if (status === 1) return "created";
  if (status === 3) return "finalized";
  if (status === 4) return "refunded";
  if (status !== 2) return undefined;
  if (round !== undefined && round.revealed.length > 0) return "revealed";
  if (round !== undefined && round.committed.length > 0) return "committed";
  return "assigned";
}

/** Protocol fee on a reward, rounded up as TaskMath.fee does. */
export function taskFee(reward: bigint, feeBps: bigint): bigint {
  return (reward * feeBps + 9_999n) / 10_000n;
}

export interface TaskFormFields {
  n: string;
  q: string;
  reward: string;
  commitWindow: string;
  revealWindow: string;
  deadline: string;
}

export interface TaskFormValues {
  n: number;
  q: number;
  reward: bigint;
  commitWindow: number;
  revealWindow: number;
  /** Seconds from now to the final deadline. */
  deadline: number;
}

const int = (text: string, min: number, max: number): number | undefined => {
  if (!/^\s*\d+\s*$/.test(text)) return undefined;
  const v = Number(text.trim());
  return v >= min && v <= max ? v : undefined;
};

/** Checks the submit form like the contract and `dsmp task submit` do; errors per field, as sentences. */
export function parseTaskForm(f: TaskFormFields): { values?: TaskFormValues; errors: Partial<Record<keyof TaskFormFields, string>> } {
  const errors: Partial<Record<keyof TaskFormFields, string>> = {};
  const n = int(f.n, 1, 32);
  if (n === undefined) errors.n = "committee size is a whole number from 1 to 32";
  const q = int(f.q, 1, n ?? 32);
  if (q === undefined) errors.q = `quorum is a whole number from 1 to ${n ?? "n"}`;
  let reward: bigint | undefined;
  if (/^\s*\d+(\.\d{1,18})?\s*$/.test(f.reward) && parseEther(f.reward.trim()) > 0n) reward = parseEther(f.reward.trim());
  else errors.reward = "reward is a positive amount of OPEN, e.g. 10 or 2.5";
  const commitWindow = int(f.commitWindow, 1, 86_400);
  if (commitWindow === undefined) errors.commitWindow = "commit window is 1 to 86400 seconds";
  const revealWindow = int(f.revealWindow, 1, 86_400);
  if (revealWindow === undefined) errors.revealWindow = "reveal window is 1 to 86400 seconds";
  const deadline = int(f.deadline, 1, 365 * 86_400);
  if (deadline === undefined) errors.deadline = "deadline is 1 second to 365 days from now";
  else if (commitWindow !== undefined && revealWindow !== undefined && deadline <= commitWindow + revealWindow)
    errors.deadline = "deadline must leave room for one round (more than commit + reveal windows)";
  if (Object.keys(errors).length > 0) return { errors };
  return { values: { n: n!, q: q!, reward: reward!, commitWindow: commitWindow!, revealWindow: revealWindow!, deadline: deadline! }, errors };
}

/** What the page needs to decide whether the connected account can claim a task's refund. */
export interface ClaimCheck {
  status: number;
  submitter: string;
  round: number;
  reportDeadline: bigint;
  finalDeadline: bigint;
}

/**
 * Can `account` claim the refund of a task now (TaskManager.claim's rules)? Only the submitter, only while the
 * task is pending or active, and only after its final deadline — or earlier once its last draw round has ended
 * without a quorum. `nowSeconds` is chain time (the later of the newest block's timestamp and the clock).
 */
export function claimability(t: ClaimCheck, account: string | undefined, nowSeconds: bigint, maxRounds: number): { show: boolean; claimable: boolean; reason: string } {
  if (t.status !== 1 && t.status !== 2) return { show: false, claimable: false, reason: "the task is closed" };
  if (account === undefined || account.toLowerCase() !== t.submitter.toLowerCase()) return { show: false, claimable: false, reason: "only the submitter can claim a refund" };
  if (nowSeconds > t.finalDeadline) return { show: true, claimable: true, reason: "the final deadline passed without a result" };
  if (t.status === 2 && nowSeconds > t.reportDeadline && t.round + 1 >= maxRounds) return { show: true, claimable: true, reason: "the last draw round ended without a quorum" };
  return { show: true, claimable: false, reason: `possible after the final deadline, ${new Date(Number(t.finalDeadline) * 1000).toISOString().replace("T", " ").slice(0, 19)} UTC, if the task is not finished by then` };
}

/** Result bytes for people: the text when it is printable UTF-8, and always the hex. */
export function describeResult(bytes: Uint8Array): { text: string | undefined; hex: Hex } {
  const hex = `0x${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}` as Hex;
  let text: string | undefined;
  try {
    const decoded = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    // Printable: no control characters other than tab, newline and carriage return.
    text = bytes.length > 0 && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(decoded) ? decoded : undefined;
  } catch {
    text = undefined;
  }
  return { text, hex };
}

/** sha256 of bytes as 0x-hex, as the node's blob store and TaskSpec hashes are (WebCrypto). */
export async function sha256Hex(bytes: Uint8Array): Promise<Hex> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return `0x${[...digest].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
