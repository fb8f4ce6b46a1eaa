import fc from "fast-check";
import { type Hex, numberToHex } from "viem";
import { describe, expect, it } from "vitest";
import { RecordInvalidError, type RecordInvalidReason } from "../errors.ts";
import { SECP256K1_ORDER } from "../identity/node-identity.ts";
import { serviceRecordKey } from "./dht-keys.ts";
import {
  decodeServiceRecord,
  encodeServiceRecord,
  hashServiceRecord,
  MAX_LOAD_BPS,
  SERVICE_RECORD_MAX_BYTES,
  SERVICE_RECORD_MAX_LIFETIME_SECONDS,
  selectServiceRecord,
  serviceRecordTypedData,
  signServiceRecord,
  validateServiceRecord,
  type ServiceRecord,
  type ServiceRecordCandidate,
  type SignedServiceRecord,
} from "./service-record.ts";
import { CHAIN_ID, NODE_A, NODE_B, NOW, recordOf, REGISTRY, signedRecordOf } from "./service-record.fixture.ts";

async function reasonOf(promise: Promise<unknown>): Promise<RecordInvalidReason | "valid"> {
  try {
    await promise;
    return "valid";
  } catch (error) {
    if (error instanceof RecordInvalidError) return error.reason;
    throw error;
  }
}

const reasonOfSync = (f: () => unknown) => reasonOf(Promise.resolve().then(f));
const encodeJson = (value: unknown) => new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
const jsonOf = (record: SignedServiceRecord) => JSON.parse(new TextDecoder().decode(encodeServiceRecord(record))) as Record<string, unknown>;

const plainString = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(..."abcXYZ019./:-_~!#$%&'()*+,;<=>?@[]^`{|}"), minLength: min, maxLength: max });

const recordFields = fc.record({
  serviceId: fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
  multiaddrs: fc.array(plainString(0, 40).map((s) => `/${s}`), { maxLength: 4 }),
  version: plainString(1, 20),
  load: fc.integer({ min: 0, max: MAX_LOAD_BPS }),
  pricePerCall: fc.bigInt({ min: 0n, max: 2n ** 256n - 1n }),
  seq: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  expiresAt: fc.integer({ min: NOW + 1, max: NOW + SERVICE_RECORD_MAX_LIFETIME_SECONDS }),
});

