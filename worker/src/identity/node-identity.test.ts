import { peerIdFromString } from "@libp2p/peer-id";
import fc from "fast-check";
import { bytesToHex, hexToBytes, keccak256, numberToBytes, recoverMessageAddress } from "viem";
import { describe, expect, it } from "vitest";
import { IdentityInvalidKeyError } from "../errors.ts";
import {
  addressFromPublicKey,
  compressPublicKey,
  identityFromPrivateKey,
  isValidPrivateKey,
  PEER_ID_LENGTH,
  peerIdStringFromPublicKey,
  SECP256K1_ORDER,
} from "./node-identity.ts";

/** Hardhat / Anvil account #0: a published key, so its derived values can be checked against other tools. */
const HARDHAT_KEY_0 = hexToBytes("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");

const validKey = fc
  .bigInt({ min: 1n, max: SECP256K1_ORDER - 1n })
  .map((value) => numberToBytes(value, { size: 32 }));

describe("identityFromPrivateKey", () => {
  it("derives the well-known address of Hardhat account #0", () => {
    const identity = identityFromPrivateKey(HARDHAT_KEY_0);
    expect(identity.address).toBe("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
  });

  it("lays out the PeerId bytes as 0x00 0x25 0x08 0x02 0x12 0x21 || compressed key", () => {
    fc.assert(
      fc.property(validKey, (secret) => {
        const identity = identityFromPrivateKey(secret);
        const bytes = identity.peerIdBytes();
        expect(bytes).toHaveLength(PEER_ID_LENGTH);
        expect(bytes).toEqual(identity.peerId.toMultihash().bytes);
        expect(bytesToHex(bytes.subarray(0, 6))).toBe("0x002508021221");
        expect(bytes.subarray(6)).toEqual(identity.compressedPublicKey());
        expect(identity.compressedPublicKey()).toEqual(identity.privateKey.publicKey.raw);
      }),
      { numRuns: 50 },
    );
  });

  it("derives address, PeerId and libp2p key from the same 32 bytes", () => {
    fc.assert(
      fc.property(validKey, (secret) => {
        const identity = identityFromPrivateKey(secret);
        const publicKey64 = identity.nodePublicKey64();
        expect(publicKey64).toHaveLength(64);
        // address = last 20 bytes of keccak256(X || Y)
        expect(identity.address.toLowerCase()).toBe(`0x${keccak256(publicKey64).slice(-40)}`);
        expect(addressFromPublicKey(publicKey64)).toBe(identity.address);
        expect(identity.privateKey.raw).toEqual(secret);
        expect(compressPublicKey(publicKey64)).toEqual(identity.compressedPublicKey());
        expect(peerIdStringFromPublicKey(publicKey64)).toBe(identity.peerId.toString());
        // the PeerId string parses back to the same key
        const parsed = peerIdFromString(identity.peerId.toString());
        expect(parsed.type).toBe("secp256k1");
        expect(parsed.publicKey?.raw).toEqual(identity.compressedPublicKey());
      }),
      { numRuns: 50 },
    );
  });

  it("signs with the viem account as the node address", async () => {
    const identity = identityFromPrivateKey(HARDHAT_KEY_0);
    const signature = await identity.account.signMessage({ message: "dsmp" });
    expect(await recoverMessageAddress({ message: "dsmp", signature })).toBe(identity.address);
  });

  it("returns copies, so callers cannot change the identity", () => {
    const identity = identityFromPrivateKey(HARDHAT_KEY_0);
    identity.nodePublicKey64().fill(0);
    identity.peerIdBytes().fill(0);
    expect(identity.nodePublicKey64().some((b) => b !== 0)).toBe(true);
    expect(identity.peerIdBytes()[1]).toBe(0x25);
  });

  it.each([
    ["zero", new Uint8Array(32)],
    ["the group order", numberToBytes(SECP256K1_ORDER, { size: 32 })],
    ["above the order", numberToBytes(SECP256K1_ORDER + 5n, { size: 32 })],
    ["31 bytes", new Uint8Array(31).fill(1)],
    ["33 bytes", new Uint8Array(33).fill(1)],
  ])("rejects %s", (_name, secret) => {
    expect(isValidPrivateKey(secret)).toBe(false);
    expect(() => identityFromPrivateKey(secret)).toThrow(IdentityInvalidKeyError);
  });

  it("accepts the extremes 1 and n − 1", () => {
    for (const value of [1n, SECP256K1_ORDER - 1n]) {
      expect(() => identityFromPrivateKey(numberToBytes(value, { size: 32 }))).not.toThrow();
    }
  });
});
