/**
 * The task protocol's typed data helpers: participant bitmaps round-trip, seals bind the worker, and what a
 * node key signs recovers to the node under the TaskManager domain only.
 */
import { describe, expect, it } from "vitest";
import { keccak256, recoverTypedDataAddress, toHex, type Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { participantSlots, participantsBitmap, signTaskCommit, signTaskResult, TASK_DOMAIN, TASK_TYPES, taskSeal } from "./task-typed-data.ts";

const domain = { chainId: 31337, taskManager: "0x0165878a594ca255338adfa4d48449f69242eb8f" as Address };

describe("task typed data", () => {
  it.each([
    [[], 0n],
    [[0], 1n],
    [[0, 1, 3], 0b1011n],
    [[31], 1n << 31n],
    [[2, 5, 6], 0b1100100n],
  ])("slots %j ⇄ bitmap %s", (slots, bitmap) => {
    expect(participantsBitmap(slots)).toBe(bitmap);
    expect(participantSlots(bitmap)).toEqual(slots);
  });

  it("a seal binds task, worker, result and salt", () => {
    const a = privateKeyToAccount(generatePrivateKey()).address;
    const b = privateKeyToAccount(generatePrivateKey()).address;
    const r = keccak256(toHex("result"));
    const salt = keccak256(toHex("salt"));
    const base = taskSeal(1n, a, r, salt);
    expect(taskSeal(1n, a, r, salt)).toBe(base);
    for (const other of [taskSeal(2n, a, r, salt), taskSeal(1n, b, r, salt), taskSeal(1n, a, salt, salt), taskSeal(1n, a, r, r)]) {
      expect(other).not.toBe(base);
    }
  });

  it("signatures recover to the node under the TaskManager domain, and not under another chain", async () => {
    const node = privateKeyToAccount(generatePrivateKey());
    const seal = keccak256(toHex("seal"));
    const commitSig = await signTaskCommit(node, domain, 7n, seal);
    const resultSig = await signTaskResult(node, domain, 7n, seal, 0b101n);
    const eip712 = { ...TASK_DOMAIN, chainId: domain.chainId, verifyingContract: domain.taskManager };
    expect(
      await recoverTypedDataAddress({ domain: eip712, types: TASK_TYPES, primaryType: "Commit", message: { taskId: 7n, worker: node.address, seal }, signature: commitSig }),
    ).toBe(node.address);
    expect(
      await recoverTypedDataAddress({ domain: eip712, types: TASK_TYPES, primaryType: "Result", message: { taskId: 7n, resultHash: seal, participants: 0b101n }, signature: resultSig }),
    ).toBe(node.address);
    expect(
      await recoverTypedDataAddress({ domain: { ...eip712, chainId: 1 }, types: TASK_TYPES, primaryType: "Result", message: { taskId: 7n, resultHash: seal, participants: 0b101n }, signature: resultSig }),
    ).not.toBe(node.address);
  });
});
