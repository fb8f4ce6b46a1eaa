/**
 * Test fixture: real libp2p nodes on 127.0.0.1 with the DSMP DHT — tcp, noise, yamux, identify, ping (kad-dht
 * needs it) and kad-dht on `/dsmp/kad/1.0.0` with the passthrough peer mapper and our validators and
 * selectors — linked into a chain of bootstrap dials, and bounded waits on conditions. Built here rather
 * than with the node factory of worker/src/p2p so discovery depends only on a started node with a DHT.
 * Not imported by production code.
 */
import { randomBytes } from "node:crypto";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import type { ConnectionGater, PeerId } from "@libp2p/interface";
import { kadDHT, passthroughMapper, type KadDHT, type SingleKadDHT } from "@libp2p/kad-dht";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { createLibp2p, type Libp2p } from "libp2p";
import { hexToBytes, keccak256, toHex, type Address, type Hex } from "viem";
import { identityFromPrivateKey, type NodeIdentity } from "../identity/node-identity.ts";
import { dsmpDhtSelectors, dsmpDhtValidators } from "../p2p/service-record-dht.ts";

/** Kademlia protocol of the DSMP DHT (docs/protocol.md §4). */
export const TEST_DHT_PROTOCOL = "/dsmp/kad/1.0.0";
/** Bound on any one wait in these tests (ms). Generous: CI machines stall. */
export const TEST_WAIT_MS = 20_000;
export const TEST_CHAIN_ID = 31337;
export const TEST_REGISTRY: Address = "0x5fbdb2315678afecb367f032d93f642f64180aa3";

export type TestLibp2p = Libp2p<{ dht: KadDHT; identify: unknown; ping: unknown }>;

/** A clock the tests move by hand; every validator and discovery component of a test network reads it. */
export interface TestClock {
  /** Unix milliseconds. */
  now(): number;
  advance(ms: number): void;
}

export function createTestClock(start = Date.now()): TestClock {
  let now = start;
  return { now: () => now, advance: (ms) => void (now += ms) };
}

/** A deterministic node key: keccak256 of a label (a valid secp256k1 key with overwhelming probability). */
export function testNodeKey(label: string): Hex {
  return keccak256(toHex(`dsmp discovery test ${label}`));
}

/** The node identity of {@link testNodeKey}. */
export function testIdentity(label: string): NodeIdentity {
  return identityFromPrivateKey(hexToBytes(testNodeKey(label)));
}

export interface StartTestNodeInit {
  identity: NodeIdentity;
  clock: TestClock;
  connectionGater?: ConnectionGater;
}

/** Starts a DHT server node listening on an ephemeral TCP port of 127.0.0.1. */
export async function startTestNode(init: StartTestNodeInit): Promise<TestLibp2p> {
  return createLibp2p({
    privateKey: init.identity.privateKey,
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...(init.connectionGater === undefined ? {} : { connectionGater: init.connectionGater }),
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: TEST_DHT_PROTOCOL,
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        initialQuerySelfInterval: 10,
        validators: dsmpDhtValidators({
          clock: () => Math.floor(init.clock.now() / 1000),
          chainId: TEST_CHAIN_ID,
          registry: TEST_REGISTRY,
        }),
        selectors: dsmpDhtSelectors(),
      }),
    },
  });
}

/** A connection gater that refuses every connection to and from `peers`. */
export function isolateFrom(peers: readonly PeerId[]): ConnectionGater {
  const denied = (remote: PeerId) => peers.some((peer) => peer.equals(remote));
  return {
    denyDialPeer: denied,
    denyInboundEncryptedConnection: denied,
    denyOutboundEncryptedConnection: denied,
  };
}

/** Dials `to` from `from` (a bootstrap link). */
export async function link(from: TestLibp2p, to: TestLibp2p): Promise<void> {
  await from.dial(to.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(TEST_WAIT_MS) });
}

/** How many peers `node`'s DHT routing table holds. */
export function routingTableSize(node: TestLibp2p): number {
  return (node.services.dht as SingleKadDHT).routingTable.size;
}

