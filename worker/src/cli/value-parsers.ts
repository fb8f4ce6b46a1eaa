/**
 * Command-line values to typed values. Each parser names the flag or argument in its CliUsageError, so a
 * mistake reads `--period: expected a duration like 30d, 12h or 90s, got "30 days"` and exits 2.
 */
import { peerIdFromString } from "@libp2p/peer-id";
import { getAddress, isAddress, isHex, parseUnits, type Address, type Hex } from "viem";
import { nodeAddressOfPeerId } from "../discovery/provider-eligibility.ts";
import { CliUsageError } from "../errors.ts";

const AMOUNT = /^(\d+)(\.\d+)?$/;

/**
 * A decimal token amount (`100`, `2.5`) in the token's smallest unit.
 * @example parseTokenAmount("2.5", "<amount>", 18) // 2_500_000_000_000_000_000n
 */
export function parseTokenAmount(text: string, what: string, decimals: number): bigint {
  const match = AMOUNT.exec(text.trim());
  if (match === null) throw new CliUsageError(`${what}: expected an amount like 100 or 2.5, got ${JSON.stringify(text)}`);
  const fraction = match[2]?.slice(1) ?? "";
  if (fraction.length > decimals) throw new CliUsageError(`${what}: the token has ${decimals} decimals, got ${fraction.length} in ${text}`);
  return parseUnits(text.trim(), decimals);
}

/** Check the syntax of an amount before connecting (the decimals are only known after). */
export function checkTokenAmount(text: string, what: string, options: { positive?: boolean } = {}): string {
  const amount = parseTokenAmount(text, what, 255); // any number of decimals: the token's are checked after connecting
  if (options.positive === true && amount === 0n) throw new CliUsageError(`${what} must be greater than zero`);
  return text.trim();
}

const DURATION_UNITS: Readonly<Record<string, bigint>> = { s: 1n, m: 60n, h: 3_600n, d: 86_400n, w: 604_800n };

/** An http:// or https:// URL (the text unchanged), e.g. `--rpc-url`, `--gateway`, `--api`. */
export function parseHttpUrl(text: string, what: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    throw new CliUsageError(`${what}: expected an http(s) URL like http://127.0.0.1:8545, got "${text}"`);
  }
  return text;
}

/**
 * A duration in seconds: `30d`, `12h`, `1d12h`, `90m`, `45s`, `2w`, or a bare number of seconds.
 * @example parseDuration("1d12h", "--period") // 129_600n
 */
export function parseDuration(text: string, what: string): bigint {
  const value = text.trim().toLowerCase();
  if (/^\d+$/.test(value)) return BigInt(value);
  if (!/^(\d+[smhdw])+$/.test(value)) {
    throw new CliUsageError(`${what}: expected a duration like 30d, 12h or 90s, got ${JSON.stringify(text)}`);
  }
  let seconds = 0n;
  for (const [, count, unit] of value.matchAll(/(\d+)([smhdw])/g)) seconds += BigInt(count!) * DURATION_UNITS[unit!]!;
  return seconds;
}

/**
 * A non-negative integer within bounds.
 * @example parseInteger("4", "--slots", { min: 1, max: 2 ** 32 - 1 }) // 4
 */
export function parseInteger(text: string, what: string, bounds: { min?: number; max?: number } = {}): number {
  const min = bounds.min ?? 0;
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  if (!/^\d+$/.test(text.trim())) throw new CliUsageError(`${what}: expected a whole number, got ${JSON.stringify(text)}`);
  const value = Number(text.trim());
  if (value < min || value > max) throw new CliUsageError(`${what}: must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** An on-chain id (service id, …): a non-negative integer of any size. */
export function parseId(text: string, what: string): bigint {
  if (!/^\d+$/.test(text.trim())) throw new CliUsageError(`${what}: expected a numeric id, got ${JSON.stringify(text)}`);
  return BigInt(text.trim());
}

/** A 20-byte address, returned checksummed (a wrong checksum is refused). */
export function parseAddress(text: string, what: string): Address {
  if (!isAddress(text.trim())) throw new CliUsageError(`${what}: expected a 0x address (20 bytes), got ${JSON.stringify(text)}`);
  return getAddress(text.trim());
}

/** A node address (lowercase), given as the address or as the node's PeerId (secp256k1, as every Xnode's). */
export function parseNodeAddress(text: string, what: string): Address {
  const value = text.trim();
  if (isAddress(value, { strict: false })) return value.toLowerCase() as Address;
  let address: Address | undefined;
  try {
    address = nodeAddressOfPeerId(peerIdFromString(value).toMultihash().bytes);
  } catch {
    address = undefined;
  }
  if (address === undefined) throw new CliUsageError(`${what} must be a node address (0x + 40 hex digits) or an Xnode's PeerId (16Uiu2…), got ${JSON.stringify(text)}`);
  return address.toLowerCase() as Address;
}

/** A 32-byte hex value (hashes); `0x` may be left out. */
export function parseBytes32(text: string, what: string): Hex {
  const value = (text.trim().startsWith("0x") ? text.trim() : `0x${text.trim()}`).toLowerCase();
  if (!isHex(value) || value.length !== 66) throw new CliUsageError(`${what}: expected 32 bytes of hex (64 digits), got ${JSON.stringify(text)}`);
  return value;
}

/** A secp256k1 private key as 32 bytes of hex (`0x` optional). The value itself is never echoed. */
export function parsePrivateKey(text: string, what: string): Hex {
  const value = (text.trim().startsWith("0x") ? text.trim() : `0x${text.trim()}`).toLowerCase();
  if (!isHex(value) || value.length !== 66) throw new CliUsageError(`${what}: expected a private key of 32 bytes of hex (64 digits)`);
  return value;
}

/** One of a fixed set of words. */
export function parseChoice<const C extends readonly string[]>(text: string, what: string, choices: C): C[number] {
  const value = text.trim().toLowerCase();
  if (!choices.includes(value)) throw new CliUsageError(`${what}: expected one of ${choices.join(", ")}, got ${JSON.stringify(text)}`);
  return value as C[number];
}
