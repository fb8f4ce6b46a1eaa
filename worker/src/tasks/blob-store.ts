/**
 * Content-addressed blob store on disk: `<dir>/<sha256 hex>`, written atomically (temporary file, then
 * rename), verified on every read (a damaged file is deleted and reported missing), size-capped. Holds task
 * modules and inputs this node submitted or fetched, so it serves them to the rest of the committee and
 * never fetches the same module twice.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Hex } from "viem";
import { BlobTooLargeError } from "../errors.ts";

/** Largest blob stored or served: 16 MiB (4 module caps; inputs such as an image or two matrices fit). */
export const BLOB_MAX_BYTES = 16 * 1024 * 1024;

/** sha256 of `bytes` as a 0x-prefixed 32-byte hex string (the on-chain bytes32). */
export function sha256Hex(bytes: Uint8Array): Hex {
  return `0x${createHash("sha256").update(bytes).digest("hex")}`;
}

const HASH_RE = /^0x[0-9a-f]{64}$/;

/** Is `hash` a lowercase 0x-prefixed 32-byte hex string? */
export function isBlobHash(hash: string): hash is Hex {
  return HASH_RE.test(hash);
}

export interface BlobStoreOptions {
  dir: string;
  /** @default {@link BLOB_MAX_BYTES} */
  maxBytes?: number;
}

export interface BlobStore {
  readonly maxBytes: number;
  /** Stores `bytes`, returns their sha256. @throws {BlobTooLargeError} */
  put(bytes: Uint8Array): Promise<Hex>;
  /** The blob with this hash, or `undefined`. */
  get(hash: Hex): Promise<Uint8Array | undefined>;
  has(hash: Hex): Promise<boolean>;
}

export function createBlobStore(options: BlobStoreOptions): BlobStore {
  const maxBytes = options.maxBytes ?? BLOB_MAX_BYTES;
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const pathOf = (hash: Hex) => {
    const h = hash.toLowerCase();
    if (!isBlobHash(h)) throw new TypeError(`not a sha256 hash: ${hash}`);
    return join(options.dir, h.slice(2));
  };
  return {
    maxBytes,
    async put(bytes) {
      if (bytes.length > maxBytes) throw new BlobTooLargeError(bytes.length, maxBytes);
      const hash = sha256Hex(bytes);
      const path = pathOf(hash);
      const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
      await writeFile(tmp, bytes, { mode: 0o600 });
      await rename(tmp, path);
      return hash;
    },
    async get(hash) {
      const path = pathOf(hash);
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
      if (sha256Hex(bytes) !== hash.toLowerCase()) {
        await rm(path, { force: true });
        return undefined;
      }
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    },
    async has(hash) {
      try {
        return (await stat(pathOf(hash))).isFile();
      } catch {
        return false;
      }
    },
  };
}
