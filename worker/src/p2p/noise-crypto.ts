/**
 * Noise's ChaCha20-Poly1305 with a cached key (`noise({ crypto: noiseCrypto })`): same algorithm, same
 * bytes, less CPU per message.
 *
 * `@chainsafe/libp2p-noise` encrypts messages of 1 200 bytes and more with `crypto.createCipheriv(…, k, …)`
 * where `k` is the raw 32-byte session key, so Node imports the key into a new KeyObject for every message:
 * ~23 µs per 1.3 KiB message on the 2-core bench machine, of which ~16 µs is the key import (a KeyObject
 * made once per key: ~7 µs). Smaller messages go through the WebAssembly implementation, which costs ~8 ns
 * per byte and is the cheaper one below ~500 bytes. Here: WebAssembly below {@link NODE_CIPHER_MIN_BYTES},
 * Node's cipher with the key imported once per session key above (a mesh request of 1 KiB is one message of
 * ~1.3 KiB each way, encrypted on one side and decrypted on the other).
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from "node:crypto";
import type { ICryptoInterface } from "@chainsafe/libp2p-noise";
import { defaultCrypto } from "@chainsafe/libp2p-noise/crypto";

/** Messages from this size on use Node's cipher (measured crossover with the WebAssembly one: ~450 bytes). */
export const NODE_CIPHER_MIN_BYTES = 512;

const ALGORITHM = "chacha20-poly1305";
const TAG_BYTES = 16;

type Bytes = Parameters<ICryptoInterface["chaCha20Poly1305Encrypt"]>[0];

/** KeyObjects of the session keys in use, by the key's array (a Noise CipherState keeps one per direction). */
const keyObjects = new WeakMap<Uint8Array, { bytes: Buffer; key: KeyObject }>();

function keyObject(k: Uint8Array): KeyObject {
  const cached = keyObjects.get(k);
  // Keyed by identity; the bytes are compared too, so a key array rewritten in place is never misused.
  if (cached !== undefined && cached.bytes.equals(k)) return cached.key;
  const bytes = Buffer.from(k);
  const key = createSecretKey(bytes);
  keyObjects.set(k, { bytes, key });
  return key;
}

function encrypt(plaintext: Bytes, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array): Uint8Array {
  const cipher = createCipheriv(ALGORITHM, keyObject(k), nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(ad, { plaintextLength: plaintext.byteLength });
  const parts: Uint8Array[] = [];
  if (plaintext instanceof Uint8Array) parts.push(cipher.update(plaintext));
  else for (const buf of plaintext) parts.push(cipher.update(buf));
  parts.push(cipher.final(), cipher.getAuthTag());
  // One buffer: the message goes to the socket in one write (p2p/connection-batching.ts).
  return Buffer.concat(parts, plaintext.byteLength + TAG_BYTES);
}

function decrypt(ciphertext: Bytes, nonce: Uint8Array, ad: Uint8Array, k: Uint8Array): Uint8Array {
  const length = ciphertext.byteLength - TAG_BYTES;
  const decipher = createDecipheriv(ALGORITHM, keyObject(k), nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(ad, { plaintextLength: length });
  decipher.setAuthTag(ciphertext.subarray(length));
  const parts: Uint8Array[] = [];
  if (ciphertext instanceof Uint8Array) parts.push(decipher.update(ciphertext.subarray(0, length)));
  else for (const buf of ciphertext.sublist(0, length)) parts.push(decipher.update(buf));
  parts.push(decipher.final()); // throws when the tag does not match
  return parts.length === 2 && parts[1]!.byteLength === 0 ? parts[0]! : Buffer.concat(parts, length);
}

/** Noise's default crypto with ChaCha20-Poly1305 as described in the module comment. */
export const noiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
    if (plaintext.byteLength < NODE_CIPHER_MIN_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k);
    return encrypt(plaintext, nonce, ad, k);
  },
  chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst) {
    if (ciphertext.byteLength < NODE_CIPHER_MIN_BYTES + TAG_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst);
    return decrypt(ciphertext, nonce, ad, k);
  },
};
