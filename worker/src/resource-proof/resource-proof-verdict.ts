/**
 * How big a compute challenge is and what its outcome proves (docs/proof-of-resource.md). Pure.
 *
 * An Xnode advertises `cpuMillicores` in the XnodeRegistry. A millicore here is a thousandth of a
 * **reference core**: one that does `minWorkPerCoreSecond` multiply-adds per second of the challenge's
 * product (Z_P, P = 2²¹ − 9). The verifier sizes the challenge so the advertised capacity needs about
 * `targetSeconds` for it, and the prover passes when its answer is right and came within the time the
 * advertised capacity needs, plus an allowance for the round trip and scheduling.
 */
import { challengeWork, MAX_MATRIX_SIZE } from "./matrix-challenge.ts";

/** Most matrix pairs in one challenge (16 × 1 MiB of products at n = 512). */
export const MAX_CHALLENGE_COUNT = 16;
/** Default n: 512 (134 M multiply-adds and 1 MiB of product per pair). */
export const DEFAULT_MATRIX_SIZE = 512;
/**
 * Default reference core: 250 M multiply-adds/s. This repository's JavaScript prover does ~1.1 G/s on one
 * core of a 2024 server CPU, so an honest node passes with ~4× headroom for load, and a node advertising
 * more than ~4× the cores it has fails.
 */
export const DEFAULT_MIN_WORK_PER_CORE_SECOND = 250_000_000;
/** Default time the advertised capacity should need for a challenge (s). */
export const DEFAULT_TARGET_SECONDS = 0.5;
/** Default allowance on top of the bound for round trip, scheduling and hashing (ms). */
export const DEFAULT_ALLOWANCE_MS = 250;
/**
 * A passing answer must also show at least this share of the advertised capacity. Where the pair cap keeps a
 * big claim's work small, the fixed allowance would otherwise dwarf the compute time and let a node advertise
 * far more than it has (64 000 millicores: 134 ms of work, 250 ms of allowance).
 */
export const MIN_SHOWN_SHARE = 0.5;

export interface ChallengeSizing {
  matrixSize: number;
  minWorkPerCoreSecond: number;
  targetSeconds: number;
  allowanceMs: number;
}

export interface ChallengePlan {
  /** n of every matrix pair. */
  n: number;
  /** Matrix pairs (products) asked for. */
  count: number;
  /** Multiply-adds the whole challenge takes. */
  work: number;
  /** The prover must have answered (digest received) within this many ms of the challenge being sent. */
  deadlineMs: number;
  /** The CPU the plan was sized for (millicores, at least 1). */
  advertisedMillicores: number;
}

/**
 * The most work a prover advertising `cpuMillicores` accepts in one challenge: 8× what the default sizing asks
 * of it (a verifier 4× stricter still fits after rounding up to whole pairs), and at least one pair of the
 * largest n (so no verifier's matrix size is refused outright).
 */
export function proverWorkBudget(cpuMillicores: number): number {
  const defaultAsk = (Math.max(1, cpuMillicores) / 1000) * DEFAULT_MIN_WORK_PER_CORE_SECOND * DEFAULT_TARGET_SECONDS;
  return Math.max(8 * defaultAsk, challengeWork(MAX_MATRIX_SIZE));
}

/**
 * The challenge for a node advertising `cpuMillicores` (≥ 1): pairs of the configured n, as many as the claim
 * needs for `targetSeconds`; where that would take more than {@link MAX_CHALLENGE_COUNT} pairs, n doubles
 * (up to {@link MAX_MATRIX_SIZE}) so the work still fills the target and the allowance stays small beside it.
 */
export function planChallenge(cpuMillicores: number, sizing: ChallengeSizing): ChallengePlan {
  const millicores = Math.max(1, cpuMillicores);
  const wanted = (millicores / 1000) * sizing.minWorkPerCoreSecond * sizing.targetSeconds;
  let n = sizing.matrixSize;
  while (Math.ceil(wanted / challengeWork(n)) > MAX_CHALLENGE_COUNT && n < MAX_MATRIX_SIZE) n = Math.min(MAX_MATRIX_SIZE, n * 2);
  const count = Math.min(MAX_CHALLENGE_COUNT, Math.max(1, Math.ceil(wanted / challengeWork(n))));
  const work = count * challengeWork(n);
  const computeMs = (1000 * work) / ((millicores / 1000) * sizing.minWorkPerCoreSecond);
  return { n, count, work, deadlineMs: Math.ceil(computeMs + sizing.allowanceMs), advertisedMillicores: millicores };
}

/** What happened to one challenge, as the verifier saw it. */
export type ChallengeOutcome =
  | { kind: "answered"; elapsedMs: number; productsCorrect: boolean }
  | { kind: "refused"; status: string }
  | { kind: "no-answer"; error: string }
  | { kind: "malformed"; error: string };

export type VerdictReason = "proven" | "too-slow" | "wrong-product" | "refused" | "no-answer" | "malformed";

export interface ResourceVerdict {
  passed: boolean;
  reason: VerdictReason;
  /** Multiply-adds per second the answer showed (answered challenges only). */
  workPerSecond: number | undefined;
  /** Reference millicores that rate is worth (answered challenges only). */
  provenMillicores: number | undefined;
}

/**
 * The verdict on a challenge of `plan` for a node advertising `cpuMillicores`. A refusal fails too: a node
 * that will not prove its capacity has not proven it (a busy prover is asked again later; see the service).
 */
export function judgeChallenge(plan: ChallengePlan, outcome: ChallengeOutcome, sizing: Pick<ChallengeSizing, "minWorkPerCoreSecond">): ResourceVerdict {
  if (outcome.kind !== "answered") return { passed: false, reason: outcome.kind, workPerSecond: undefined, provenMillicores: undefined };
  const seconds = Math.max(outcome.elapsedMs, 1) / 1000;
  const workPerSecond = plan.work / seconds;
  const provenMillicores = Math.floor((1000 * workPerSecond) / sizing.minWorkPerCoreSecond);
  // A wrong answer proves no rate at all: whatever it took was not the work.
  if (!outcome.productsCorrect) return { passed: false, reason: "wrong-product", workPerSecond: undefined, provenMillicores: undefined };
  if (outcome.elapsedMs > plan.deadlineMs || provenMillicores < MIN_SHOWN_SHARE * plan.advertisedMillicores) return { passed: false, reason: "too-slow", workPerSecond, provenMillicores };
  return { passed: true, reason: "proven", workPerSecond, provenMillicores };
}
