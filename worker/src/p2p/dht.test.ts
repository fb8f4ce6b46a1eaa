import { generateKeyPair } from "@libp2p/crypto/keys";
import type { PeerId } from "@libp2p/interface";
import type { Selectors, Validators } from "@libp2p/kad-dht";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { fromString as bytes } from "uint8arrays/from-string";
import { toString as text } from "uint8arrays/to-string";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DsmpLibp2p } from "./libp2p-node.ts";
import { addressWith, isolateFrom, TestNodes, untilCondition } from "./p2p-test-harness.ts";

// A test namespace: values are "ok:<version>"; the highest version wins.
const NAMESPACE = "dsmp-test";
const strictValidators: Validators = {
  [NAMESPACE]: (_key, value) => {
    if (!/^ok:\d+$/.test(text(value))) throw new Error(`rejected value "${text(value)}"`);
  },
};
const permissiveValidators: Validators = { [NAMESPACE]: () => {} };
const selectors: Selectors = {
  [NAMESPACE]: (_key, records) => {
    const versions = records.map((record) => Number(text(record).split(":")[1] ?? -1));
    return versions.indexOf(Math.max(...versions));
  },
};

interface RoutingTableView {
  routingTable: EventTarget & { size: number };
}
const routingTableOf = (node: DsmpLibp2p): RoutingTableView["routingTable"] =>
  (node.libp2p.services.dht as unknown as RoutingTableView).routingTable;

describe("DSMP Kademlia DHT, 5 nodes in LAN mode bootstrapped as a chain", () => {
  const nodes = new TestNodes();
  let chain: DsmpLibp2p[] = [];

  beforeAll(async () => {
    // n0 is permissive about our namespace (it plays a node that stores anything); n4 never talks to n0.
    const n0 = await nodes.start({ dht: { validators: permissiveValidators, selectors } });
    chain = [n0];
    for (let i = 1; i < 5; i++) {
      const previous = chain[i - 1]!;
      const node = await nodes.start({
        privateKey: await generateKeyPair("secp256k1"),
        bootstrap: [addressWith(previous, "/tcp/").toString()],
        dht: { validators: strictValidators, selectors },
        ...(i === 4 ? { connectionGater: isolateFrom(n0.peerId) } : {}),
      });
      await untilCondition(
        `n${i} has its bootstrap peer in its routing table`,
        () => routingTableOf(node).size >= 1,
        routingTableOf(node),
        ["peer:add"],
      );
      chain.push(node);
    }
  });

  afterAll(() => nodes.stopAll());

  it("finds a provider that is reachable only through the bootstrap chain", async () => {
    const [provider, , , , seeker] = chain as [DsmpLibp2p, DsmpLibp2p, DsmpLibp2p, DsmpLibp2p, DsmpLibp2p];
    const cid = CID.create(1, raw.code, await sha256.digest(bytes("dsmp test service")));

    await provider.libp2p.contentRouting.provide(cid, { signal: AbortSignal.timeout(20_000) });
    expect(seeker.libp2p.getConnections(provider.peerId)).toHaveLength(0);

    let found: { id: PeerId; multiaddrs: unknown[] } | undefined;
    for await (const info of seeker.libp2p.contentRouting.findProviders(cid, { signal: AbortSignal.timeout(20_000) })) {
      if (info.id.equals(provider.peerId)) {
        found = info;
        break;
      }
    }

    expect(found?.id.toString()).toBe(provider.peerId.toString());
    expect(found?.multiaddrs.length).toBeGreaterThan(0); // LAN mode keeps the loopback address
    expect(seeker.libp2p.getConnections(provider.peerId)).toHaveLength(0);
  });

  it("puts and gets a record in our namespace; the selector picks the newest", async () => {
    const [, n1, n2, n3, n4] = chain as [DsmpLibp2p, DsmpLibp2p, DsmpLibp2p, DsmpLibp2p, DsmpLibp2p];
    const key = bytes(`/${NAMESPACE}/service-a`);

    const first = await n1.records.put(key, bytes("ok:1"), { signal: AbortSignal.timeout(20_000) });
    expect(first.storedOn).toBeGreaterThanOrEqual(1);
    expect(text((await n4.records.get(key, { signal: AbortSignal.timeout(20_000) }))!)).toBe("ok:1");

    await n2.records.put(key, bytes("ok:2"), { signal: AbortSignal.timeout(20_000) });
    expect(text((await n3.records.get(key, { signal: AbortSignal.timeout(20_000) }))!)).toBe("ok:2");
  });

  it("refuses a bad value locally, and peers refuse it from a node that skipped validation", async () => {
    const [n0, n1, , n3] = chain as [DsmpLibp2p, DsmpLibp2p, DsmpLibp2p, DsmpLibp2p];
    const key = bytes(`/${NAMESPACE}/service-b`);
    await n1.records.put(key, bytes("ok:7"), { signal: AbortSignal.timeout(20_000) });

    // an honest node: the validator throws before anything is sent
    await expect(n1.records.put(key, bytes("evil"))).rejects.toThrow('rejected value "evil"');

    // a node whose validator accepts anything stores it locally, but every strict peer refuses it
    const forged = await n0.records.put(key, bytes("evil"), { signal: AbortSignal.timeout(20_000) });
    expect(forged.storedOn).toBe(0);
    expect(forged.refusedBy).toBeGreaterThanOrEqual(1);

    // and a reader that reaches n0 (which answers "evil") still gets the valid record
    expect(text((await n3.records.get(key, { signal: AbortSignal.timeout(20_000) }))!)).toBe("ok:7");
  });

  it("refuses keys outside any registered namespace", async () => {
    await expect(chain[1]!.records.put(bytes("/unknown-ns/x"), bytes("ok:1"))).rejects.toThrow(/no DHT validator/);
    await expect(chain[1]!.records.put(bytes("no-namespace"), bytes("ok:1"))).rejects.toThrow(/missing a namespace/);
  });
});
