import type { Connection } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { afterEach, describe, expect, it } from "vitest";
import type { DsmpLibp2p } from "./libp2p-node.ts";
import { addressWith, TestNodes, untilCondition } from "./p2p-test-harness.ts";
import { EPHEMERAL_TRANSPORT_PORTS, listenAddressesFor, type TransportName } from "./transports.ts";

const nodes = new TestNodes();
afterEach(() => nodes.stopAll());

async function dialWithRetries(node: DsmpLibp2p, target: Multiaddr, attempts: number, timeoutMs: number): Promise<Connection> {
  const errors: unknown[] = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      return await node.libp2p.dial(target, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      errors.push(err);
    }
  }
  throw new AggregateError(errors, `${attempts} dials to ${target.toString()} failed`);
}

describe("listenAddressesFor", () => {
  it("maps each transport to its listen multiaddr", () => {
    expect(listenAddressesFor("127.0.0.1", ["tcp", "websockets", "quic", "webrtc-direct", "webrtc"], EPHEMERAL_TRANSPORT_PORTS)).toEqual([
      "/ip4/127.0.0.1/tcp/0",
      "/ip4/127.0.0.1/tcp/0/ws",
      "/ip4/127.0.0.1/udp/0/quic-v1",
      "/ip4/127.0.0.1/udp/0/webrtc-direct",
      "/webrtc",
    ]);
  });

  it("uses the fixed default ports when none are given", () => {
    expect(listenAddressesFor("0.0.0.0", ["tcp", "quic", "websockets"])).toEqual([
      "/ip4/0.0.0.0/tcp/4660",
      "/ip4/0.0.0.0/udp/4660/quic-v1",
      "/ip4/0.0.0.0/tcp/4661/ws",
    ]);
  });
});

describe("two nodes dial each other and ping", () => {
  const direct: Array<{ transport: TransportName; fragment: string }> = [
    { transport: "tcp", fragment: "/tcp/" },
    { transport: "websockets", fragment: "/ws" },
    { transport: "quic", fragment: "/quic-v1" },
    { transport: "webrtc-direct", fragment: "/webrtc-direct" },
  ];

  for (const { transport, fragment } of direct) {
    it(`over ${transport}`, async () => {
      const listener = await nodes.start({ transports: [transport] });
      const dialler = await nodes.start({ transports: [transport], listen: [] });
      const target = addressWith(listener, fragment);

      const rtt = await dialler.libp2p.services.ping.ping(target, { signal: AbortSignal.timeout(10_000) });

      expect(rtt).toBeGreaterThanOrEqual(0);
      const connections = dialler.libp2p.getConnections(listener.peerId);
      expect(connections.map((connection) => connection.remoteAddr.toString())).toEqual([target.toString()]);
      // and back: the listener pings the dialler over the same connection
      await listener.libp2p.services.ping.ping(dialler.peerId, { signal: AbortSignal.timeout(10_000) });
    });
  }

  it("over webrtc (SDP exchanged through a circuit relay, then a direct connection)", async () => {
    const relay = await nodes.start({ transports: ["tcp"], relay: { enabled: true } });
    const relayAddr = addressWith(relay, "/tcp/").toString();
    const listener = await nodes.start({
      transports: ["tcp", "webrtc"],
      listen: [`${relayAddr}/p2p-circuit`, "/webrtc"],
    });
    await untilCondition(
      "a /webrtc address on the listener",
      () => listener.libp2p.getMultiaddrs().some((address) => address.toString().includes("/webrtc")),
      listener.libp2p,
      ["self:peer:update"],
    );
    const dialler = await nodes.start({ transports: ["tcp", "webrtc"], listen: [] });
    const target = addressWith(listener, "/p2p-circuit/webrtc");

    // Up to 3 bounded attempts, not 1: on this machine 5–13% of WebRTC dials stall because
    // node-datachannel drops the responder's ICE candidates ("Got a remote candidate without ICE
    // transport") and ICE never completes (measured in docs/p2p.md). A dial that works takes
    // 0.1–1.4 s, so 4 s per attempt bounds the test without hiding a transport that never works.
    const connection = await dialWithRetries(dialler, target, 3, 4_000);
    expect(connection.remoteAddr.toString()).toContain("/webrtc");
    await dialler.libp2p.services.ping.ping(target, { signal: AbortSignal.timeout(10_000) });

    const webrtc = dialler.libp2p
      .getConnections(listener.peerId)
      .filter((connection) => connection.remoteAddr.toString().includes("/webrtc"));
    expect(webrtc).toHaveLength(1);
    expect(webrtc[0]!.limits).toBeUndefined(); // direct: no relay limits
  });
});
