/**
 * The known-peers cache: which peers this node has talked to, at which addresses, and when.
 *
 * Pure functions over plain data plus two small file functions at the bottom. The libp2p wiring
 * (when to record, when to flush, what to dial on start) lives in `peer-persistence.ts`.
 *
 * File format (JSON, `version` first so a later format can be told apart):
 * `{ "version": 1, "peers": [{ "id": "16Uiu2…", "addrs": ["/ip4/…/tcp/4660"], "lastSeen": 1764000000000 }] }`
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";

/** Current file format version. */
export const PEER_CACHE_VERSION = 1;

/**
 * Most peers kept. A restarted node needs only a handful of live peers to rejoin the DHT (one
 * suffices; the self-query finds the rest), so a small list is enough; a larger one costs more
 * start-up dials to peers that may have gone. 64 survives a good share of churn.
 */
export const PEER_CACHE_MAX_PEERS = 64;

/**
 * Most addresses kept per peer. Nodes normally announce 2–6 (one per transport, plus relayed
 * ones); the cap bounds what a peer that announces hundreds of addresses can make us store.
 */
export const PEER_CACHE_MAX_ADDRS_PER_PEER = 16;

/** One known peer. */
export interface PeerCacheEntry {
  /** PeerId, base58/base36 string form. */
  id: string;
  /** Multiaddrs without the trailing `/p2p/<id>`. */
  addrs: string[];
  /** Milliseconds since the epoch when we last had a connection to it. */
  lastSeen: number;
}

/** Limits for {@link recordSeenPeers}. */
export interface PeerCacheLimits {
  maxPeers: number;
  maxAddrsPerPeer: number;
}

/** Defaults for {@link PeerCacheLimits}. */
export const DEFAULT_PEER_CACHE_LIMITS: PeerCacheLimits = {
  maxPeers: PEER_CACHE_MAX_PEERS,
  maxAddrsPerPeer: PEER_CACHE_MAX_ADDRS_PER_PEER,
};

const peerCacheFileSchema = z.object({
  version: z.literal(PEER_CACHE_VERSION),
  peers: z.array(
    z.object({
      id: z.string().min(1).max(128),
      addrs: z.array(z.string().min(1).max(1024)),
      lastSeen: z.number().int().nonnegative(),
    }),
  ),
});

/**
 * Merges peers seen at `now` into `entries`: a seen peer gets `lastSeen = now` and the addresses
 * just seen (falling back to its cached ones when none were seen); peers without any address are
 * dropped (nothing to dial); the most recently seen `maxPeers` are kept, newest first.
 *
 * @example
 * recordSeenPeers([], [{ id: "a", addrs: ["/ip4/10.0.0.1/tcp/4100"] }], 1000)
 * // [{ id: "a", addrs: ["/ip4/10.0.0.1/tcp/4100"], lastSeen: 1000 }]
 */
export function recordSeenPeers(
  entries: readonly PeerCacheEntry[],
  seen: ReadonlyArray<{ id: string; addrs: readonly string[] }>,
  now: number,
  limits: PeerCacheLimits = DEFAULT_PEER_CACHE_LIMITS,
): PeerCacheEntry[] {
  const byId = new Map<string, PeerCacheEntry>();
  for (const entry of entries) byId.set(entry.id, entry);
  for (const peer of seen) {
    const fresh = dedupe(peer.addrs);
    const addrs = fresh.length > 0 ? fresh : (byId.get(peer.id)?.addrs ?? []);
    byId.set(peer.id, { id: peer.id, addrs, lastSeen: now });
  }
  return [...byId.values()]
    .filter((entry) => entry.addrs.length > 0)
    .map((entry) => ({ ...entry, addrs: entry.addrs.slice(0, limits.maxAddrsPerPeer) }))
    .sort((a, b) => b.lastSeen - a.lastSeen || compareStrings(a.id, b.id))
    .slice(0, limits.maxPeers);
}

/** Serialises entries to the file format (stable order: newest first). */
export function encodePeerCache(entries: readonly PeerCacheEntry[]): string {
  return `${JSON.stringify({ version: PEER_CACHE_VERSION, peers: entries }, null, 2)}\n`;
}

/**
 * Parses the file format. Throws on anything that is not a version-1 peer cache; a caller that
 * must not fail on a corrupt cache catches and starts with an empty one.
 */
export function decodePeerCache(text: string): PeerCacheEntry[] {
  const parsed = peerCacheFileSchema.parse(JSON.parse(text));
  return parsed.peers.map((peer) => ({ id: peer.id, addrs: dedupe(peer.addrs), lastSeen: peer.lastSeen }));
}

/** Reads a peer cache file; a missing file is an empty cache, a corrupt one throws. */
export async function readPeerCacheFile(path: string): Promise<PeerCacheEntry[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return decodePeerCache(text);
}

/**
 * Writes a peer cache file atomically (temporary file + rename), creating its directory, so a
 * crash mid-write leaves the previous cache intact rather than a truncated file.
 */
export async function writePeerCacheFile(path: string, entries: readonly PeerCacheEntry[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, encodePeerCache(entries), "utf8");
  await rename(temporary, path);
}

function dedupe(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
