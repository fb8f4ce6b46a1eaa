import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DSMP_DHT_NAMESPACE, parseServiceRecordKey, serviceKeyString, serviceProviderCid, serviceRecordKey } from "./dht-keys.ts";
import { CHAIN_ID, NODE_A, REGISTRY } from "./service-record.fixture.ts";

const CHECKSUMMED_REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3";

describe("service provider key", () => {
  it("hashes dsmp/service/<chainId>/<registry lowercase>/<serviceId>", () => {
    expect(serviceKeyString({ chainId: CHAIN_ID, registry: CHECKSUMMED_REGISTRY, serviceId: 1n })).toBe(
      `dsmp/service/31337/${REGISTRY}/1`,
    );
  });

  it("is a CIDv1, raw codec, sha2-256 of that string, whatever the address case", () => {
    const cid = serviceProviderCid({ chainId: CHAIN_ID, registry: CHECKSUMMED_REGISTRY, serviceId: 1n });
    expect(cid.version).toBe(1);
    expect(cid.code).toBe(0x55);
    expect(cid.multihash.code).toBe(0x12);
    expect(Buffer.from(cid.multihash.digest)).toEqual(createHash("sha256").update(`dsmp/service/31337/${REGISTRY}/1`).digest());
    expect(cid.equals(serviceProviderCid({ chainId: CHAIN_ID, registry: REGISTRY, serviceId: 1n }))).toBe(true);
  });

  it("differs between services, chains and registries", () => {
    const keys = [
      { chainId: 1, registry: REGISTRY, serviceId: 1n },
      { chainId: 2, registry: REGISTRY, serviceId: 1n },
      { chainId: 1, registry: NODE_A.address, serviceId: 1n },
      { chainId: 1, registry: REGISTRY, serviceId: 2n },
      { chainId: 11, registry: REGISTRY, serviceId: 1n },
    ].map((locator) => serviceProviderCid(locator).toString());
    expect(new Set(keys).size).toBe(keys.length);
  });

  it.each([
    { chainId: 0, registry: REGISTRY, serviceId: 1n },
    { chainId: 1.5, registry: REGISTRY, serviceId: 1n },
    { chainId: 1, registry: "0x1234" as const, serviceId: 1n },
    { chainId: 1, registry: REGISTRY, serviceId: -1n },
    { chainId: 1, registry: REGISTRY, serviceId: 2n ** 256n },
  ])("refuses %o", (locator) => {
    expect(() => serviceProviderCid(locator)).toThrow(RangeError);
  });
});

describe("service record key", () => {
  const peerId = NODE_A.peerId.toString();

  it("is /dsmp/service/<chainId>/<registry>/<serviceId>/<peerId>, in the dsmp namespace", () => {
    const key = serviceRecordKey({ chainId: CHAIN_ID, registry: CHECKSUMMED_REGISTRY, serviceId: 7n, peerId });
    const text = new TextDecoder().decode(key);
    expect(text).toBe(`/dsmp/service/31337/${REGISTRY}/7/${peerId}`);
    // kad-dht picks the validator and selector by the first path segment
    expect(text.split("/")[1]).toBe(DSMP_DHT_NAMESPACE);
  });

  it("parses back", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }), (chainId, serviceId) => {
        const parts = { chainId, registry: REGISTRY, serviceId, peerId };
        expect(parseServiceRecordKey(serviceRecordKey(parts))).toEqual(parts);
      }),
    );
  });

  it.each([
    `/ipns/service/31337/${REGISTRY}/7/PEER`,
    `/dsmp/service/31337/${CHECKSUMMED_REGISTRY}/7/16Uiu2`,
    `/dsmp/service/031337/${REGISTRY}/7/16Uiu2`,
    `/dsmp/service/31337/${REGISTRY}/07/16Uiu2`,
    `/dsmp/service/31337/${REGISTRY}/7/16Uiu2/extra`,
    `/dsmp/service/31337/${REGISTRY}/7/`,
    `/dsmp/service/31337/${REGISTRY}/7/0OIl`,
    `/dsmp/service/0/${REGISTRY}/7/16Uiu2`,
    `/dsmp/service/99999999999999999/${REGISTRY}/7/16Uiu2`,
    `/dsmp/service/31337/${REGISTRY}/${2n ** 256n}/16Uiu2`,
  ])("does not parse %s", (text) => {
    expect(parseServiceRecordKey(new TextEncoder().encode(text))).toBeUndefined();
  });

  it("does not parse invalid UTF-8", () => {
    expect(parseServiceRecordKey(Uint8Array.of(0x2f, 0xff, 0xfe))).toBeUndefined();
  });
});