export interface ChainNetworkInit {
  count: number;
  clock: TestClock;
  /** Pairs of node indices that refuse each other's connections (both directions). */
  apart?: readonly (readonly [number, number])[];
  /** Label prefix of the deterministic node keys. */
  label?: string;
}

/**
 * `count` nodes where node i dials node i − 1 only (a chain of bootstrap links); the DHT does the rest.
 * Resolves once every routing table holds every peer its node may connect to, so a put or provide from
 * any node reaches all the peers it can.
 */
export class ChainNetwork {
  readonly clock: TestClock;
  readonly identities: NodeIdentity[];
  readonly nodes: TestLibp2p[] = [];
  private readonly apart: readonly (readonly [number, number])[];

  private constructor(init: ChainNetworkInit) {
    this.clock = init.clock;
    this.apart = init.apart ?? [];
    this.identities = Array.from({ length: init.count }, (_, i) => testIdentity(ChainNetwork.nodeLabel(init.label, i)));
  }

  /** The label of node `i`'s key ({@link testNodeKey}). */
  static nodeLabel(label: string | undefined, i: number): string {
    return `${label ?? "chain"} ${i}`;
  }

  static async start(init: ChainNetworkInit): Promise<ChainNetwork> {
    const network = new ChainNetwork(init);
    try {
      for (let i = 0; i < init.count; i++) network.nodes.push(await network.startNode(i));
      for (let i = 1; i < init.count; i++) await link(network.nodes[i]!, network.nodes[i - 1]!);
      await network.converged();
    } catch (error) {
      await network.stop();
      throw error;
    }
    return network;
  }

  /** Indices of the nodes `i` may connect to. */
  reachable(i: number): number[] {
    const refused = (j: number) => this.apart.some(([a, b]) => (a === i && b === j) || (a === j && b === i));
    return this.identities.map((_, j) => j).filter((j) => j !== i && !refused(j));
  }

  /**
   * Waits until every routing table holds all of its node's reachable peers. kad-dht's lookups only follow
   * peers closer to the target than the one naming them, so in a network this small the self-queries
   * alone can leave a table short; each round that is not there yet has every node look up a random key
   * (what kad-dht's periodic table refresh does, which `refreshRoutingTable` only schedules).
   */
  async converged(): Promise<void> {
    const done = () => this.nodes.every((node, i) => routingTableSize(node) >= this.reachable(i).length);
    await waitFor("routing tables to hold every reachable peer", async () => {
      if (done()) return true;
      await Promise.all(
        this.nodes.map(async (node) => {
          for await (const _ of node.services.dht.getClosestPeers(randomBytes(32), { signal: AbortSignal.timeout(TEST_WAIT_MS) }));
        }),
      );
      return done();
    });
  }

  /** Stops node `i` and starts it again with the same key on a new port, linked to `bootstrap`. */
  async restart(i: number, bootstrap: number): Promise<TestLibp2p> {
    await this.nodes[i]!.stop();
    const node = await this.startNode(i);
    this.nodes[i] = node;
    await link(node, this.nodes[bootstrap]!);
    await this.converged();
    return node;
  }

  async stop(): Promise<void> {
    const results = await Promise.allSettled([...this.nodes].reverse().map((node) => node.stop()));
    const failed = results.find((result) => result.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  }

  private startNode(i: number): Promise<TestLibp2p> {
    const refused = this.identities.filter((_, j) => j !== i && !this.reachable(i).includes(j));
    return startTestNode({
      identity: this.identities[i]!,
      clock: this.clock,
      ...(refused.length === 0 ? {} : { connectionGater: isolateFrom(refused.map((identity) => identity.peerId)) }),
    });
  }
}

/**
 * Polls `condition` (every `intervalMs`) until it returns a value other than `undefined`/`false`;
 * rejects with `what` after `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  condition: () => T | false | undefined | Promise<T | false | undefined>,
  { timeoutMs = TEST_WAIT_MS, intervalMs = 20 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
