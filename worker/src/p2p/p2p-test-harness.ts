/**
 * Helpers for the p2p tests: LAN-mode nodes on 127.0.0.1 with ephemeral ports, bounded waits on
 * events and conditions (never fixed sleeps), and one place that stops everything a test started.
 */
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { ConnectionGater, PeerId } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { createDsmpLibp2p, type DsmpLibp2p, type DsmpLibp2pInit } from "./libp2p-node.ts";
import { EPHEMERAL_TRANSPORT_PORTS, listenAddressesFor, type TransportName } from "./transports.ts";

/** Bound on any single wait in the p2p tests (ms). Generous: CI machines stall. */
export const TEST_WAIT_MS = 20_000;

/** Nodes started by {@link startTestNode}, to stop after each test. */
export class TestNodes {
  private readonly nodes: DsmpLibp2p[] = [];

  /**
   * Starts a LAN-mode node listening on 127.0.0.1 (TCP only unless `transports`/`listen` say
   * otherwise), with a fresh secp256k1 key unless one is given, NAT services off and a fast first
   * DHT self-query.
   */
  async start(init: Partial<DsmpLibp2pInit> = {}): Promise<DsmpLibp2p> {
    const transports: TransportName[] = init.transports ?? ["tcp"];
    const node = await createDsmpLibp2p({
      network: "lan",
      listen: listenAddressesFor("127.0.0.1", transports, EPHEMERAL_TRANSPORT_PORTS),
      nat: { autonat: false, dcutr: false },
      bootstrapDialDelayMs: 0,
      ...init,
      transports,
      privateKey: init.privateKey ?? (await generateKeyPair("secp256k1")),
      dht: { initialQuerySelfIntervalMs: 10, ...init.dht },
    });
    this.nodes.push(node);
    return node;
  }

  /** Stops every node started so far (in reverse start order); errors of one do not skip the others. */
  async stopAll(): Promise<void> {
    const nodes = this.nodes.splice(0).reverse();
    const results = await Promise.allSettled(nodes.map((node) => node.stop()));
    const failed = results.find((result) => result.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  }
}

/** A connection gater that refuses every connection to and from `peer` (keeps two test nodes apart). */
export function isolateFrom(peer: PeerId): ConnectionGater {
  return {
    denyDialPeer: (remote) => remote.equals(peer),
    denyInboundEncryptedConnection: (remote) => remote.equals(peer),
    denyOutboundEncryptedConnection: (remote) => remote.equals(peer),
  };
}

/** The node's first address whose text contains `fragment` (e.g. "/quic-v1"), with its `/p2p/<id>`. */
export function addressWith(node: DsmpLibp2p, fragment: string): Multiaddr {
  const found = node.libp2p.getMultiaddrs().find((address) => address.toString().includes(fragment));
  if (found === undefined) {
    throw new Error(`no address with ${fragment} among ${node.libp2p.getMultiaddrs().join(", ")}`);
  }
  return found;
}

/**
 * Resolves with the first event of `type` on `target` that `accept` accepts; rejects after
 * `timeoutMs`. Subscribe before triggering the action that causes the event.
 */
export function nextEvent<T>(
  target: EventTarget,
  type: string,
  accept: (detail: T) => boolean = () => true,
  timeoutMs = TEST_WAIT_MS,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      target.removeEventListener(type, listener);
      reject(new Error(`no "${type}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (event: Event): void => {
      const detail = (event as CustomEvent<T>).detail;
      if (!accept(detail)) return;
      clearTimeout(timer);
      target.removeEventListener(type, listener);
      resolve(detail);
    };
    target.addEventListener(type, listener);
  });
}

/**
 * Re-evaluates `condition` whenever `target` fires one of `types` (and once at the start) until
 * it holds; rejects with `what` after `timeoutMs`. For state that events announce but do not
 * carry (routing-table size, mesh membership).
 */
export function untilCondition(
  what: string,
  condition: () => boolean | Promise<boolean>,
  target: EventTarget,
  types: readonly string[],
  timeoutMs = TEST_WAIT_MS,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const type of types) target.removeEventListener(type, check);
      if (err === undefined) resolve();
      else reject(err);
    };
    const check = (): void => {
      Promise.resolve(condition()).then(
        (holds) => {
          if (holds) finish();
        },
        (err: unknown) => finish(err instanceof Error ? err : new Error(String(err))),
      );
    };
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    for (const type of types) target.addEventListener(type, check);
    check();
  });
}
