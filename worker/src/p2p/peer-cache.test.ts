import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  decodePeerCache,
  encodePeerCache,
  readPeerCacheFile,
  recordSeenPeers,
  writePeerCacheFile,
  type PeerCacheEntry,
} from "./peer-cache.ts";

const A = "/ip4/10.0.0.1/tcp/4100";
const B = "/ip4/10.0.0.2/tcp/4100";
const C = "/ip4/10.0.0.3/udp/4100/quic-v1";

describe("recordSeenPeers", () => {
  const cases: Array<{
    name: string;
    entries: PeerCacheEntry[];
    seen: Array<{ id: string; addrs: string[] }>;
    now: number;
    limits?: { maxPeers: number; maxAddrsPerPeer: number };
    expected: PeerCacheEntry[];
  }> = [
    {
      name: "adds a new peer",
      entries: [],
      seen: [{ id: "p1", addrs: [A] }],
      now: 10,
      expected: [{ id: "p1", addrs: [A], lastSeen: 10 }],
    },
    {
      name: "refreshes lastSeen and replaces addresses of a known peer",
      entries: [{ id: "p1", addrs: [A], lastSeen: 1 }],
      seen: [{ id: "p1", addrs: [B, C] }],
      now: 10,
      expected: [{ id: "p1", addrs: [B, C], lastSeen: 10 }],
    },
    {
      name: "keeps cached addresses when a seen peer brought none",
      entries: [{ id: "p1", addrs: [A], lastSeen: 1 }],
      seen: [{ id: "p1", addrs: [] }],
      now: 10,
      expected: [{ id: "p1", addrs: [A], lastSeen: 10 }],
    },
    {
      name: "drops a peer with no address at all",
      entries: [],
      seen: [{ id: "p1", addrs: [] }],
      now: 10,
      expected: [],
    },
    {
      name: "keeps unseen peers, newest first",
      entries: [
        { id: "old", addrs: [A], lastSeen: 1 },
        { id: "older", addrs: [B], lastSeen: 0 },
      ],
      seen: [{ id: "new", addrs: [C] }],
      now: 10,
      expected: [
        { id: "new", addrs: [C], lastSeen: 10 },
        { id: "old", addrs: [A], lastSeen: 1 },
        { id: "older", addrs: [B], lastSeen: 0 },
      ],
    },
    {
      name: "evicts the least recently seen beyond maxPeers",
      entries: [
        { id: "old", addrs: [A], lastSeen: 1 },
        { id: "older", addrs: [B], lastSeen: 0 },
      ],
      seen: [{ id: "new", addrs: [C] }],
      now: 10,
      limits: { maxPeers: 2, maxAddrsPerPeer: 16 },
      expected: [
        { id: "new", addrs: [C], lastSeen: 10 },
        { id: "old", addrs: [A], lastSeen: 1 },
      ],
    },
    {
      name: "dedupes and caps addresses per peer",
      entries: [],
      seen: [{ id: "p1", addrs: [A, A, B, C] }],
      now: 10,
      limits: { maxPeers: 64, maxAddrsPerPeer: 2 },
      expected: [{ id: "p1", addrs: [A, B], lastSeen: 10 }],
    },
    {
      name: "orders equal lastSeen by id, so the file is stable",
      entries: [],
      seen: [
        { id: "b", addrs: [B] },
        { id: "a", addrs: [A] },
      ],
      now: 10,
      expected: [
        { id: "a", addrs: [A], lastSeen: 10 },
        { id: "b", addrs: [B], lastSeen: 10 },
      ],
    },
  ];

  for (const { name, entries, seen, now, limits, expected } of cases) {
    it(name, () => {
      expect(recordSeenPeers(entries, seen, now, limits)).toEqual(expected);
    });
  }
});

describe("peer cache codec and file", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("round-trips", () => {
    const entries = [{ id: "p1", addrs: [A, C], lastSeen: 5 }];
    expect(decodePeerCache(encodePeerCache(entries))).toEqual(entries);
  });

  it.each([
    ["not JSON", "{"],
    ["another version", JSON.stringify({ version: 2, peers: [] })],
    ["a negative lastSeen", JSON.stringify({ version: 1, peers: [{ id: "p", addrs: [A], lastSeen: -1 }] })],
    ["a missing id", JSON.stringify({ version: 1, peers: [{ addrs: [A], lastSeen: 1 }] })],
  ])("rejects %s", (_what, input) => {
    expect(() => decodePeerCache(input)).toThrow();
  });

  it("reads a missing file as empty and writes atomically into a new directory", async () => {
    dir = await mkdtemp(join(tmpdir(), "dsmp-peer-cache-"));
    const file = join(dir, "nested", "known-peers.json");
    expect(await readPeerCacheFile(file)).toEqual([]);

    await writePeerCacheFile(file, [{ id: "p1", addrs: [A], lastSeen: 5 }]);

    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({ version: 1, peers: [{ id: "p1", addrs: [A], lastSeen: 5 }] });
    expect(await readPeerCacheFile(file)).toEqual([{ id: "p1", addrs: [A], lastSeen: 5 }]);
  });

  it("throws on a corrupt file (the service decides to ignore it)", async () => {
    dir = await mkdtemp(join(tmpdir(), "dsmp-peer-cache-"));
    const file = join(dir, "known-peers.json");
    await writeFile(file, "garbage");
    await expect(readPeerCacheFile(file)).rejects.toThrow();
  });
});
