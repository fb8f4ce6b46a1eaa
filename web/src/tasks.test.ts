import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { claimability, describeResult, fromBase64, parseTaskForm, sha256Hex, taskFee, taskStage, toBase64, type TaskFormFields } from "./tasks.ts";

const round = (committed: number[], revealed: number[]) => ({ taskId: "1", committed, revealed });

describe("taskStage", () => {
  it.each([
    [1, undefined, "created"],
    [2, undefined, "assigned"],
    [2, round([], []), "assigned"],
    [2, round([0], []), "committed"],
    [2, round([0, 1], [1]), "revealed"],
    [3, round([0], [0]), "finalized"],
    [3, undefined, "finalized"],
    [4, undefined, "refunded"],
    [0, undefined, undefined],
  ] as const)("status %i with round %o → %s", (status, r, stage) => {
    expect(taskStage(status, r)).toBe(stage);
  });
});

describe("taskFee", () => {
  it.each([
    [10n ** 19n, 100n, 10n ** 17n],
    [1n, 100n, 1n], // rounded up like TaskMath.fee (Math.Rounding.Ceil)
    [10_000n, 0n, 0n],
    [10_001n, 2_000n, 2_001n],
  ])("fee(%s, %s bps) = %s", (reward, bps, fee) => expect(taskFee(reward, bps)).toBe(fee));
});

describe("parseTaskForm", () => {
  const ok: TaskFormFields = { n: "3", q: "2", reward: "2.5", commitWindow: "30", revealWindow: "30", deadline: "3600" };
  it("accepts a valid form", () => {
    expect(parseTaskForm(ok)).toEqual({ values: { n: 3, q: 2, reward: 2_500_000_000_000_000_000n, commitWindow: 30, revealWindow: 30, deadline: 3600 }, errors: {} });
  });
  it.each([
    [{ n: "0" }, "n", /1 to 32/],
    [{ n: "33" }, "n", /1 to 32/],
    [{ q: "4" }, "q", /1 to 3/],
    [{ q: "x" }, "q", /quorum/],
    [{ reward: "0" }, "reward", /positive/],
    [{ reward: "-1" }, "reward", /positive/],
    [{ commitWindow: "0" }, "commitWindow", /1 to 86400/],
    [{ revealWindow: "86401" }, "revealWindow", /1 to 86400/],
    [{ deadline: "60" }, "deadline", /room for one round/],
  ] as const)("%o → error on %s", (patch, key, message) => {
    const r = parseTaskForm({ ...ok, ...patch });
    expect(r.values).toBeUndefined();
    expect(r.errors[key]).toMatch(message);
  });
});

describe("result bytes", () => {
  it("shows printable UTF-8 as text and always the hex", () => {
    expect(describeResult(new TextEncoder().encode("HELLO, wörld\n"))).toEqual({ text: "HELLO, wörld\n", hex: "0x48454c4c4f2c2077c3b6726c640a" });
  });
  it.each([[[0, 1, 2]], [[0xff, 0xfe]], [[]]])("%o is not text", (bytes) => {
    const r = describeResult(new Uint8Array(bytes));
    expect(r.text).toBeUndefined();
    expect(r.hex).toBe(`0x${Buffer.from(bytes).toString("hex")}`);
  });
  it("hashes like the node's blob store (sha256) and round-trips base64", async () => {
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 7) % 256);
    expect(await sha256Hex(bytes)).toBe(`0x${createHash("sha256").update(bytes).digest("hex")}`);
    expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString("base64"));
    expect(fromBase64(toBase64(bytes))).toEqual(bytes);
  });
});

describe("claimability", () => {
  const SUB = "0x00000000000000000000000000000000000000aa";
  const OTHER = "0x00000000000000000000000000000000000000bb";
  const base = { status: 2, submitter: SUB, round: 0, reportDeadline: 1_000n, finalDeadline: 2_000n };
  it.each([
    ["active, before the final deadline: shown, not yet", base, SUB, 1_500n, { show: true, claimable: false }],
    ["active, after the final deadline", base, SUB, 2_001n, { show: true, claimable: true }],
    ["exactly at the final deadline: not yet (the contract wants later)", base, SUB, 2_000n, { show: true, claimable: false }],
    ["pending (never drawn), after the final deadline", { ...base, status: 1 }, SUB, 2_001n, { show: true, claimable: true }],
    ["last round over without quorum, before the final deadline", { ...base, round: 2 }, SUB, 1_001n, { show: true, claimable: true }],
    ["last round still open", { ...base, round: 2 }, SUB, 1_000n, { show: true, claimable: false }],
    ["rounds left: wait for reallocation or the final deadline", { ...base, round: 1 }, SUB, 1_500n, { show: true, claimable: false }],
    ["another account", base, OTHER, 2_001n, { show: false, claimable: false }],
    ["no account", base, undefined, 2_001n, { show: false, claimable: false }],
    ["finalized", { ...base, status: 3 }, SUB, 9_999n, { show: false, claimable: false }],
    ["refunded", { ...base, status: 4 }, SUB, 9_999n, { show: false, claimable: false }],
    ["submitter address in another case", { ...base, submitter: SUB.toUpperCase().replace("0X", "0x") }, SUB, 2_001n, { show: true, claimable: true }],
  ] as const)("%s", (_name, task, account, now, expected) => {
    expect(claimability(task, account, now, 3)).toMatchObject(expected);
  });
  it("says when it becomes possible", () => {
    expect(claimability(base, SUB, 1_500n, 3).reason).toBe("possible after the final deadline, 1970-01-01 00:33:20 UTC, if the task is not finished by then");
  });
});