describe("service record: codec", () => {
  it("round-trips any valid record, and the bytes are canonical", async () => {
    await fc.assert(
      fc.asyncProperty(recordFields, async (fields) => {
        const signed = await signServiceRecord(recordOf(NODE_A, fields), NODE_A.account);
        const bytes = encodeServiceRecord(signed);
        expect(bytes.length).toBeLessThanOrEqual(SERVICE_RECORD_MAX_BYTES);
        expect(decodeServiceRecord(bytes)).toEqual(signed);
        expect(encodeServiceRecord(decodeServiceRecord(bytes))).toEqual(bytes);
        expect(await validateServiceRecord(bytes, { now: NOW })).toEqual(signed);
      }),
      { numRuns: 100 },
    );
  });

  it("writes the fields in the fixed order, integers above 2^53 as strings", async () => {
    const signed = await signedRecordOf(NODE_A);
    expect(Object.keys(jsonOf(signed))).toEqual([
      "chainId", "registry", "serviceId", "node", "peerId", "multiaddrs", "version", "load", "pricePerCall", "seq", "expiresAt", "signature",
    ]);
    expect(jsonOf(signed)).toMatchObject({ chainId: 31337, serviceId: "1", pricePerCall: "1000000000000000", seq: "1", node: NODE_A.address.toLowerCase() });
  });

  it("never throws anything but RecordInvalidError on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.json().map((j) => encodeJson(j))), (bytes) => {
        try {
          decodeServiceRecord(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(RecordInvalidError);
        }
      }),
    );
  });

  it("any single changed byte is rejected or means the same record", async () => {
    const signed = await signedRecordOf(NODE_A, { multiaddrs: ["/ip4/10.0.0.1/tcp/4660"], seq: 42n });
    const bytes = encodeServiceRecord(signed);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (index, delta) => {
        const mutated = bytes.slice();
        mutated[index] = (mutated[index]! + delta) % 256;
        let result: SignedServiceRecord | undefined;
        try {
          result = await validateServiceRecord(mutated, { now: NOW });
        } catch (error) {
          expect(error).toBeInstanceOf(RecordInvalidError);
          return;
        }
        expect(result).toEqual(signed); // accepted only if it still means exactly the signed record
      }),
      { numRuns: 600 },
    );
  });

  const nonCanonical: [string, (json: string, r: Record<string, unknown>) => string][] = [
    ["whitespace", (json) => json.replace(",", ", ")],
    ["pretty-printed", (_j, r) => JSON.stringify(r, null, 2)],
    ["fields reordered", (_j, { chainId, ...rest }) => JSON.stringify({ ...rest, chainId })],
    ["a duplicate field", (json) => json.replace("{", '{"load":1,')],
    ["checksummed address", (json) => json.replace(NODE_A.address.toLowerCase(), NODE_A.address)],
    ["uppercase signature hex", (json, r) => json.replace(String(r["signature"]), String(r["signature"]).toUpperCase().replace("0X", "0x"))],
    ["exponent number", (json) => json.replace('"load":2500', '"load":2.5e3')],
    ["leading zero decimal", (json) => json.replace('"seq":"1"', '"seq":"01"')],
    ["number for a decimal string", (json) => json.replace('"seq":"1"', '"seq":1')],
    ["escaped character", (json) => json.replace('"1.0.0"', '"1.0.\\u0030"')],
    ["an extra field", (json) => json.replace("{", '{"extra":0,')],
    ["a missing field", (_j, { version: _v, ...rest }) => JSON.stringify(rest)],
    ["a BOM", (json) => `\ufeff${json}`],
    ["trailing newline", (json) => `${json}\n`],
  ];
  it.each(nonCanonical)("refuses %s as malformed", async (_name, edit) => {
    const signed = await signedRecordOf(NODE_A);
    const json = new TextDecoder().decode(encodeServiceRecord(signed));
    const edited = edit(json, JSON.parse(json) as Record<string, unknown>);
    expect(edited).not.toBe(json);
    expect(await reasonOfSync(() => decodeServiceRecord(encodeJson(edited)))).toBe("malformed");
  });

  it.each<[string, Partial<ServiceRecord>]>([
    ["load above 10000", { load: MAX_LOAD_BPS + 1 }],
    ["negative load", { load: -1 }],
    ["seq above uint64", { seq: 2n ** 64n }],
    ["empty version", { version: "" }],
    ["version with a quote", { version: 'a"b' }],
    ["version with a space", { version: "1.0 beta" }],
    ["non-ASCII version", { version: "1.0-β" }],
    ["multiaddr without a slash", { multiaddrs: ["ip4/1.2.3.4"] }],
    ["17 multiaddrs", { multiaddrs: Array.from({ length: 17 }, (_, i) => `/ip4/10.0.0.${i}/tcp/1`) }],
    ["fractional expiry", { expiresAt: NOW + 0.5 }],
    ["chain id 0", { chainId: 0 }],
  ])("refuses to sign a record with %s", async (_name, overrides) => {
    expect(await reasonOf(signedRecordOf(NODE_A, overrides))).toBe("malformed");
  });

  it("caps the size at 4096 bytes", async () => {
    const multiaddrs = Array.from({ length: 16 }, (_, i) => `/dns4/${"a".repeat(240)}.example/tcp/${i}`);
    expect(await reasonOf(signedRecordOf(NODE_A, { multiaddrs }))).toBe("too-large");
    expect(await reasonOfSync(() => decodeServiceRecord(new Uint8Array(SERVICE_RECORD_MAX_BYTES + 1)))).toBe("too-large");
  });
});

