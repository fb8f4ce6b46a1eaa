/**
 * Discovery and robustness end to end, on real parts: a `hardhat node`, the deploy script, 5 Xnodes on
 * 127.0.0.1 registered and staked on-chain, linked in a line of bootstrap dials (node i → node i − 1), the
 * devnet's demo services (`echo` on nodes 0 and 1).
 *
 * Node 4's connection gater refuses nodes 0 and 1 until a test lifts it: left alone, kad-dht's self-query
 * and table refresh would dial every peer of a network this small within a second, so "never connected to
 * the providers" would be luck. While the gate is shut, node 4 can only learn of the providers through the
 * DHT (nodes 2 and 3); the gateway then dials them by the addresses in their signed records.
 *
 * Unit-level coverage of the same paths stays beside the code (worker/src/discovery/*.test.ts, mesh tests).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PeerId } from "@libp2p/interface";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Address } from "viem";
import { deploy } from "../scripts/lib/deploy.ts";
import { devPrivateKey } from "../scripts/lib/dev-accounts.ts";
import { startDevnetXnodes, type DevnetService, type DevnetXnodes } from "../scripts/lib/devnet-xnodes.ts";
import { startHardhatNode, type HardhatNode } from "../scripts/lib/hardhat-node.ts";
import { createServiceAnnouncer, type ServiceAnnouncer } from "../worker/src/discovery/announcer.ts";
import { testIdentity, waitFor } from "../worker/src/discovery/discovery-network.fixture.ts";
import { serviceRecordKey } from "../worker/src/p2p/dht-keys.ts";
import { createDsmpLibp2p, type DsmpLibp2p } from "../worker/src/p2p/libp2p-node.ts";
import { dsmpDhtSelectors, dsmpDhtValidators, unixSecondsNow } from "../worker/src/p2p/service-record-dht.ts";
import { decodeServiceRecord } from "../worker/src/p2p/service-record.ts";
import type { Xnode } from "../worker/src/node.ts";

const NODES = 5;
const FAR = 4;
const HTTP_PROTOCOL = "/dsmp/http/1.0.0"; // docs/protocol.md §5
const WAIT_MS = 30_000;

function uvarint(value: number): number[] {
  const out: number[] = [];
  for (; value >= 0x80; value = Math.floor(value / 128)) out.push((value & 0x7f) | 0x80);
  out.push(value);
  return out;
}

/** Node 4's gate: while shut, it refuses connections to and from the given peers. */
function createGate() {
  let shut: PeerId[] = [];
  const denied = (peer: PeerId) => shut.some((p) => p.equals(peer));
  return {
    shut(peers: PeerId[]) {
      shut = peers;
    },
    open() {
      shut = [];
    },
    gater: { denyDialPeer: denied, denyInboundEncryptedConnection: denied, denyOutboundEncryptedConnection: denied },
  };
}

