/**
 * Child process of bench/dht-lookup.ts: runs a share of the benchmark's DSMP libp2p nodes (own event loop)
 * and carries out the parent's commands over the IPC channel — start nodes, dial, settle rounds, provide,
 * look up, ping. Not meant to be run by hand.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import type { SingleKadDHT } from "@libp2p/kad-dht";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { createQueryStatsCollector } from "../worker/src/discovery/query-stats.ts";
import { identityFromPrivateKey } from "../worker/src/identity/node-identity.ts";
import { serviceProviderCid } from "../worker/src/p2p/dht-keys.ts";
import { createDsmpLibp2p, type DsmpLibp2p } from "../worker/src/p2p/libp2p-node.ts";

export interface KadTuning {
  alpha?: number;
  disjointPaths?: number;
}

export type WorkerCommand =
  | { cmd: "start"; count: number; kad: KadTuning }
  | { cmd: "dial"; node: number; addrs: string[] }
  | { cmd: "settle"; timeoutMs: number }
  | { cmd: "tables" }
  | { cmd: "provide"; node: number; serviceId: string; timeoutMs: number }
  | { cmd: "lookup"; node: number; serviceId: string; timeoutMs: number }
  | { cmd: "ping"; node: number; addr: string; count: number }
  | { cmd: "dialTime"; node: number; addrs: string[] }
  | { cmd: "profileStart" }
  | { cmd: "profileStop"; file: string }
  | { cmd: "stop" };

export interface Lookup {
  /** ms to the first provider (undefined: none found). */
  firstMs?: number;
  /** Hops of the query when the first provider arrived (0: answered from the local provider store). */
  firstHops?: number;
  /** The first provider came from the node's own provider store (it is one of the k closest to the key). */
  local: boolean;
  /** Requests sent before the first provider arrived. */
  requestsToFirst: number;
  /** Requests, before the first provider arrived, to peers this node had no open connection to (a new dial each). */
  newConnsToFirst: number;
  /** ms until the query ended. */
  completeMs: number;
  /** Hops of the whole network query. */
  completeHops: number;
  /** Distinct remote peers the whole query asked. */
  queried: number;
}

const LOCATOR = { chainId: 31337, registry: "0x5fbdb2315678afecb367f032d93f642f64180aa3" } as const;
const nodes: DsmpLibp2p[] = [];
let profiler: Session | undefined;

