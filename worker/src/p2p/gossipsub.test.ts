import type { Message } from "@libp2p/gossipsub";
import { fromString as bytes } from "uint8arrays/from-string";
import { toString as text } from "uint8arrays/to-string";
import { afterEach, describe, expect, it } from "vitest";
import type { DsmpLibp2p } from "./libp2p-node.ts";
import { addressWith, isolateFrom, nextEvent, TestNodes, untilCondition } from "./p2p-test-harness.ts";

const TOPIC = "/dsmp/test/reports/1";

const nodes = new TestNodes();
afterEach(() => nodes.stopAll());

/** Resolves once `node` has `peer` in its mesh for TOPIC. */
function meshed(node: DsmpLibp2p, peer: DsmpLibp2p): Promise<void> {
  const pubsub = node.libp2p.services.pubsub;
  return untilCondition(
    `${node.peerId.toString()} grafted ${peer.peerId.toString()}`,
    () => pubsub.getSubscribers(TOPIC).some((subscriber) => subscriber.equals(peer.peerId)),
    pubsub,
    ["subscription-change", "gossipsub:graft", "gossipsub:heartbeat"],
  );
}

describe("gossipsub", () => {
  it("delivers a signed message to a subscriber two hops away", async () => {
    // a line: publisher — middle — subscriber; the ends refuse each other (the DHT would otherwise introduce them)
    const gossip = { gossipsub: { heartbeatInterval: 100 } };
    const publisher = await nodes.start(gossip);
    const middle = await nodes.start({ ...gossip, bootstrap: [addressWith(publisher, "/tcp/").toString()] });
    const subscriber = await nodes.start({
      ...gossip,
      bootstrap: [addressWith(middle, "/tcp/").toString()],
      connectionGater: isolateFrom(publisher.peerId),
    });
    for (const node of [publisher, middle, subscriber]) node.libp2p.services.pubsub.subscribe(TOPIC);

    const grafted = nextEvent<{ peerId: string; topic: string }>(
      middle.libp2p.services.pubsub,
      "gossipsub:graft",
      (graft) => graft.peerId === subscriber.peerId.toString() && graft.topic === TOPIC,
    );
    await Promise.all([meshed(publisher, middle), meshed(middle, subscriber), grafted]);

    const received = nextEvent<Message>(subscriber.libp2p.services.pubsub, "message", (message) => message.topic === TOPIC);
    await publisher.libp2p.services.pubsub.publish(TOPIC, bytes("load report 1"));
    const message = await received;

    expect(text(message.data)).toBe("load report 1");
    expect(message.type).toBe("signed");
    if (message.type !== "signed") return;
    expect(message.from.equals(publisher.peerId)).toBe(true);
    expect(message.signature.length).toBeGreaterThan(0);
    expect(message.key.equals(publisher.libp2p.peerId.publicKey!)).toBe(true);
    expect(subscriber.libp2p.getConnections(publisher.peerId)).toHaveLength(0);
  });

  it("runs with StrictSign whatever the caller's options say", async () => {
    const node = await nodes.start({ gossipsub: { heartbeatInterval: 100 } });
    expect(node.libp2p.services.pubsub.globalSignaturePolicy).toBe("StrictSign");
  });
});
