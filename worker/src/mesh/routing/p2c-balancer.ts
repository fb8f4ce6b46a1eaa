/**
 * Power of two choices (Mitzenmacher; Finagle's `Balancers.p2c`, Linkerd's balancer): draw two distinct
 * candidates at random and take the cheaper. Nearly as good as always taking the cheapest, without the herd
 * that follows the cheapest when every gateway sees the same numbers, and O(1). Pure: costs and the random
 * draws come in.
 */

/** One provider as the balancer sees it. */
export interface BalancerCandidate {
  id: string;
  /** Lower is better (peak EWMA × (outstanding + 1) × load prior). */
  cost: number;
  /** `false` when its breaker refuses requests. */
  available: boolean;
}

export interface P2cOptions {
  /** A provider not to pick: the one the previous attempt of this request failed on. */
  exclude?: string | undefined;
  /** Uniform draws in [0, 1). */
  random: () => number;
}

/** Why nothing could be picked. */
export type P2cRefusal = "no-candidates" | "all-unavailable" | "only-excluded";

/**
 * The chosen candidate's id, or why there is none.
 * @example
 * pickP2c([{ id: "a", cost: 3, available: true }, { id: "b", cost: 9, available: true }], { random: Math.random }); // { id: "a" }
 */
export function pickP2c(candidates: readonly BalancerCandidate[], options: P2cOptions): { id: string } | { refused: P2cRefusal } {
  if (candidates.length === 0) return { refused: "no-candidates" };
  const open = candidates.filter((candidate) => candidate.available);
  if (open.length === 0) return { refused: "all-unavailable" };
  const eligible = open.filter((candidate) => candidate.id !== options.exclude);
  if (eligible.length === 0) return { refused: "only-excluded" };
  if (eligible.length === 1) return { id: eligible[0]!.id };
  const first = Math.min(eligible.length - 1, Math.floor(options.random() * eligible.length));
  // The second draw skips the first: uniform over the other n - 1.
  let second = Math.min(eligible.length - 2, Math.floor(options.random() * (eligible.length - 1)));
  if (second >= first) second += 1;
  const a = eligible[first]!;
  const b = eligible[second]!;
  return { id: b.cost < a.cost ? b.id : a.id };
}
