/**
 * Test fixture: real libp2p nodes on 127.0.0.1 with the DSMP DHT (tcp + noise + yamux + identify + ping + kad-dht, which needs ping,
 * on `/dsmp/kad/1.0.0`, passthrough peer mapper, our validators and selectors), linked into a chain of
 * bootstrap dials, and bounded waits on conditions. Not imported by production code.
 */
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import type { ConnectionGater, PeerId } from "@libp2p/interface";
import { kadDHT, passthroughMapper, type KadDHT } from "@libp2p/kad-dht";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { createLibp2p, type Libp2p } from "libp2p";
import { hexToBytes, keccak256, toHex, type Address } from "viem";
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

/** A deterministic node key: keccak256 of a label (valid with overwhelming probability). */
export function testIdentity(label: string): NodeIdentity {
  return identityFromPrivateKey(hexToBytes(keccak256(toHex(`dsmp discovery test ${label}`))));
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

/** Dials `to` from `from` and waits until `from`'s DHT routing table holds it. */
export async function link(from: TestLibp2p, to: TestLibp2p): Promise<void> {
  await from.dial(to.getMultiaddrs()[0]!, { signal: AbortSignal.timeout(TEST_WAIT_MS) });
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
