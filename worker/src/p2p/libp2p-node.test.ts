import { generateKeyPair } from "@libp2p/crypto/keys";
import { hexToBytes } from "viem";
import { afterEach, describe, expect, it } from "vitest";
import { devnetPreset, resolveConfig } from "../config.ts";
import { identityFromPrivateKey } from "../identity/node-identity.ts";
import { createDsmpLibp2p, DSMP_KAD_PROTOCOL, kadProtocolFor, libp2pInitFromConfig, libp2pOptionsFor } from "./libp2p-node.ts";
import { addressWith, nextEvent, TestNodes } from "./p2p-test-harness.ts";
import { EPHEMERAL_TRANSPORT_PORTS, listenAddressesFor } from "./transports.ts";

const nodes = new TestNodes();
afterEach(() => nodes.stopAll());

describe("libp2pOptionsFor", () => {
  it("listens on every transport at the default ports, plus what the relay client needs", async () => {
    const privateKey = await generateKeyPair("secp256k1");
    const relay = "/ip4/203.0.114.7/tcp/4100/p2p/16Uiu2HAmExuwReT97rLscGrqmeMoGAZAAErmaiUK6VmAGQoneVzN";

    expect(libp2pOptionsFor({ privateKey }).addresses?.listen).toEqual([
      "/ip4/0.0.0.0/udp/4660/quic-v1",
      "/ip4/0.0.0.0/tcp/4660",
      "/ip4/0.0.0.0/tcp/4661/ws",
      "/ip4/0.0.0.0/udp/4661/webrtc-direct",
      "/webrtc",
    ]);
    expect(
      libp2pOptionsFor({ privateKey, listen: [], relayClient: { reserve: "always", relays: [relay] } }).addresses?.listen,
    ).toEqual(["/p2p-circuit", `${relay}/p2p-circuit`]);
  });

  it("turns the NAT services on for WAN and off for LAN", async () => {
    const privateKey = await generateKeyPair("secp256k1");
    const services = (network: "lan" | "wan") => Object.keys(libp2pOptionsFor({ privateKey, network }).services ?? {}).sort();

    expect(services("wan")).toEqual(["autonat", "dcutr", "dht", "identify", "ping", "pubsub", "relayReservation"]);
    expect(services("lan")).toEqual(["dht", "identify", "ping", "pubsub"]);
    expect(Object.keys(libp2pOptionsFor({ privateKey, dataDir: "/tmp/x", relay: { enabled: true } }).services ?? {})).toEqual(
      expect.arrayContaining(["peerPersistence", "relay"]),
    );
  });
});

describe("libp2pInitFromConfig", () => {
  it("maps the resolved config's node and p2p sections", () => {
    const config = resolveConfig({ env: { HOME: "/home/op" }, preset: devnetPreset(2) });
    const init = libp2pInitFromConfig(config);
    expect(init).toMatchObject({
      network: config.p2p.dhtMode,
      protocolPrefix: config.p2p.protocolPrefix,
      listen: config.p2p.listen,
      bootstrap: config.p2p.bootstrap,
      dataDir: config.node.dataDir,
    });
    expect(init.network).toBe("lan");
    expect(init.announce).toBeUndefined();
  });
});

describe("createDsmpLibp2p", () => {
  it("starts a WAN node with every transport and serves the DSMP DHT protocol, not IPFS's", async () => {
    const node = await nodes.start({
      network: "wan",
      transports: ["tcp", "websockets", "quic", "webrtc-direct", "webrtc"],
      relayClient: { reserve: "auto", autoGraceMs: 60_000 },
      nat: {},
    });

    expect(node.libp2p.status).toBe("started");
    expect(node.libp2p.getProtocols()).toContain(DSMP_KAD_PROTOCOL);
    expect(node.libp2p.getProtocols()).not.toContain("/ipfs/kad/1.0.0");
    expect(node.libp2p.services.dht.getMode()).toBe("server");
    const addrs = node.libp2p.getMultiaddrs().map(String);
    for (const fragment of ["/tcp/", "/ws/", "/quic-v1/", "/webrtc-direct/"]) {
      expect(addrs.some((address) => address.includes(fragment))).toBe(true);
    }
  });

  it("takes the node identity's key: the libp2p PeerId is the identity's PeerId", async () => {
    // Hardhat's well-known dev account #0: a public test key, never a real one
    const identity = identityFromPrivateKey(
      hexToBytes("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"),
    );
    const node = await nodes.start({ privateKey: identity.privateKey });
    expect(node.peerId.type).toBe("secp256k1");
    expect(node.peerId.equals(identity.peerId)).toBe(true);
  });

  it("answers back-to-back pings on one connection", async () => {
    const a = await nodes.start();
    const b = await nodes.start({ listen: [] });
    await b.libp2p.dial(addressWith(a, "/tcp/"));
    for (let i = 0; i < 20; i++) {
      await b.libp2p.services.ping.ping(a.peerId, { signal: AbortSignal.timeout(5_000) });
    }
    expect(b.libp2p.getConnections(a.peerId)).toHaveLength(1);
  });

  it("serves the DHT under the configured protocol prefix", async () => {
    const node = await nodes.start({ protocolPrefix: "/dsmp-devnet" });
    expect(node.libp2p.getProtocols()).toContain("/dsmp-devnet/kad/1.0.0");
    expect(kadProtocolFor("/dsmp-devnet")).toBe("/dsmp-devnet/kad/1.0.0");
  });

  it("returns an unstarted node with start: false, and can restart after stop", async () => {
    const node = await nodes.start({ start: false });
    expect(node.libp2p.status).toBe("stopped");
    await node.start();
    expect(node.libp2p.status).toBe("started");
    await node.stop();
    await node.start();
    expect(node.libp2p.status).toBe("started");
  });

  it("stops when its AbortSignal fires", async () => {
    const controller = new AbortController();
    const node = await nodes.start({ signal: controller.signal });
    const stopped = nextEvent(node.libp2p, "stop");
    controller.abort();
    await stopped;
    expect(node.libp2p.status).toBe("stopped");
  });

  it("refuses to start on an already aborted signal", async () => {
    await expect(
      createDsmpLibp2p({
        privateKey: await generateKeyPair("secp256k1"),
        network: "lan",
        listen: listenAddressesFor("127.0.0.1", ["tcp"], EPHEMERAL_TRANSPORT_PORTS),
        transports: ["tcp"],
        signal: AbortSignal.abort(new Error("shutting down")),
      }),
    ).rejects.toThrow("shutting down");
  });

  it("fails to start when its listen address is taken, leaving nothing running", async () => {
    const first = await nodes.start();
    const taken = addressWith(first, "/tcp/").decapsulate("/p2p").toString();
    await expect(
      createDsmpLibp2p({ privateKey: await generateKeyPair("secp256k1"), network: "lan", transports: ["tcp"], listen: [taken] }),
    ).rejects.toThrow();
  });
});
