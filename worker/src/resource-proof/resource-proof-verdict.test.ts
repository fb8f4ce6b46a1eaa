import { describe, expect, it } from "vitest";
import { judgeChallenge, MAX_CHALLENGE_COUNT, planChallenge, proverWorkBudget, type ChallengeOutcome, type ChallengeSizing } from "./resource-proof-verdict.ts";

const SIZING: ChallengeSizing = { matrixSize: 512, minWorkPerCoreSecond: 250_000_000, targetSeconds: 0.5, allowanceMs: 250 };
const PAIR = 512 ** 3; // 134 217 728 multiply-adds

describe("planChallenge", () => {
  it.each([
    // 1 core: 125 M wanted → 1 pair; bound = 134.2 M / 250 M/s = 537 ms, + 250.
    { millicores: 1_000, n: 512, count: 1, deadlineMs: 787 },
    // Half a core: still one pair, twice the time.
    { millicores: 500, n: 512, count: 1, deadlineMs: 1324 },
    // 4 cores: 500 M wanted → 4 pairs (537 M); bound 537 ms + 250.
    { millicores: 4_000, n: 512, count: 4, deadlineMs: 787 },
    // 2.5 cores: 312.5 M → 3 pairs; 402.7 M / 625 M/s = 644.2 ms.
    { millicores: 2_500, n: 512, count: 3, deadlineMs: 895 },
    // 64 cores: 8 G wanted would take 60 pairs of 512 → n doubles to 1 024: 8 pairs (8.6 G), 537 ms + 250.
    { millicores: 64_000, n: 1_024, count: 8, deadlineMs: 787 },
    // 1 000 cores: 125 G wanted, capped at 16 pairs of 1 024 (17.2 G): 68.7 ms + 250.
    { millicores: 1_000_000, n: 1_024, count: MAX_CHALLENGE_COUNT, deadlineMs: 319 },
    // 0 advertised counts as one millicore (the registry refuses 0; never divide by it).
    { millicores: 0, n: 512, count: 1, deadlineMs: 537_121 },
  ])("$millicores millicores → $count pair(s) of n = $n, answer within $deadlineMs ms", ({ millicores, n, count, deadlineMs }) => {
    const plan = planChallenge(millicores, SIZING);
    expect(plan).toEqual({ n, count, work: count * n ** 3, deadlineMs, advertisedMillicores: Math.max(1, millicores) });
  });

  it("starts from the configured matrix size and doubles it while the claim needs more than 16 pairs", () => {
    // 128³ = 2.1 M per pair; 125 M wanted → 60 pairs → n = 256: 8 pairs (134 M).
    expect(planChallenge(1_000, { ...SIZING, matrixSize: 128 })).toMatchObject({ n: 256, count: 8, work: 134_217_728 });
    expect(planChallenge(1_000, { ...SIZING, matrixSize: 16 })).toMatchObject({ n: 256, count: 8 });
    // A configured size that is not a power of two doubles too, never beyond 1 024.
    expect(planChallenge(64_000, { ...SIZING, matrixSize: 300 }).n).toBe(1_024);
  });
});

describe("proverWorkBudget", () => {
  it.each([
    // 8 × (cores × 250 M × 0.5 s), at least one 1 024³ pair.
    { millicores: 2_000, budget: 2_000_000_000 },
    { millicores: 64_000, budget: 64_000_000_000 },
    { millicores: 1_000, budget: 1_073_741_824 },
    { millicores: 0, budget: 1_073_741_824 },
  ])("$millicores millicores accept up to $budget multiply-adds", ({ millicores, budget }) => {
    expect(proverWorkBudget(millicores)).toBe(budget);
  });

  it("always covers what a default verifier, one 4× stricter, or one of any matrix size asks of the same node", () => {
    for (const millicores of [1, 500, 1_000, 2_500, 4_000, 64_000, 1_000_000]) {
      for (const sizing of [SIZING, { ...SIZING, minWorkPerCoreSecond: 1_000_000_000 }, { ...SIZING, matrixSize: 16 }, { ...SIZING, matrixSize: 1_024 }]) {
        expect(planChallenge(millicores, sizing).work).toBeLessThanOrEqual(proverWorkBudget(millicores));
      }
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

  it("fails a large claim whose capped work fits in the allowance: at least half the claim must show", () => {
    // 1 000 cores: 16 pairs of 1 024 (17.2 G) due within 68.7 + 250 ms. 216 reference cores make the bound.
    const huge = planChallenge(1_000_000, SIZING);
    expect(judgeChallenge(huge, { kind: "answered", elapsedMs: 319, productsCorrect: true }, SIZING)).toMatchObject({ passed: false, reason: "too-slow", provenMillicores: 215_421 });
    // 64 cores: 8.6 G due within 787 ms — enough work that a real 64-core machine's answer shows most of it.
    const big = planChallenge(64_000, SIZING);
    expect(judgeChallenge(big, { kind: "answered", elapsedMs: 600, productsCorrect: true }, SIZING)).toMatchObject({ passed: true, provenMillicores: 57_266 });
    // Within the bound but showing less than half: an allowance-sized answer cannot pass for twice its capacity.
    const slim = planChallenge(1_000, { ...SIZING, allowanceMs: 2_000 });
    expect(judgeChallenge(slim, { kind: "answered", elapsedMs: 1_200, productsCorrect: true }, SIZING)).toMatchObject({ passed: false, reason: "too-slow", provenMillicores: 447 });
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
