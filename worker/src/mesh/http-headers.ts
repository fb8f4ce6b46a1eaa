/**
 * HTTP header handling shared by the gateway and the provider: raw Node headers to {@link HeaderPair}s and
 * back, and removal of hop-by-hop headers, which describe one connection and must not be forwarded
 * (RFC 9110 §7.6.1).
 */
import type { HeaderPair } from "./http-frames.ts";

/** Header on every response: the PeerId of the provider that served it. */
export const PROVIDER_HEADER = "x-dsmp-provider";
/** Header on every gateway response: how many providers were tried, the one that answered included. */
export const ATTEMPTS_HEADER = "x-dsmp-attempts";

/**
 * Hop-by-hop headers: RFC 9110's list, the obsolete `proxy-connection`, the proxy authentication pair
 * (meant for the gateway, not the service) and `expect` (`100-continue` is answered by the gateway).
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
]);

/** `rawHeaders` of a Node message (`[name, value, name, value, …]`) as pairs with lowercase names. */
export function headerPairsFromRaw(rawHeaders: readonly string[]): HeaderPair[] {
  const pairs: HeaderPair[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    pairs.push([rawHeaders[index]!.toLowerCase(), rawHeaders[index + 1]!]);
  }
  return pairs;
}

/**
 * `pairs` without hop-by-hop headers, without the headers a `connection` header names, and without
 * `extra` (lowercase names).
 */
export function stripHopByHop(pairs: readonly HeaderPair[], extra: readonly string[] = []): HeaderPair[] {
  // Runs several times per request: no Set is built unless a `connection` header names headers.
  let named: Set<string> | undefined;
  for (const [name, value] of pairs) {
    if (name !== "connection") continue;
    for (const token of value.split(",")) {
      const lower = token.trim().toLowerCase();
      if (lower !== "") (named ??= new Set()).add(lower);
    }
  }
  const kept: HeaderPair[] = [];
  for (const pair of pairs) {
    const name = pair[0];
    if (HOP_BY_HOP_HEADERS.has(name) || extra.includes(name) || named?.has(name) === true) continue;
    kept.push(pair);
  }
  return kept;
}

/** Pairs as the flat list `writeHead` takes: order and duplicates (e.g. `set-cookie`) kept. */
export function flattenHeaders(pairs: readonly HeaderPair[]): string[] {
  const flat = new Array<string>(pairs.length * 2);
  for (let index = 0; index < pairs.length; index++) {
    flat[2 * index] = pairs[index]![0];
    flat[2 * index + 1] = pairs[index]![1];
  }
  return flat;
}

/** Pairs as an object for `http.request`: duplicate names become an array (sent as repeated lines). */
export function headersObject(pairs: readonly HeaderPair[]): Record<string, string | string[]> {
  // No prototype: a header may be called `__proto__`.
  const out = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of pairs) {
    const previous = out[name];
    if (previous === undefined) out[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else out[name] = [previous, value];
  }
  return out;
}
