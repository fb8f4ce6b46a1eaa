import { mkdtemp, readFile, rm, watch, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { PeerId, PrivateKey } from "@libp2p/interface";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KNOWN_PEERS_FILE, type DsmpLibp2p } from "./libp2p-node.ts";
import { decodePeerCache } from "./peer-cache.ts";
import { addressWith, nextEvent, TEST_WAIT_MS, TestNodes } from "./p2p-test-harness.ts";

const nodes = new TestNodes();
let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "dsmp-peer-persistence-"));
});
afterEach(async () => {
  await nodes.stopAll();
  await rm(dataDir, { recursive: true, force: true });
});

/** Starts a node with `privateKey` and `dataDir`, no bootstrap list, and waits until it is connected to `peer`. */
async function restartAndAwaitConnection(privateKey: PrivateKey, peer: PeerId): Promise<DsmpLibp2p> {
  const restarted = await nodes.start({ privateKey, dataDir, start: false });
  const connected = nextEvent<PeerId>(restarted.libp2p, "peer:connect", (remote) => remote.equals(peer));
  await restarted.start();
  await connected;
  const restored = await restarted.libp2p.services.peerPersistence!.restored();
  expect(restored).toMatchObject({ known: 1, dialled: 1, connected: 1 });
  return restarted;
}

/** Resolves when `name` appears in `dir` (the cache is renamed into place, so appearing means complete). */
async function fileWritten(dir: string, name: string, signal: AbortSignal): Promise<void> {
  for await (const change of watch(dir, { signal })) {
    if (change.filename === name) return;
  }
}

async function cachedPeerIds(): Promise<string[]> {
  return decodePeerCache(await readFile(join(dataDir, KNOWN_PEERS_FILE), "utf8")).map((entry) => entry.id);
}

describe("known peers persist across restarts", () => {
  it("a restarted node reconnects to a peer it dialled, without a bootstrap list", async () => {
    const peer = await nodes.start();
    const privateKey = await generateKeyPair("secp256k1");
    const node = await nodes.start({ privateKey, dataDir });
    await node.libp2p.dial(addressWith(peer, "/tcp/"));

    await node.stop(); // writes the cache
    expect(await cachedPeerIds()).toEqual([peer.peerId.toString()]);

    const restarted = await restartAndAwaitConnection(privateKey, peer.peerId);
    expect(restarted.peerId.equals(node.peerId)).toBe(true);
  });

  it("remembers a peer that dialled us at the listen address identify reported", async () => {
    const privateKey = await generateKeyPair("secp256k1");
    const node = await nodes.start({ privateKey, dataDir });
    const peer = await nodes.start();
    const identified = nextEvent<{ peerId: PeerId }>(node.libp2p, "peer:identify", (result) =>
      result.peerId.equals(peer.peerId),
    );
    await peer.libp2p.dial(addressWith(node, "/tcp/"));
    await identified;

    await node.stop();
    const [entry] = decodePeerCache(await readFile(join(dataDir, KNOWN_PEERS_FILE), "utf8"));
    expect(entry?.addrs).toContain(addressWith(peer, "/tcp/").decapsulate("/p2p").toString());

    await restartAndAwaitConnection(privateKey, peer.peerId);
  });

  it("writes the cache shortly after a connection, before any stop", async () => {
    const peer = await nodes.start();
    const node = await nodes.start({ dataDir, peerCache: { flushDebounceMs: 10 } });
    const written = fileWritten(dataDir, KNOWN_PEERS_FILE, AbortSignal.timeout(TEST_WAIT_MS));
    await node.libp2p.dial(addressWith(peer, "/tcp/"));

    await written;
    expect(await cachedPeerIds()).toEqual([peer.peerId.toString()]);
    expect(node.libp2p.services.peerPersistence!.knownPeers().map((entry) => entry.id)).toEqual([peer.peerId.toString()]);
  });

  it("starts with an empty cache when the file is corrupt", async () => {
    await writeFile(join(dataDir, KNOWN_PEERS_FILE), "{ not json");
    const node = await nodes.start({ dataDir });
    expect(await node.libp2p.services.peerPersistence!.restored()).toEqual({ known: 0, dialled: 0, connected: 0 });
  });

  it("stop() is idempotent and concurrent stops share one stop", async () => {
    const node = await nodes.start({ dataDir });
    const first = node.stop();
    const second = node.stop();
    expect(second).toBe(first);
    await Promise.all([first, second, node.stop()]);
    expect(node.libp2p.status).toBe("stopped");
  });
});