describe("discovery end to end (5 Xnodes in a line, real chain)", () => {
  let chain: HardhatNode;
  let net: DevnetXnodes;
  let echo: DevnetService;
  let registry: Address;
  let chainId: number;
  const gate = createGate();
  const root = mkdtempSync(join(tmpdir(), "dsmp-discovery-e2e-"));
  const extra: { stop(): Promise<void> }[] = [];

  const far = () => net.nodes[FAR]!;
  const peerOf = (i: number) => net.nodes[i]!.identity.peerId;
  const providerIds = () => echo.providers.map((i) => peerOf(i).toString()).sort();
  const resolvedIds = (result: Awaited<ReturnType<Xnode["resolver"]["refresh"]>>) => result.providers.map((p) => p.peerId).sort();

  beforeAll(async () => {
    chain = await startHardhatNode();
    const outDir = join(root, "deployments");
    const deployment = await deploy({ rpcUrl: chain.rpcUrl, privateKey: devPrivateKey(0), outDir });
    registry = deployment.contracts.ServiceRegistry!.address;
    chainId = deployment.chainId;
    net = await startDevnetXnodes({
      rpcUrl: chain.rpcUrl,
      deployment,
      deploymentsFile: join(outDir, `${deployment.chainId}.json`),
      count: NODES,
      rootDir: join(root, "nodes"),
      ephemeralPorts: true,
      bootstrapOf: (i) => i - 1,
      // Node 4 starts with its gate shut on the echo providers, nodes 0 and 1.
      connectionGater: (i, started) => {
        if (i !== FAR) return undefined;
        gate.shut([started[0]!.identity.peerId, started[1]!.identity.peerId]);
        return gate.gater;
      },
    });
    echo = net.services.find((s) => s.name === "echo")!;
    expect(echo.providers).toEqual([0, 1]);
    // Announce once more now that every node is up: node 0's first round ran while it was alone.
    for (const i of echo.providers) {
      const result = await net.nodes[i]!.announcer.announce({ serviceId: echo.id, version: "1", pricePerCall: 0n }, { signal: AbortSignal.timeout(WAIT_MS) });
      expect(result.storedOn + result.providedTo).toBeGreaterThan(0);
    }
  }, 180_000);

  afterAll(async () => {
    for (const node of extra.splice(0)) await node.stop().catch(() => undefined);
    await net?.stop();
    await chain?.stop();
    rmSync(root, { recursive: true, force: true }); // node keys live there
  });

  it("finds both echo providers from a node never connected to them, then calls echo through its gateway", async () => {
    const node = far();
    for (const i of echo.providers) expect(node.p2p.libp2p.getConnections(peerOf(i))).toEqual([]);

    const result = await waitFor("node 4 to resolve both echo providers", async () => {
      const r = await node.resolver.refresh(echo.id, AbortSignal.timeout(WAIT_MS));
      return r.providers.length === echo.providers.length ? r : undefined;
    }, { timeoutMs: WAIT_MS, intervalMs: 200 });
    expect(resolvedIds(result)).toEqual(providerIds());
    expect(result.stats.providerQuery.hops).toBeGreaterThanOrEqual(1);
    expect(result.stats.rejected).toEqual({ ineligible: 0, missing: 0, expired: 0, invalid: 0, withdrawn: 0 });
    for (const provider of result.providers) {
      const i = net.nodes.findIndex((n) => n.identity.peerId.toString() === provider.peerId);
      expect(provider.node.toLowerCase()).toBe(net.nodes[i]!.identity.address.toLowerCase());
      expect(provider.multiaddrs).toEqual(net.nodes[i]!.p2p.libp2p.getMultiaddrs().map(String));
    }
    // Still no direct connection: everything came through nodes 2 and 3.
    for (const i of echo.providers) expect(node.p2p.libp2p.getConnections(peerOf(i))).toEqual([]);

    gate.open();
    const res = await fetch(`${node.gatewayUrl}/svc/${echo.id}/hello?from=far`, { method: "POST", body: "across the line" });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("across the line");
    const via = res.headers.get("x-dsmp-provider")!;
    expect(providerIds()).toContain(via);
    expect(node.p2p.libp2p.getConnections(peerOf(net.nodes.findIndex((n) => n.identity.peerId.toString() === via)))).not.toEqual([]);
  });

  it("ignores a validly signed record from a key that is not registered on-chain", async () => {
    const stranger = testIdentity("unregistered e2e stranger");
    const p2p: DsmpLibp2p = await createDsmpLibp2p({
      privateKey: stranger.privateKey,
      network: "lan",
      transports: ["tcp"],
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrap: net.nodes[2]!.p2p.libp2p.getMultiaddrs().map(String).filter((a) => a.includes("/tcp/")),
      bootstrapDialDelayMs: 10,
      dht: { validators: dsmpDhtValidators({ clock: unixSecondsNow, chainId, registry }), selectors: dsmpDhtSelectors(), initialQuerySelfIntervalMs: 10 },
    });
    extra.push(p2p);
    const announcer: ServiceAnnouncer = createServiceAnnouncer({ chainId, registry })({
      dht: p2p.libp2p.services.dht,
      identity: stranger,
      getMultiaddrs: () => p2p.libp2p.getMultiaddrs(),
    });
    extra.push({ stop: () => announcer.stop({ signal: AbortSignal.timeout(5_000) }) });
    await waitFor("the stranger to have DHT peers", () => p2p.libp2p.getPeers().length > 0, { timeoutMs: WAIT_MS });
    const announced = await announcer.announce({ serviceId: echo.id, version: "1", pricePerCall: 0n }, { signal: AbortSignal.timeout(WAIT_MS) });
    expect(announced.storedOn).toBeGreaterThan(0);
    expect(announced.providedTo).toBeGreaterThan(0);

    // The record is in the DHT and its signature checks out (kad-dht validated it on the way)…
    const key = serviceRecordKey({ chainId, registry, serviceId: echo.id, peerId: stranger.peerId.toString() });
    const stored = await far().p2p.records.get(key, { signal: AbortSignal.timeout(WAIT_MS) });
    expect(stored).toBeDefined();
    expect(decodeServiceRecord(stored!).node.toLowerCase()).toBe(stranger.address.toLowerCase());

    // …and the provider query names the stranger, but the resolver leaves it out: not registered and staked.
    const result = await waitFor("the stranger's provider entry to reach node 4's lookups", async () => {
      const r = await far().resolver.refresh(echo.id, AbortSignal.timeout(WAIT_MS));
      return r.stats.rejected.ineligible > 0 ? r : undefined;
    }, { timeoutMs: WAIT_MS, intervalMs: 200 });
    expect(result.stats.rejected.ineligible).toBe(1);
    expect(result.providers.map((p) => p.peerId)).not.toContain(stranger.peerId.toString());
    expect(resolvedIds(result)).toEqual(providerIds());
    await announcer.stop({ signal: AbortSignal.timeout(5_000) });
    await p2p.stop();
  });

  it("a provider restarted from the same keystore keeps its PeerId, address and multiaddrs and re-announces", async () => {
    const i = echo.providers[1]!;
    const before = net.nodes[i]!;
    const beforeRecord = before.announcer.records().find((r) => r.serviceId === echo.id)!;
    const beforeAddrs = before.p2p.libp2p.getMultiaddrs().map(String);

    const after = await net.restart(i);
    expect(after.identity.peerId.toString()).toBe(before.identity.peerId.toString());
    expect(after.identity.address).toBe(before.identity.address);
    expect(after.p2p.libp2p.getMultiaddrs().map(String)).toEqual(beforeAddrs);
    expect(beforeAddrs.some((a) => a.includes("/udp/") && a.includes("/quic-v1/"))).toBe(true); // TCP and QUIC

    const record = await waitFor("the restarted node to re-announce echo", async () => {
      const r = after.announcer.records().find((x) => x.serviceId === echo.id && x.multiaddrs.length > 0);
      return r !== undefined && r.seq > beforeRecord.seq ? r : undefined;
    }, { timeoutMs: WAIT_MS, intervalMs: 100 });
    expect(record.seq).toBeGreaterThan(beforeRecord.seq);

    const resolved = await waitFor("node 4 to resolve the restarted provider's new record", async () => {
      const r = await far().resolver.refresh(echo.id, AbortSignal.timeout(WAIT_MS));
      const p = r.providers.find((x) => x.peerId === after.identity.peerId.toString());
      return p !== undefined && p.record.seq >= record.seq ? p : undefined;
    }, { timeoutMs: WAIT_MS, intervalMs: 200 });
    expect(resolved.multiaddrs).toEqual(beforeAddrs);
  });

  it("rejects malformed frames and oversized heads on the provider and the gateway, and stays up", async () => {
    const provider = net.nodes[echo.providers[0]!]!;
    const caller = net.nodes[2]!;

    /** Sends `bytes` on a fresh /dsmp/http stream; resolves once the provider has ended or reset it. */
    const sendRaw = async (bytes: Uint8Array) => {
      const stream = await caller.p2p.libp2p.dialProtocol(provider.identity.peerId, HTTP_PROTOCOL, { signal: AbortSignal.timeout(WAIT_MS) });
      stream.send(bytes);
      const received: number[] = [];
      const ended = (async () => {
        try {
          for await (const chunk of stream) received.push(...chunk.subarray());
          return "closed";
        } catch {
          return "reset";
        }
      })();
      const outcome = await Promise.race([
        ended,
        new Promise<string>((resolve) => setTimeout(() => resolve("hung"), 10_000).unref()),
      ]);
      stream.abort(new Error("test done"));
      return { outcome, received };
    };

    const tooLongPrefix = Uint8Array.of(0xff, 0xff, 0xff, 0x7f); // a 4-byte length prefix (max 3)
    const unknownType = Uint8Array.of(0x02, 0x7f, 0x00); // L = 2, frame type 0x7f
    const headPayload = new Uint8Array(16 * 1024 + 1).fill(0x7b); // REQUEST_HEAD over 16 KiB
    const hugeHead = Uint8Array.from([...uvarint(1 + 1 + headPayload.length), 0x01, 0x00, ...headPayload]);
    const notJsonHead = Uint8Array.of(0x05, 0x01, 0x00, 0x6e, 0x6f, 0x21); // REQUEST_HEAD "no!"
    // Each is answered with an ERROR frame (type 0x05) naming the problem, then the stream ends (§5.6).
    const cases = [
      { name: "4-byte length prefix", bytes: tooLongPrefix, code: "protocol-error" },
      { name: "unknown frame type", bytes: unknownType, code: "protocol-error" },
      { name: "head over 16 KiB", bytes: hugeHead, code: "head-too-large" },
      { name: "head not JSON", bytes: notJsonHead, code: "protocol-error" },
    ];
    for (const { name, bytes, code } of cases) {
      const { outcome, received } = await sendRaw(bytes);
      expect(outcome, name).toBe("closed");
      expect(received.slice(0, 6), name).toContain(0x05);
      expect(Buffer.from(received).toString("utf8"), name).toContain(`"code":"${code}"`);
    }

    // The gateway: a head over Node's and our limits, and bytes that are not HTTP.
    const big = await fetch(`${caller.gatewayUrl}/svc/${echo.id}/x`, { headers: { "x-pad": "a".repeat(20 * 1024) } });
    expect(big.status).toBe(431);
    const gw = new URL(caller.gatewayUrl);
    const garbage = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(gw.port), gw.hostname, () => socket.end("\x00\x01 NOT HTTP AT ALL\r\n\r\n"));
      let text = "";
      socket.setEncoding("utf8");
      socket.on("data", (chunk: string) => (text += chunk));
      socket.on("close", () => resolve(text));
      socket.on("error", reject);
      socket.setTimeout(10_000, () => socket.destroy(new Error("gateway did not answer garbage")));
    });
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);

    // Both nodes still serve.
    for (const node of [caller, provider]) {
      const res = await fetch(`${node.gatewayUrl}/svc/${echo.id}/after`, { method: "POST", body: "still up" });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("still up");
      expect((await fetch(`${node.apiUrl}/healthz`)).status).toBe(200);
    }
    expect(provider.p2p.libp2p.status).toBe("started");
  });
});
