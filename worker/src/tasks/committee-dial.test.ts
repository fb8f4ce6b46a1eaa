import { bytesToHex, type Address, type Hex } from "viem";
import { afterAll, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log.ts";
import { addressWith, TEST_WAIT_MS, TestNodes, untilCondition } from "../p2p/p2p-test-harness.ts";
import { dialCommittee, peerIdFromRegistry } from "./committee-dial.ts";

const nodes = new TestNodes();
afterAll(async () => nodes.stopAll());

const A_ADDR: Address = "0x000000000000000000000000000000000000000a";
const C_ADDR: Address = "0x000000000000000000000000000000000000000c";
const UNKNOWN: Address = "0x00000000000000000000000000000000000000ff";

describe("dialCommittee (real libp2p on 127.0.0.1)", () => {
  it("connects two members joined only through a non-member, by the registry's PeerId bytes (DHT lookup)", async () => {
    // A line: a — b — c. b is not in the committee; a and c have never met.
    const b = await nodes.start();
    const a = await nodes.start({ bootstrap: [addressWith(b, "/tcp/").toString()] });
    const c = await nodes.start({ bootstrap: [addressWith(b, "/tcp/").toString()] });
    await untilCondition("a and c connected to b", () => a.libp2p.getConnections(b.peerId).length > 0 && c.libp2p.getConnections(b.peerId).length > 0, b.libp2p, ["peer:connect"]);
    // a must neither hold a connection to c nor know c's addresses (the DHT may have introduced them): then only
    // a DHT lookup through b can find c.
    if (a.libp2p.getConnections(c.peerId).length > 0) await a.libp2p.hangUp(c.peerId);
    await a.libp2p.peerStore.delete(c.peerId);
    expect(a.libp2p.getConnections(c.peerId)).toHaveLength(0);
    expect(await a.libp2p.peerStore.has(c.peerId)).toBe(false);

    const registry = new Map<Address, Hex>([
      [C_ADDR, bytesToHex(c.peerId.toMultihash().bytes)],
      [A_ADDR, bytesToHex(a.peerId.toMultihash().bytes)],
    ]);
    expect(peerIdFromRegistry(registry.get(C_ADDR)!).equals(c.peerId)).toBe(true);
    const dials = dialCommittee(a.libp2p, [C_ADDR, UNKNOWN], (m) => registry.get(m), AbortSignal.timeout(TEST_WAIT_MS), createSilentLogger());
    expect(dials).toHaveLength(1); // the unknown member is skipped
    await Promise.all(dials);
    expect(a.libp2p.getConnections(c.peerId).length).toBeGreaterThan(0);
    // Already connected: nothing to dial.
    expect(dialCommittee(a.libp2p, [C_ADDR], (m) => registry.get(m), AbortSignal.timeout(TEST_WAIT_MS), createSilentLogger())).toHaveLength(0);
  });

  it("an unreachable member is logged, not thrown", async () => {
    const a = await nodes.start();
    const gone = await nodes.start();
    const hex = bytesToHex(gone.peerId.toMultihash().bytes);
    await gone.stop();
    const dials = dialCommittee(a.libp2p, [C_ADDR], () => hex, AbortSignal.timeout(3_000), createSilentLogger());
    expect(dials).toHaveLength(1);
    await expect(dials[0]).resolves.toBeUndefined();
    expect(a.libp2p.getConnections(gone.peerId)).toHaveLength(0);
  });
});
