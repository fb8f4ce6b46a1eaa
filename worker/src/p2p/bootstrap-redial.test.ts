import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import type { PeerId } from "@libp2p/interface";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../../../scripts/lib/hardhat-node.ts";
import { BOOTSTRAP_REDIAL_MAX_MS, BOOTSTRAP_REDIAL_MIN_MS, bootstrapRedialDelay } from "./bootstrap-redial.ts";
import { nextEvent, TEST_WAIT_MS, TestNodes, untilCondition } from "./p2p-test-harness.ts";

const nodes = new TestNodes();
afterEach(async () => nodes.stopAll());

describe("bootstrapRedialDelay", () => {
  it.each([
    [0, BOOTSTRAP_REDIAL_MIN_MS],
    [1, 2 * BOOTSTRAP_REDIAL_MIN_MS],
    [3, 8 * BOOTSTRAP_REDIAL_MIN_MS],
    [6, BOOTSTRAP_REDIAL_MAX_MS], // 64 s capped at 60 s
    [1_000, BOOTSTRAP_REDIAL_MAX_MS], // no overflow to Infinity
  ])("attempt %i waits %i ms", (attempt, expected) => {
    expect(bootstrapRedialDelay(attempt)).toBe(expected);
  });
});

describe("bootstrap re-dial (real libp2p on 127.0.0.1)", () => {
  it("a node whose bootstrap peer was not up at its start connects once the peer comes up", async () => {
    // The bootstrap peer's key and port are fixed up front; it starts only after the node's one-shot
    // @libp2p/bootstrap dial has failed.
    const key = await generateKeyPair("secp256k1");
    const bootstrapId = peerIdFromPrivateKey(key);
    const port = await freePort();
    const address = `/ip4/127.0.0.1/tcp/${port}/p2p/${bootstrapId.toString()}`;
    const node = await nodes.start({ bootstrap: [address] });
    // The one-shot bootstrap dial has failed once the service made its first re-dial (1 s after start), also failed.
    const redial = node.libp2p.services.bootstrapRedial!;
    const deadline = Date.now() + TEST_WAIT_MS;
    while (redial.redials < 1) {
      if (Date.now() > deadline) throw new Error("no re-dial within the test's wait");
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(node.libp2p.getConnections()).toHaveLength(0);

    const connected = nextEvent<PeerId>(node.libp2p, "peer:connect", (remote) => remote.equals(bootstrapId), TEST_WAIT_MS);
    const peer = await nodes.start({ privateKey: key, listen: [`/ip4/127.0.0.1/tcp/${port}`] });
    expect(peer.peerId.equals(bootstrapId)).toBe(true);
    await connected;
    // Connected by a re-dial (the second, 2 s after the first), not by the one-shot dial.
    expect(redial.redials).toBeGreaterThanOrEqual(2);
  });

  it("a node that loses its last connection dials its bootstrap peer again", async () => {
    const peer = await nodes.start();
    const address = peer.libp2p.getMultiaddrs().find((a) => a.toString().includes("/tcp/"))!.toString();
    const node = await nodes.start({ bootstrap: [address] });
    await untilCondition("the first (bootstrap) connection", () => node.libp2p.getConnections(peer.peerId).length > 0, node.libp2p, ["peer:connect"]);
    const before = node.libp2p.services.bootstrapRedial!.redials;
    const again = nextEvent<PeerId>(node.libp2p, "peer:connect", (remote) => remote.equals(peer.peerId), TEST_WAIT_MS);
    await node.libp2p.hangUp(peer.peerId);
    await again;
    expect(node.libp2p.services.bootstrapRedial!.redials).toBeGreaterThan(before);
  });
});
