/**
 * Stake-weighted median: the figure that f liars holding less than half of the weight cannot move outside the
 * range of the honest values (DESIGN §7 "robust statistics"). Pure; no I/O.
 */

export interface WeightedValue {
  value: number;
  /** Non-negative; a zero weight counts as absent. */
  weight: bigint;
}

/**
 * The lower weighted median: the smallest value v such that the values ≤ v carry at least half of the total
 * weight. Undefined when no value has a positive weight. Non-finite values and non-positive weights are
 * ignored. With equal weights and an even count this is the lower of the two middle values (a deliberate
 * choice: no averaging, so the result is always a value some reporter sent).
 */
export function weightedMedian(values: readonly WeightedValue[]): number | undefined {
  const usable = values.filter((v) => v.weight > 0n && Number.isFinite(v.value)).sort((a, b) => a.value - b.value);
  const total = usable.reduce((sum, v) => sum + v.weight, 0n);
  if (total === 0n) return undefined;
  let below = 0n;
  for (const v of usable) {
    below += v.weight;
    // below / total >= 1/2, in integers.
    if (below * 2n >= total) return v.value;
  }
  return usable[usable.length - 1]!.value;
}
