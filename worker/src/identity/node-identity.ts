/**
 * One secp256k1 key, two worlds: the libp2p PrivateKey and PeerId, and the Ethereum account, all derived
 * from the same 32 bytes (DESIGN §2, docs/protocol.md §1). Pure: no files, no randomness.
 */
import { privateKeyFromRaw, publicKeyFromRaw } from "@libp2p/crypto/keys";
import type { Secp256k1PeerId, Secp256k1PrivateKey } from "@libp2p/interface";
import { peerIdFromPrivateKey, peerIdFromPublicKey } from "@libp2p/peer-id";
import { type Address, bytesToHex, hexToBytes, type PrivateKeyAccount } from "viem";
import { nonceManager, privateKeyToAccount, publicKeyToAddress } from "viem/accounts";
import { IdentityInvalidKeyError } from "../errors.ts";

/** Order of the secp256k1 group: a private key is an integer in [1, n). */
export const SECP256K1_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
export const PRIVATE_KEY_LENGTH = 32;
/** Uncompressed public key without the 0x04 prefix: X || Y, what `XnodeRegistry.register` takes. */
export const NODE_PUBLIC_KEY_LENGTH = 64;
export const COMPRESSED_PUBLIC_KEY_LENGTH = 33;
/**
 * PeerId bytes = identity multihash (0x00, length 0x25) of the libp2p PublicKey protobuf
 * (field 1 KeyType = 2 secp256k1: 0x08 0x02; field 2 Data, 33 bytes: 0x12 0x21) || compressed key.
 */
export const PEER_ID_PREFIX = Uint8Array.of(0x00, 0x25, 0x08, 0x02, 0x12, 0x21);
export const PEER_ID_LENGTH = PEER_ID_PREFIX.length + COMPRESSED_PUBLIC_KEY_LENGTH;

/** Everything a node is, derived from its 32-byte secret. */
export interface NodeIdentity {
  /** libp2p key (pass as `privateKey` to `createLibp2p`). */
  readonly privateKey: Secp256k1PrivateKey;
  readonly peerId: Secp256k1PeerId;
  /** Ethereum address of the node key, checksummed: the node's id on-chain. */
  readonly address: Address;
  /** viem account for EIP-712 signatures and transactions signed by the node key. */
  readonly account: PrivateKeyAccount;
  /** 64 bytes X || Y (no 0x04 prefix), as `XnodeRegistry.register` takes. */
  nodePublicKey64(): Uint8Array;
  /** 33-byte SEC1 compressed public key. */
  compressedPublicKey(): Uint8Array;
  /** The 39 PeerId bytes (`peerId.toMultihash().bytes`), as the registry stores them. */
  peerIdBytes(): Uint8Array;
}

/** `true` when `secret` is 32 bytes encoding an integer in [1, n). */
export function isValidPrivateKey(secret: Uint8Array): boolean {
  if (secret.length !== PRIVATE_KEY_LENGTH) return false;
  const value = BigInt(bytesToHex(secret));
  return value > 0n && value < SECP256K1_ORDER;
}

/**
 * Build the node identity from its 32-byte secp256k1 private key.
 * @throws {IdentityInvalidKeyError} when `secret` is not a valid private key.
 * @example
 * const identity = identityFromPrivateKey(hexToBytes("0xac09…ff80"));
 * identity.peerId.toString(); // "16Uiu2HAm…"
 */
export function identityFromPrivateKey(secret: Uint8Array): NodeIdentity {
  if (!isValidPrivateKey(secret)) {
    throw new IdentityInvalidKeyError("not a secp256k1 private key", {
      details: `expected ${PRIVATE_KEY_LENGTH} bytes encoding an integer in [1, n); got ${secret.length} bytes`,
    });
  }
  const privateKey = privateKeyFromRaw(secret);
  if (privateKey.type !== "secp256k1") {
    throw new IdentityInvalidKeyError(`libp2p read the key as ${privateKey.type}, expected secp256k1`);
  }
  const peerId = peerIdFromPrivateKey(privateKey);
  // viem's shared nonce manager: the node key sends task transactions and usage claims concurrently; it hands
  // out consecutive nonces instead of letting two sends read the same pending count.
  const account = privateKeyToAccount(bytesToHex(secret), { nonceManager });
  const uncompressed = hexToBytes(account.publicKey); // 0x04 || X || Y
  const publicKey64 = uncompressed.slice(1);
  const compressed = compressPublicKey(publicKey64);
  const peerIdBytes = peerIdBytesFromCompressedKey(compressed);
  return {
    privateKey,
    peerId,
    address: account.address,
    account,
    nodePublicKey64: () => publicKey64.slice(),
    compressedPublicKey: () => compressed.slice(),
    peerIdBytes: () => peerIdBytes.slice(),
  };
}

/**
 * SEC1-compress a public key given as 64 bytes X || Y or 65 bytes 0x04 || X || Y:
 * `0x02 | parity(Y)` followed by X.
 */
export function compressPublicKey(publicKey: Uint8Array): Uint8Array {
  const xy = toPublicKey64(publicKey);
  const compressed = new Uint8Array(COMPRESSED_PUBLIC_KEY_LENGTH);
  compressed[0] = 0x02 | ((xy[NODE_PUBLIC_KEY_LENGTH - 1] ?? 0) & 1);
  compressed.set(xy.subarray(0, 32), 1);
  return compressed;
}

/** The 39 PeerId bytes for a 33-byte compressed secp256k1 key. */
export function peerIdBytesFromCompressedKey(compressed: Uint8Array): Uint8Array {
  if (compressed.length !== COMPRESSED_PUBLIC_KEY_LENGTH) {
    throw new IdentityInvalidKeyError(`a compressed public key has ${COMPRESSED_PUBLIC_KEY_LENGTH} bytes, got ${compressed.length}`);
  }
  const bytes = new Uint8Array(PEER_ID_LENGTH);
  bytes.set(PEER_ID_PREFIX, 0);
  bytes.set(compressed, PEER_ID_PREFIX.length);
  return bytes;
}

/** The canonical (base58btc) PeerId string of a public key (64 or 65 bytes uncompressed). */
export function peerIdStringFromPublicKey(publicKey: Uint8Array): string {
  return peerIdFromPublicKey(publicKeyFromRaw(compressPublicKey(publicKey))).toString();
}

/** Ethereum address of a public key (64 or 65 bytes uncompressed), checksummed. */
export function addressFromPublicKey(publicKey: Uint8Array): Address {
  const xy = toPublicKey64(publicKey);
  return publicKeyToAddress(bytesToHex(Uint8Array.of(0x04, ...xy)));
}

function toPublicKey64(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length === NODE_PUBLIC_KEY_LENGTH) return publicKey;
  if (publicKey.length === NODE_PUBLIC_KEY_LENGTH + 1 && publicKey[0] === 0x04) return publicKey.subarray(1);
  throw new IdentityInvalidKeyError(
    `expected an uncompressed public key (64 bytes X || Y, or 65 bytes with 0x04), got ${publicKey.length} bytes`,
  );
}
