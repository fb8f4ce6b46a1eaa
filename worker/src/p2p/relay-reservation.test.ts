import { multiaddr } from "@multiformats/multiaddr";
import { afterEach, describe, expect, it } from "vitest";
import { addressWith, TestNodes, untilCondition } from "./p2p-test-harness.ts";
import { reachabilityOf, type OwnAddress, type Reachability } from "./relay-reservation.ts";

const RELAY = "/ip4/203.0.114.7/tcp/4100/p2p/16Uiu2HAmExuwReT97rLscGrqmeMoGAZAAErmaiUK6VmAGQoneVzN";
const address = (text: string, verified = true): OwnAddress => ({ multiaddr: multiaddr(text), verified });

describe("reachabilityOf", () => {
  const cases: Array<[string, OwnAddress[], Reachability]> = [
    ["no addresses", [], "unreachable"],
    ["only loopback and private LAN addresses", [address("/ip4/127.0.0.1/tcp/4100"), address("/ip4/192.168.1.5/tcp/4100")], "unreachable"],
    ["a public address AutoNAT has not confirmed", [address("/ip4/93.184.216.34/tcp/4100", false)], "unreachable"],
    ["a confirmed public address", [address("/ip4/93.184.216.34/tcp/4100")], "public"],
    ["a confirmed public QUIC address", [address("/ip4/93.184.216.34/udp/4100/quic-v1")], "public"],
    ["a public DNS name", [address("/dns4/xnode.example.org/tcp/4100")], "public"],
    ["a relay reservation (its public IP is the relay's, not ours)", [address(`${RELAY}/p2p-circuit`)], "relayed"],
    ["a reservation and a confirmed public address", [address(`${RELAY}/p2p-circuit`), address("/ip4/93.184.216.34/tcp/4100")], "public"],
  ];
  for (const [name, addresses, expected] of cases) {
    it(`${name} → ${expected}`, () => {
      expect(reachabilityOf(addresses)).toBe(expected);
    });
  }
});

describe("auto relay reservation", () => {
  const nodes = new TestNodes();
  afterEach(() => nodes.stopAll());

  it("reserves on a relay when the node has no public address", async () => {
    const relay = await nodes.start({ relay: { enabled: true } });
    const node = await nodes.start({
      bootstrap: [addressWith(relay, "/tcp/").toString()],
      relayClient: { reserve: "auto", autoGraceMs: 20 },
    });

    await untilCondition(
      "a relayed address",
      () => node.libp2p.getMultiaddrs().some((address) => address.toString().includes("/p2p-circuit")),
      node.libp2p,
      ["self:peer:update"],
    );
    expect(node.libp2p.services.relayReservation?.searching).toBe(true);
    expect(relay.libp2p.services.relay?.reservations.has(node.peerId)).toBe(true);
  });

  it("takes no reservation when a public address is announced", async () => {
    const relay = await nodes.start({ relay: { enabled: true } });
    const node = await nodes.start({
      announce: ["/ip4/93.184.216.34/tcp/4100"],
      bootstrap: [addressWith(relay, "/tcp/").toString()],
      relayClient: { reserve: "auto", autoGraceMs: 60_000 },
    });

    expect(await node.libp2p.services.relayReservation!.check()).toBe("public");
    expect(node.libp2p.services.relayReservation!.searching).toBe(false);
    expect(relay.libp2p.services.relay?.reservations.has(node.peerId)).toBe(false);
  });

  it("is not installed in LAN mode unless asked for", async () => {
    const node = await nodes.start();
    expect(node.libp2p.services.relayReservation).toBeUndefined();
  });
});