function pct(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function newKey(): Uint8Array {
  for (;;) {
    const secret = randomBytes(32);
    try {
      identityFromPrivateKey(secret);
      return secret;
    } catch {
      // out of range: draw again (probability ~2^-128)
    }
  }
}

const tableSize = (node: DsmpLibp2p) => (node.libp2p.services.dht as SingleKadDHT).routingTable.size;

async function lookup(node: DsmpLibp2p, serviceId: bigint, timeoutMs: number): Promise<Lookup> {
  const cid = serviceProviderCid({ ...LOCATOR, serviceId });
  const stats = createQueryStatsCollector(node.peerId);
  const self = node.peerId.toString();
  const result: Lookup = { local: false, requestsToFirst: 0, newConnsToFirst: 0, completeMs: 0, completeHops: 0, queried: 0 };
  const t0 = performance.now();
  try {
    for await (const event of node.libp2p.services.dht.findProviders(cid, { signal: AbortSignal.timeout(timeoutMs) })) {
      stats.observe(event);
      if (event.name === "SEND_QUERY" && result.firstMs === undefined) {
        result.requestsToFirst++;
        if (node.libp2p.getConnections(event.to).length === 0) result.newConnsToFirst++;
      }
      if (event.name === "PROVIDER" && event.providers.length > 0 && result.firstMs === undefined) {
        result.firstMs = performance.now() - t0;
        result.local = event.from.toString() === self;
        result.firstHops = result.local ? 0 : stats.snapshot().hops;
      }
    }
  } catch {
    // timeout: record what was seen
  }
  result.completeMs = performance.now() - t0;
  const snap = stats.snapshot();
  result.completeHops = snap.hops;
  result.queried = snap.queried;
  return result;
}

async function handle(message: WorkerCommand): Promise<unknown> {
  switch (message.cmd) {
    case "start": {
      for (let i = 0; i < message.count; i++) {
        nodes.push(
          await createDsmpLibp2p({
            privateKey: identityFromPrivateKey(newKey()).privateKey,
            network: "lan",
            protocolPrefix: "/dsmp-bench",
            transports: ["tcp"],
            listen: ["/ip4/127.0.0.1/tcp/0"],
            dht: { initialQuerySelfIntervalMs: 10, ...message.kad },
          }),
        );
      }
      return nodes.map((n) => ({ peerId: n.peerId.toString(), addr: n.libp2p.getMultiaddrs()[0]!.toString() }));
    }
    case "dial": {
      const node = nodes[message.node]!;
      const failed = await Promise.all(
        message.addrs.map((a) =>
          node.libp2p.dial(multiaddr(a), { signal: AbortSignal.timeout(10_000) }).then(
            () => undefined,
            (err: unknown) => (err instanceof Error ? err.name : String(err)),
          ),
        ),
      );
      return failed.filter((f) => f !== undefined);
    }
    case "settle": {
      await Promise.all(
        nodes.map(async (node) => {
          try {
            for await (const _ of node.libp2p.services.dht.getClosestPeers(randomBytes(32), { signal: AbortSignal.timeout(message.timeoutMs) }));
          } catch {
            // a timed-out round still fills tables
          }
        }),
      );
      return nodes.map(tableSize);
    }
    case "tables":
      return nodes.map(tableSize);
    case "provide": {
      const cid = serviceProviderCid({ ...LOCATOR, serviceId: BigInt(message.serviceId) });
      let acked = 0;
      try {
        for await (const event of nodes[message.node]!.libp2p.services.dht.provide(cid, { signal: AbortSignal.timeout(message.timeoutMs) })) {
          if (event.name === "PEER_RESPONSE" && event.messageName === "ADD_PROVIDER") acked++;
        }
      } catch {
        // past the bound: the peers that acknowledged hold the provider record
      }
      return acked;
    }
    case "lookup":
      return lookup(nodes[message.node]!, BigInt(message.serviceId), message.timeoutMs);
    case "ping": {
      const node = nodes[message.node]!;
      const target = multiaddr(message.addr);
      await node.libp2p.dial(target, { signal: AbortSignal.timeout(10_000) });
      const rtts: number[] = [];
      for (let i = 0; rtts.length < message.count && i < message.count * 2; i++) {
        const t0 = performance.now();
        try {
          await node.libp2p.services.ping.ping(target, { signal: AbortSignal.timeout(2_000) });
        } catch {
          continue;
        }
        if (i >= 5) rtts.push(performance.now() - t0); // the first 5 are warm-up
      }
      return pct(rtts, 50);
    }
    case "dialTime": {
      const node = nodes[message.node]!;
      const times: number[] = [];
      for (const addr of message.addrs) {
        const target = multiaddr(addr);
        const peer = peerIdFromString(addr.split("/p2p/").at(-1)!);
        if (node.libp2p.getConnections(peer).length > 0) continue;
        const t0 = performance.now();
        try {
          const conn = await node.libp2p.dial(target, { signal: AbortSignal.timeout(5_000) });
          times.push(performance.now() - t0);
          conn.abort(new Error("dial baseline"));
        } catch {
          // skip
        }
        if (times.length >= 10) break;
      }
      return pct(times, 50);
    }
    case "profileStart": {
      profiler = new Session();
      profiler.connect();
      await profiler.post("Profiler.enable");
      await profiler.post("Profiler.setSamplingInterval", { interval: 200 });
      await profiler.post("Profiler.start");
      return null;
    }
    case "profileStop": {
      const { profile } = await profiler!.post("Profiler.stop");
      writeFileSync(message.file, JSON.stringify(profile));
      profiler!.disconnect();
      return null;
    }
    case "stop": {
      for (const node of nodes) for (const conn of node.libp2p.getConnections()) conn.abort(new Error("benchmark done"));
      await Promise.allSettled(nodes.map((node) => node.stop()));
      return null;
    }
  }
}

// An orchestrator that died must not leave its workers running and skewing the next run.
process.on("disconnect", () => process.exit(0));
process.on("message", (raw) => {
  const { id, message } = raw as { id: number; message: WorkerCommand };
  handle(message).then(
    (result) => process.send!({ id, result }),
    (err: unknown) => process.send!({ id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
  );
});
process.send!({ ready: true });
process.on("disconnect", () => process.exit(0));
