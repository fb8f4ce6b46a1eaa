// Service discovery end to end on the real pieces: the DSMP libp2p node, the service record codec and
// its kad-dht validator/selector, and the DHT keys (whitepaper §3.1: a key per service, mapping to its
// network location and metadata).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RecordInvalidError } from "../errors.ts";
import { serviceProviderCid, serviceRecordKey, type ServiceLocator } from "./dht-keys.ts";
import type { DsmpLibp2p } from "./libp2p-node.ts";
import { addressWith, TestNodes } from "./p2p-test-harness.ts";
import { dsmpDhtSelectors, dsmpDhtValidators } from "./service-record-dht.ts";
import { CHAIN_ID, NODE_A, NODE_B, NOW, REGISTRY, signedRecordOf } from "./service-record.fixture.ts";
import { decodeServiceRecord, encodeServiceRecord } from "./service-record.ts";

const locator: ServiceLocator = { chainId: CHAIN_ID, registry: REGISTRY, serviceId: 1n };
const dht = {
  validators: dsmpDhtValidators({ clock: () => NOW, chainId: CHAIN_ID, registry: REGISTRY }),
  selectors: dsmpDhtSelectors(),
};
const bounded = () => ({ signal: AbortSignal.timeout(20_000) });

describe("service discovery over the DSMP DHT", () => {
  const nodes = new TestNodes();
  let provider: DsmpLibp2p;
  let consumer: DsmpLibp2p;

  beforeAll(async () => {
    // provider (NODE_A's key) — middle — consumer
    provider = await nodes.start({ privateKey: NODE_A.privateKey, dht });
    const middle = await nodes.start({ dht, bootstrap: [addressWith(provider, "/tcp/").toString()] });
    consumer = await nodes.start({ dht, bootstrap: [addressWith(middle, "/tcp/").toString()] });
  });

  afterAll(() => nodes.stopAll());

  it("a consumer finds the provider of a service and reads its signed record", async () => {
    const key = serviceRecordKey({ ...locator, peerId: provider.peerId.toString() });
    await provider.libp2p.contentRouting.provide(serviceProviderCid(locator), bounded());
    const put = await provider.records.put(key, encodeServiceRecord(await signedRecordOf(NODE_A)), bounded());
    expect(put.storedOn).toBeGreaterThanOrEqual(1);

    let found: string | undefined;
    for await (const info of consumer.libp2p.contentRouting.findProviders(serviceProviderCid(locator), bounded())) {
      found = info.id.toString();
      break;
    }
    expect(found).toBe(NODE_A.peerId.toString());

    const value = await consumer.records.get(serviceRecordKey({ ...locator, peerId: found! }), bounded());
    const record = decodeServiceRecord(value!);
    expect(record.peerId).toBe(NODE_A.peerId.toString());
    expect(record.multiaddrs).toContain("/ip4/127.0.0.1/tcp/4660");
  });

  it("the newest record (highest seq) wins", async () => {
    const key = serviceRecordKey({ ...locator, peerId: provider.peerId.toString() });
    await provider.records.put(key, encodeServiceRecord(await signedRecordOf(NODE_A, { seq: 2n, load: 9000 })), bounded());

    const record = decodeServiceRecord((await consumer.records.get(key, bounded()))!);
    expect(record.seq).toBe(2n);
    expect(record.load).toBe(9000);
  });

  it("refuses a record signed by another node for the provider's key", async () => {
    const key = serviceRecordKey({ ...locator, peerId: provider.peerId.toString() });
    const forged = encodeServiceRecord(await signedRecordOf(NODE_B, { peerId: NODE_A.peerId.toString(), seq: 99n }));

    await expect(consumer.records.put(key, forged, bounded())).rejects.toBeInstanceOf(RecordInvalidError);
    expect(decodeServiceRecord((await consumer.records.get(key, bounded()))!).seq).toBe(2n);
  });
});
