/**
 * Test vectors of docs/protocol.md. Each value is recomputed here, the EIP-712 hashes a second time by hand
 * (ABI encoding + keccak, without viem's typed-data code), and each must appear verbatim in the document,
 * so the spec and the code cannot drift apart.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { base32 } from "multiformats/bases/base32";
import { bytesToHex, concat, encodeAbiParameters, type Hex, keccak256, toHex } from "viem";
import { describe, expect, it } from "vitest";
import { serviceKeyString, serviceProviderCid, serviceRecordKey } from "./dht-keys.ts";
import {
  encodeServiceRecord,
  hashServiceRecord,
  SERVICE_RECORD_EIP712_TYPES,
  validateServiceRecord,
  type SignedServiceRecord,
} from "./service-record.ts";
import { NODE_A, NOW, signedRecordOf } from "./service-record.fixture.ts";

const V = {
  privateKey: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  nodePublicKey64:
    "0x8318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed753547f11ca8696646f2f3acb08e31016afac23e630c5d11f59f61fef57b0d2aa5",
  compressedPublicKey: "0x038318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed75",
  peerIdBytes: "0x002508021221038318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed75",
  peerId: "16Uiu2HAmMUjGmiUhJeiZgu6ZZnLRkE2VViR2JgjqtW9aTZnHQqgg",
  address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
  typeString:
    "ServiceRecord(uint256 serviceId,address node,string peerId,string[] multiaddrs,string version,uint16 load,uint256 pricePerCall,uint64 seq,uint64 expiresAt)",
  typeHash: "0x64db83af8e03b01172dc9e0e35dcfb26e0f0ff24c9540495a988bfc4bdd6d335",
  domainTypeHash: "0x8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f",
  domainSeparator: "0xcbf10db1b13331f653468e5339bc072f71b2ff1e38d6b61a47482919190e111f",
  multiaddrsHash: "0x03e0063656c1f5559b30ba7a840cda68f812bb8af2f6e00af8bdf97397451ee6",
  structHash: "0xc77379c19c126eba15c9e800bb9e14a562413a8d2982b61b031ed27f45db0a9b",
  digest: "0xba5bb1ffd81988473ce32598cb19de46aaf2a16aa18decc2fdbf068777d5c69c",
  signature:
    "0x1bd3a5fb161e7b33789ce49025608a2a6a27a4193f5bd61f99a45a0e1c5f7a8e191771820363e2a15893a60d3e89ccb98b101569f973031cc119dfa40d60f8731c",
  encoded:
    '{"chainId":31337,"registry":"0x5fbdb2315678afecb367f032d93f642f64180aa3","serviceId":"1","node":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266","peerId":"16Uiu2HAmMUjGmiUhJeiZgu6ZZnLRkE2VViR2JgjqtW9aTZnHQqgg","multiaddrs":["/ip4/127.0.0.1/tcp/4660","/ip4/127.0.0.1/tcp/4661/ws"],"version":"1.0.0","load":2500,"pricePerCall":"1000000000000000","seq":"1","expiresAt":1767229200,"signature":"0x1bd3a5fb161e7b33789ce49025608a2a6a27a4193f5bd61f99a45a0e1c5f7a8e191771820363e2a15893a60d3e89ccb98b101569f973031cc119dfa40d60f8731c"}',
  encodedLength: "520 bytes",
  serviceKeyString: "dsmp/service/31337/0x5fbdb2315678afecb367f032d93f642f64180aa3/1",
  serviceKeySha256: "4b17670a22ea53d94ec8560d65b78fbc90a659119eebd8e9306eb3303bdd87f9",
  providerCidBytes: "0x015512204b17670a22ea53d94ec8560d65b78fbc90a659119eebd8e9306eb3303bdd87f9",
  providerCid: "bafkreiclc5tquixkkpmu5scwbvs3pd54sctfsem65pmosmdowmydxxmh7e",
  recordKey: "/dsmp/service/31337/0x5fbdb2315678afecb367f032d93f642f64180aa3/1/16Uiu2HAmMUjGmiUhJeiZgu6ZZnLRkE2VViR2JgjqtW9aTZnHQqgg",
} as const;

const doc = readFileSync(new URL("../../../docs/protocol.md", import.meta.url), "utf8");
const recordPromise: Promise<SignedServiceRecord> = signedRecordOf(NODE_A);
const keccakUtf8 = (text: string) => keccak256(toHex(text));

/** The EIP-712 struct hash and digest of §3.2, spelled out with ABI encoding and keccak only. */
function digestByHand(record: SignedServiceRecord, domainSeparator: Hex): { structHash: Hex; digest: Hex } {
  const multiaddrsHash = keccak256(concat(record.multiaddrs.map(keccakUtf8)));
  const structHash = keccak256(
    encodeAbiParameters(
      [
        { type: "bytes32" }, { type: "uint256" }, { type: "address" }, { type: "bytes32" }, { type: "bytes32" },
        { type: "bytes32" }, { type: "uint16" }, { type: "uint256" }, { type: "uint64" }, { type: "uint64" },
      ],
      [
        V.typeHash, record.serviceId, record.node, keccakUtf8(record.peerId), multiaddrsHash,
        keccakUtf8(record.version), record.load, record.pricePerCall, record.seq, BigInt(record.expiresAt),
      ],
    ),
  );
  return { structHash, digest: keccak256(concat(["0x1901", domainSeparator, structHash])) };
}

