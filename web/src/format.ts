/** Display of token amounts, durations and times. Pure; `now` is always passed in. */
import { formatUnits } from "viem";

/** OPEN has 18 decimals. */
export const OPEN_DECIMALS = 18;

/** `12.5 OPEN`; at most 4 decimals, trailing zeros dropped. */
export function formatOpen(amount: bigint): string {
  const text = formatUnits(amount, OPEN_DECIMALS);
  const [whole, frac = ""] = text.split(".");
  const cut = frac.slice(0, 4).replace(/0+$/, "");
  const approx = frac.length > 4 && /[1-9]/.test(frac.slice(4)) ? "≈" : "";
  return `${approx}${whole}${cut ? `.${cut}` : ""} OPEN`;
}

/** `3d 4h`, `5m 10s`, `0s`: the two largest units. */
export function formatDuration(seconds: number | bigint): string {
  let s = Math.max(0, Math.floor(Number(seconds)));
  const units: [string, number][] = [["d", 86_400], ["h", 3_600], ["m", 60], ["s", 1]];
  const parts: string[] = [];
  for (const [name, size] of units) {
    if (s >= size || (name === "s" && parts.length === 0)) {
      parts.push(`${Math.floor(s / size)}${name}`);
      s %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}

/** `2026-11-24 20:10 UTC`. */
export function formatUtc(unixSeconds: number | bigint): string {
  return `${new Date(Number(unixSeconds) * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** The unbonding countdown: released, or how long until. */
export function unbondingCountdown(releaseAt: bigint, unbonding: bigint, nowSeconds: number): { state: "none" | "waiting" | "released"; text: string } {
  if (unbonding === 0n) return { state: "none", text: "nothing unbonding" };
  const left = Number(releaseAt) - nowSeconds;
  if (left <= 0) return { state: "released", text: `${formatOpen(unbonding)} released — withdraw it` };
  return { state: "waiting", text: `${formatOpen(unbonding)} unbonding, released in ${formatDuration(left)} (${formatUtc(releaseAt)})` };
}

/** `0x1234…abcd`. */
export function shortHex(hex: string, keep = 4): string {
  return hex.length <= 2 + keep * 2 + 1 ? hex : `${hex.slice(0, 2 + keep)}…${hex.slice(-keep)}`;
}

/** How a service is priced, in one phrase. */
export function priceModel(p: { perCall: bigint; perPeriod: bigint; periodSeconds: bigint; oneTime: bigint; oneTimeDuration: bigint }): string {
  const parts: string[] = [];
  if (p.perPeriod > 0n) parts.push(`${formatOpen(p.perPeriod)} / ${formatDuration(p.periodSeconds)}`);
  if (p.oneTime > 0n) parts.push(`${formatOpen(p.oneTime)} once for ${formatDuration(p.oneTimeDuration)}`);
  if (p.perCall > 0n) parts.push(`${formatOpen(p.perCall)} per call`);
  return parts.length === 0 ? "free" : parts.join(" · ");
}