describe("service record: validation", () => {
  it("accepts a fresh record and binds chain id and registry in the EIP-712 domain", async () => {
    const signed = await signedRecordOf(NODE_A);
    expect(serviceRecordTypedData(signed).domain).toEqual({
      name: "DSMP ServiceRecord",
      version: "1",
      chainId: CHAIN_ID,
      verifyingContract: REGISTRY,
    });
    const bytes = encodeServiceRecord(signed);
    const options = { now: NOW, chainId: CHAIN_ID, registry: REGISTRY, expectedKey: serviceRecordKey(signed) };
    expect(await validateServiceRecord(bytes, options)).toEqual(signed);
  });

  it("expires at expiresAt, not a second later", async () => {
    const bytes = encodeServiceRecord(await signedRecordOf(NODE_A, { expiresAt: NOW + 10 }));
    expect(await reasonOf(validateServiceRecord(bytes, { now: NOW + 9 }))).toBe("valid");
    expect(await reasonOf(validateServiceRecord(bytes, { now: NOW + 10 }))).toBe("expired");
    expect(await reasonOf(validateServiceRecord(bytes, { now: NOW + 10_000 }))).toBe("expired");
  });

  it("refuses an expiry further than the maximum lifetime", async () => {
    const bytes = encodeServiceRecord(await signedRecordOf(NODE_A, { expiresAt: NOW + SERVICE_RECORD_MAX_LIFETIME_SECONDS + 1 }));
    expect(await reasonOf(validateServiceRecord(bytes, { now: NOW }))).toBe("expiry-too-far");
    expect(await reasonOf(validateServiceRecord(bytes, { now: NOW + 1 }))).toBe("valid");
  });

  it("refuses other chains and registries when told which to expect", async () => {
    const bytes = encodeServiceRecord(await signedRecordOf(NODE_A));
    expect(await reasonOf(validateServiceRecord(bytes, { now: NOW, chainId: 1 }))).toBe("wrong-chain");
    expect(await reasonOf(validateServiceRecord(bytes, { now: NOW, registry: NODE_B.address }))).toBe("wrong-chain");
    expect(await reasonOf(validateServiceRecord(bytes, { now: NOW, registry: REGISTRY.toUpperCase().replace("0X", "0x") as Hex }))).toBe("valid");
  });

  it("does not verify when replayed on another chain or registry", async () => {
    const signed = await signedRecordOf(NODE_A);
    for (const moved of [{ ...signed, chainId: 1 }, { ...signed, registry: NODE_B.address.toLowerCase() as Hex }]) {
      expect(await reasonOf(validateServiceRecord(encodeServiceRecord(moved), { now: NOW }))).toBe("wrong-signer");
    }
  });

  it("refuses a record under another provider's or service's key", async () => {
    const signed = await signedRecordOf(NODE_A);
    const bytes = encodeServiceRecord(signed);
    for (const key of [
      serviceRecordKey({ ...signed, peerId: NODE_B.peerId.toString() }),
      serviceRecordKey({ ...signed, serviceId: 2n }),
      new TextEncoder().encode("/dsmp/other"),
    ]) {
      expect(await reasonOf(validateServiceRecord(bytes, { now: NOW, expectedKey: key }))).toBe("wrong-key");
    }
  });

  it("refuses a record signed by a key other than node's", async () => {
    const record = recordOf(NODE_A);
    await expect(signServiceRecord(record, NODE_B.account)).rejects.toMatchObject({ reason: "wrong-signer" });
    const signature = await NODE_B.account.signTypedData(serviceRecordTypedData(record));
    const forged = { ...record, registry: REGISTRY, node: record.node.toLowerCase() as Hex, signature };
    expect(await reasonOf(validateServiceRecord(encodeServiceRecord(forged), { now: NOW }))).toBe("wrong-signer");
  });

  it("refuses a PeerId that is not the node key's", async () => {
    const signed = await signedRecordOf(NODE_A, { peerId: NODE_B.peerId.toString() });
    expect(await reasonOf(validateServiceRecord(encodeServiceRecord(signed), { now: NOW }))).toBe("wrong-peer-id");
  });

  it("refuses a malleable high-s twin and out-of-range r or s", async () => {
    const signed = await signedRecordOf(NODE_A);
    const r = signed.signature.slice(2, 66);
    const s = BigInt(`0x${signed.signature.slice(66, 130)}`);
    const v = signed.signature.slice(130) === "1b" ? "1c" : "1b";
    const twin = `0x${r}${numberToHex(SECP256K1_ORDER - s, { size: 32 }).slice(2)}${v}` as Hex;
    const zeroR = `0x${"00".repeat(32)}${signed.signature.slice(66)}` as Hex;
    for (const signature of [twin, zeroR]) {
      const bytes = encodeServiceRecord({ ...signed, signature });
      expect(await reasonOf(validateServiceRecord(bytes, { now: NOW }))).toBe("bad-signature");
    }
  });

  it("hashes the record as EIP-712 typed data over every signed field", async () => {
    const base = recordOf(NODE_A);
    const digests = new Set(
      [
        base,
        { ...base, serviceId: 2n },
        { ...base, multiaddrs: [...base.multiaddrs].reverse() },
        { ...base, multiaddrs: [base.multiaddrs.join("")] },
        { ...base, version: "1.0.1" },
        { ...base, load: 2501 },
        { ...base, pricePerCall: 1n },
        { ...base, seq: 2n },
        { ...base, expiresAt: base.expiresAt + 1 },
        { ...base, chainId: 1 },
        { ...base, registry: NODE_B.address },
        { ...base, peerId: NODE_B.peerId.toString() },
        { ...base, node: NODE_B.address },
      ].map(hashServiceRecord),
    );
    expect(digests.size).toBe(13);
  });
});