describe("protocol.md test vectors", () => {
  it("identity: key → public key → PeerId → address", () => {
    expect(bytesToHex(NODE_A.privateKey.raw)).toBe(V.privateKey);
    expect(bytesToHex(NODE_A.nodePublicKey64())).toBe(V.nodePublicKey64);
    expect(bytesToHex(NODE_A.compressedPublicKey())).toBe(V.compressedPublicKey);
    expect(bytesToHex(NODE_A.peerIdBytes())).toBe(V.peerIdBytes);
    expect(NODE_A.peerId.toString()).toBe(V.peerId);
    expect(NODE_A.address).toBe(V.address);
    expect(`0x${keccak256(V.nodePublicKey64).slice(-40)}`).toBe(V.address.toLowerCase());
  });

  it("EIP-712: type string, hashes and signature, recomputed by hand", async () => {
    const record = await recordPromise;
    const typeString = `ServiceRecord(${SERVICE_RECORD_EIP712_TYPES.ServiceRecord.map((f) => `${f.type} ${f.name}`).join(",")})`;
    expect(typeString).toBe(V.typeString);
    expect(keccakUtf8(V.typeString)).toBe(V.typeHash);

    const domainTypeHash = keccakUtf8("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    expect(domainTypeHash).toBe(V.domainTypeHash);
    const domainSeparator = keccak256(
      encodeAbiParameters(
        [{ type: "bytes32" }, { type: "bytes32" }, { type: "bytes32" }, { type: "uint256" }, { type: "address" }],
        [domainTypeHash, keccakUtf8("DSMP ServiceRecord"), keccakUtf8("1"), 31337n, record.registry],
      ),
    );
    expect(domainSeparator).toBe(V.domainSeparator);

    const multiaddrsHash = keccak256(concat(record.multiaddrs.map(keccakUtf8)));
    expect(multiaddrsHash).toBe(V.multiaddrsHash);
    const { structHash, digest } = digestByHand(record, domainSeparator);
    expect(structHash).toBe(V.structHash);
    expect(digest).toBe(V.digest);
    expect(hashServiceRecord(record)).toBe(V.digest);
    expect(record.signature).toBe(V.signature);
  });

  it("EIP-712: an empty multiaddrs array hashes to keccak256 of nothing", async () => {
    const record = await signedRecordOf(NODE_A, { multiaddrs: [] });
    const { digest } = digestByHand(record, V.domainSeparator);
    expect(hashServiceRecord(record)).toBe(digest);
  });

  it("wire encoding", async () => {
    const bytes = encodeServiceRecord(await recordPromise);
    expect(new TextDecoder().decode(bytes)).toBe(V.encoded);
    expect(`${bytes.length} bytes`).toBe(V.encodedLength);
    await expect(validateServiceRecord(new TextEncoder().encode(V.encoded), { now: NOW })).resolves.toEqual(await recordPromise);
  });

  it("DHT keys", async () => {
    const record = await recordPromise;
    expect(serviceKeyString(record)).toBe(V.serviceKeyString);
    expect(createHash("sha256").update(V.serviceKeyString).digest("hex")).toBe(V.serviceKeySha256);
    const cid = serviceProviderCid(record);
    expect(bytesToHex(cid.bytes)).toBe(V.providerCidBytes);
    expect(V.providerCidBytes).toBe(`0x01551220${V.serviceKeySha256}`);
    expect(cid.toString()).toBe(V.providerCid);
    expect(base32.encode(cid.bytes)).toBe(V.providerCid);
    expect(new TextDecoder().decode(serviceRecordKey(record))).toBe(V.recordKey);
  });

  it.each(Object.entries(V))("docs/protocol.md states %s verbatim", (_name, value) => {
    expect(doc).toContain(value);
  });
});
