import { describe, expect, it } from "vitest";
import { judgeChallenge, MAX_CHALLENGE_COUNT, planChallenge, proverWorkBudget, type ChallengeOutcome, type ChallengeSizing } from "./resource-proof-verdict.ts";

const SIZING: ChallengeSizing = { matrixSize: 512, minWorkPerCoreSecond: 250_000_000, targetSeconds: 0.5, allowanceMs: 250 };
const PAIR = 512 ** 3; // 134 217 728 multiply-adds

describe("planChallenge", () => {
  it.each([
    // 1 core: 125 M wanted → 1 pair; bound = 134.2 M / 250 M/s = 537 ms, + 250.
    { millicores: 1_000, count: 1, deadlineMs: 787 },
    // Half a core: still one pair, twice the time.
    { millicores: 500, count: 1, deadlineMs: 1324 },
    // 4 cores: 500 M wanted → 4 pairs (537 M); bound 537 ms + 250.
    { millicores: 4_000, count: 4, deadlineMs: 787 },
    // 2.5 cores: 312.5 M → 3 pairs; 402.7 M / 625 M/s = 644.2 ms.
    { millicores: 2_500, count: 3, deadlineMs: 895 },
    // 64 cores: 8 G wanted, capped at 16 pairs (2.15 G); bound 2.15 G / 16 G/s = 134.2 ms.
    { millicores: 64_000, count: MAX_CHALLENGE_COUNT, deadlineMs: 385 },
    // 0 advertised counts as one millicore (the registry refuses 0; never divide by it).
    { millicores: 0, count: 1, deadlineMs: 537_121 },
  ])("$millicores millicores → $count pair(s), answer within $deadlineMs ms", ({ millicores, count, deadlineMs }) => {
    const plan = planChallenge(millicores, SIZING);
    expect(plan).toEqual({ n: 512, count, work: count * PAIR, deadlineMs, advertisedMillicores: Math.max(1, millicores) });
  });

  it("sizes by the configured matrix", () => {
    const plan = planChallenge(1_000, { ...SIZING, matrixSize: 128 });
    // 128³ = 2.1 M per pair; 125 M wanted → 60 pairs, capped at 16.
    expect(plan.count).toBe(MAX_CHALLENGE_COUNT);
    expect(plan.n).toBe(128);
  });
});

describe("proverWorkBudget", () => {
  it.each([
    // 4 × (cores × 250 M × 0.5 s), at least one 512³ pair.
    { millicores: 2_000, budget: 1_000_000_000 },
    { millicores: 64_000, budget: 32_000_000_000 },
    { millicores: 100, budget: PAIR },
    { millicores: 0, budget: PAIR },
  ])("$millicores millicores accept up to $budget multiply-adds", ({ millicores, budget }) => {
    expect(proverWorkBudget(millicores)).toBe(budget);
  });

  it("always covers what the default sizing asks of the same node", () => {
    for (const millicores of [1, 500, 1_000, 2_500, 4_000, 64_000, 1_000_000]) {
      expect(planChallenge(millicores, SIZING).work).toBeLessThanOrEqual(proverWorkBudget(millicores));
    }
  });
});

describe("judgeChallenge", () => {
  const plan = planChallenge(4_000, SIZING); // 537 M multiply-adds, deadline 787 ms
  const cases: Array<{ name: string; outcome: ChallengeOutcome; passed: boolean; reason: string; provenMillicores: number | undefined }> = [
    { name: "right and fast", outcome: { kind: "answered", elapsedMs: 200, productsCorrect: true }, passed: true, reason: "proven", provenMillicores: 10_737 },
    { name: "right, exactly at the deadline", outcome: { kind: "answered", elapsedMs: 787, productsCorrect: true }, passed: true, reason: "proven", provenMillicores: 2_728 },
    { name: "right, 1 ms late", outcome: { kind: "answered", elapsedMs: 788, productsCorrect: true }, passed: false, reason: "too-slow", provenMillicores: 2_725 },
    // A node with 1 real core claiming 4: ~4 × 120 ms on one core at 1.1 G/s would pass; at the reference rate it takes 2.1 s.
    { name: "right at one reference core's pace", outcome: { kind: "answered", elapsedMs: 2_147, productsCorrect: true }, passed: false, reason: "too-slow", provenMillicores: 1_000 },
    { name: "wrong but fast", outcome: { kind: "answered", elapsedMs: 5, productsCorrect: false }, passed: false, reason: "wrong-product", provenMillicores: undefined },
    { name: "refused", outcome: { kind: "refused", status: "busy" }, passed: false, reason: "refused", provenMillicores: undefined },
    { name: "no answer", outcome: { kind: "no-answer", error: "timeout" }, passed: false, reason: "no-answer", provenMillicores: undefined },
    { name: "malformed", outcome: { kind: "malformed", error: "digest" }, passed: false, reason: "malformed", provenMillicores: undefined },
  ];
  it.each(cases)("$name → $reason", ({ outcome, passed, reason, provenMillicores }) => {
    const verdict = judgeChallenge(plan, outcome, SIZING);
    expect(verdict.passed).toBe(passed);
    expect(verdict.reason).toBe(reason);
    expect(verdict.provenMillicores).toBe(provenMillicores);
  });

  it("fails a large claim whose small capped work fits in the allowance: at least half the claim must show", () => {
    // 1 000 cores: 16 pairs (2.1 G) due within 8.6 + 250 ms. 33 reference cores (8 fast threads) make the bound.
    const huge = planChallenge(1_000_000, SIZING);
    expect(huge.deadlineMs).toBe(259);
    expect(judgeChallenge(huge, { kind: "answered", elapsedMs: 259, productsCorrect: true }, SIZING)).toMatchObject({ passed: false, reason: "too-slow", provenMillicores: 33_165 });
    // 64 cores: due within 385 ms, and 32 000 millicores must show (2.1 G in ≤ 268 ms).
    const big = planChallenge(64_000, SIZING);
    expect(judgeChallenge(big, { kind: "answered", elapsedMs: 300, productsCorrect: true }, SIZING)).toMatchObject({ passed: false, reason: "too-slow", provenMillicores: 28_633 });
    // What a real 64-core machine shows: 2.1 G in 134 ms + a round trip of 50 ms.
    expect(judgeChallenge(big, { kind: "answered", elapsedMs: 184, productsCorrect: true }, SIZING)).toMatchObject({ passed: true, provenMillicores: 46_684 });
  });

  it("reports the rate an answer showed", () => {
    const verdict = judgeChallenge(plan, { kind: "answered", elapsedMs: 1_000, productsCorrect: true }, SIZING);
    expect(verdict.workPerSecond).toBe(4 * PAIR);
  });

  it("never divides by a zero elapsed time", () => {
    const verdict = judgeChallenge(plan, { kind: "answered", elapsedMs: 0, productsCorrect: true }, SIZING);
    expect(Number.isFinite(verdict.workPerSecond)).toBe(true);
  });
});