describe("service record: selection", () => {
  const candidate = async (overrides: Partial<ServiceRecord>): Promise<ServiceRecordCandidate> => {
    const record = await signedRecordOf(NODE_A, overrides);
    return { record, bytes: encodeServiceRecord(record) };
  };

  it("picks the highest seq whatever the order", async () => {
    const candidates = await Promise.all(
      [3n, 1n, 7n, 2n, 2n ** 64n - 1n, 0n].map((seq, i) => candidate({ seq, expiresAt: NOW + 3600 - i * 60 })),
    );
    fc.assert(
      fc.property(fc.shuffledSubarray(candidates, { minLength: 1 }), (subset) => {
        const best = subset[selectServiceRecord(subset)]!;
        const maxSeq = subset.reduce((m, c) => (c.record.seq > m ? c.record.seq : m), -1n);
        expect(best.record.seq).toBe(maxSeq);
      }),
    );
  });

  it("breaks ties on expiry, then on bytes, deterministically", async () => {
    const sameSeq = await Promise.all([
      candidate({ seq: 5n, expiresAt: NOW + 100, load: 1 }),
      candidate({ seq: 5n, expiresAt: NOW + 200, load: 1 }),
      candidate({ seq: 5n, expiresAt: NOW + 200, load: 9 }),
      candidate({ seq: 5n, expiresAt: NOW + 200, load: 5 }),
    ]);
    const greatestBytes = [sameSeq[1]!, sameSeq[2]!, sameSeq[3]!].sort((a, b) => Buffer.compare(a.bytes, b.bytes)).at(-1)!;
    fc.assert(
      fc.property(fc.shuffledSubarray(sameSeq, { minLength: sameSeq.length, maxLength: sameSeq.length }), (order) => {
        expect(order[selectServiceRecord(order)]).toBe(greatestBytes);
      }),
    );
    expect(selectServiceRecord([sameSeq[0]!, sameSeq[1]!])).toBe(1);
  });

  it("refuses an empty list", () => {
    expect(() => selectServiceRecord([])).toThrow(RangeError);
  });
});
