/**
 * How chain values read to a person: token amounts in whole units with the token's symbol, timestamps in
 * UTC, durations as `30d` / `1d12h`. Pure: no clock (a "from now" takes `now` as a value).
 */
import { formatUnits } from "viem";

/** What it takes to show an ERC-20 amount: the symbol and the number of decimals. */
export interface TokenUnits {
  symbol: string;
  decimals: number;
}

/** The OPEN token (18 decimals), used when the chain was not asked. */
export const OPEN_TOKEN_UNITS: Readonly<TokenUnits> = { symbol: "OPEN", decimals: 18 };

/**
 * `value` (in the token's smallest unit) as a decimal number of whole tokens, without the symbol.
 * @example formatTokenNumber(90n * 10n ** 18n) // "90"
 */
export function formatTokenNumber(value: bigint, units: TokenUnits = OPEN_TOKEN_UNITS): string {
  return formatUnits(value, units.decimals);
}

/**
 * `value` (in the token's smallest unit) with the symbol.
 * @example formatTokenAmount(10n ** 17n) // "0.1 OPEN"
 */
export function formatTokenAmount(value: bigint, units: TokenUnits = OPEN_TOKEN_UNITS): string {
  return `${formatTokenNumber(value, units)} ${units.symbol}`;
}

const SECONDS = { d: 86_400n, h: 3_600n, m: 60n, s: 1n } as const;

/**
 * A unix time in seconds as `YYYY-MM-DD HH:MM UTC` (seconds shown only when not zero).
 * @example formatUtcTime(1_796_119_200n) // "2026-12-01 10:00 UTC"
 */
export function formatUtcTime(seconds: bigint | number): string {
  const value = BigInt(seconds);
  if (value < 0n || value > 8_640_000_000_000n) return `unix time ${value}`;
  const iso = new Date(Number(value) * 1000).toISOString(); // 2026-12-01T10:00:05.000Z
  const minutes = iso.slice(0, 16).replace("T", " ");
  return value % 60n === 0n ? `${minutes} UTC` : `${minutes}:${iso.slice(17, 19)} UTC`;
}

/**
 * An exact duration, compact: every non-zero unit from days down to seconds.
 * @example formatDuration(2_592_000n) // "30d";  formatDuration(5_400) // "1h30m";  formatDuration(0) // "0s"
 */
export function formatDuration(seconds: bigint | number): string {
  let rest = BigInt(seconds);
  if (rest <= 0n) return "0s";
  let out = "";
  for (const [unit, size] of Object.entries(SECONDS)) {
    const count = rest / size;
    rest %= size;
    if (count > 0n) out += `${count}${unit}`;
  }
  return out;
}

/**
 * The time from `now` to `until`, rounded down to its two largest units, for "locked until … (6d 23h from now)".
 * @example formatTimeBetween(0n, 604_799n) // "6d 23h"
 */
export function formatTimeBetween(now: bigint | number, until: bigint | number): string {
  let rest = BigInt(until) - BigInt(now);
  if (rest <= 0n) return "0s";
  const parts: string[] = [];
  for (const [unit, size] of Object.entries(SECONDS)) {
    const count = rest / size;
    rest %= size;
    if (count > 0n || parts.length > 0) parts.push(`${count}${unit}`);
    if (parts.length === 2) break;
  }
  return parts.filter((part) => !part.startsWith("0")).join(" ");
}
